from __future__ import annotations

import pytest
import torch

from lib import models


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
@pytest.mark.parametrize("latent_dim", [2, 10])
def test_autoencoder_shapes(layers, latent_dim):
    model = models.ConvAutoencoder(latent_dim, layers, base_channels=4, hidden_units=16)
    images = torch.rand(5, 1, 32, 32)
    codes = model.encoder(images)
    assert codes.shape == (5, latent_dim)
    out = model.decoder(codes)
    assert out.shape == (5, 1, 32, 32) and out.min() >= 0 and out.max() <= 1


def test_encoder_uses_strided_convolutions_not_pooling():
    encoder = models.ConvEncoder(10, 3, 8)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in encoder.modules())
    assert [m.stride for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)] == [(2, 2)] * 3
    decoder = models.ConvDecoder(10, 3, 8)
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in decoder.modules()) == 3
    assert isinstance(list(decoder.modules())[-1], torch.nn.Sigmoid)


def test_more_layers_rejected():
    with pytest.raises(ValueError, match="num_conv_layers"):
        models.ConvEncoder(10, 5, 8)


def test_frozen_encoder_gets_no_gradient_and_stays_in_eval():
    encoder = models.ConvEncoder(8, 2, 4, 16)
    model = models.EncoderClassifier(encoder, models.MLPHead(8, 16), freeze_encoder=True)
    model.train()
    assert not encoder.training
    model(torch.rand(4, 1, 32, 32)).sum().backward()
    assert all(p.grad is None for p in encoder.parameters())
    assert all(p.grad is not None for p in model.head.parameters())


def test_freeze_batchnorm_keeps_statistics():
    encoder = models.ConvEncoder(8, 2, 4, 16)
    model = models.EncoderClassifier(encoder, models.MLPHead(8, 16), freeze_encoder=False, freeze_batchnorm=True)
    model.train()
    before = [b.running_mean.clone() for b in encoder.modules() if isinstance(b, torch.nn.BatchNorm2d)]
    model(torch.rand(4, 1, 32, 32) * 5).sum().backward()
    after = [b.running_mean for b in encoder.modules() if isinstance(b, torch.nn.BatchNorm2d)]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert all(p.grad is not None for p in encoder.parameters())


def test_digit_classifier_shapes():
    judge = models.DigitClassifier()
    images = torch.rand(3, 1, 28, 28)
    assert judge(images).shape == (3, 10) and judge.features(images).shape == (3, 128)


def test_mlp_head_linear_option():
    assert isinstance(models.MLPHead(10, 0).net, torch.nn.Linear)
    assert models.MLPHead(10, 32)(torch.rand(2, 10)).shape == (2, 10)
