from __future__ import annotations

import pytest
import torch

from lib import models
from lib.nn4i_ex2 import models as nn4i_models


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
@pytest.mark.parametrize("latent_dim", [2, 10])
def test_autoencoder_maps_28x28_images_to_28x28_images(layers, latent_dim):
    """nn4i_ex2's conv AE takes and returns MNIST's 28x28 (the 32x32 padding stays inside)."""
    model = nn4i_models.ConvAutoencoder(latent_dim, layers, base_channels=4, hidden_units=16)
    images = torch.rand(5, 1, 28, 28)
    codes = model.encoder(images)
    assert codes.shape == (5, latent_dim)
    out = model.decoder(codes)
    assert out.shape == (5, 1, 28, 28) and out.min() >= 0 and out.max() <= 1
    assert model(images).shape == (5, 1, 28, 28)


def test_encoder_uses_strided_convolutions_not_pooling():
    encoder = nn4i_models.ConvEncoder(10, 3, 8)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in encoder.modules())
    assert [m.stride for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)] == [(2, 2)] * 3
    decoder = nn4i_models.ConvDecoder(10, 3, 8)
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in decoder.modules()) == 3
    assert isinstance(decoder.upsample[-2], models.SubpixelConvTranspose2d)  # the one-channel layer
    assert isinstance(list(decoder.modules())[-1], torch.nn.Sigmoid)


def test_more_layers_rejected():
    with pytest.raises(ValueError, match="num_conv_layers"):
        nn4i_models.ConvEncoder(10, 5, 8)


@pytest.mark.parametrize("layers", [1, 2, 4])
def test_matched_hidden_units_holds_the_parameter_count_within_two_percent(layers):
    """The parameter-matched depth sweep: the FC width found gives about the default model's size."""

    def size(depth, width):
        return models.count_parameters(nn4i_models.ConvAutoencoder(10, depth, 8, width))

    target = size(3, 256)
    width = nn4i_models.matched_hidden_units(layers, target, latent_dim=10, base_channels=8)
    assert width >= 1
    assert abs(size(layers, width) - target) <= 0.02 * target, (layers, width, size(layers, width), target)


def test_matched_hidden_units_finds_the_default_width_at_the_default_depth():
    target = models.count_parameters(nn4i_models.ConvAutoencoder(10, 3, 8, 256))
    assert nn4i_models.matched_hidden_units(3, target, latent_dim=10, base_channels=8) == 256


def test_frozen_encoder_gets_no_gradient_and_stays_in_eval():
    encoder = nn4i_models.ConvEncoder(8, 2, 4, 16)
    model = models.EncoderClassifier(encoder, models.MLPHead(8, 16), freeze_encoder=True)
    model.train()
    assert not encoder.training
    model(torch.rand(4, 1, 28, 28)).sum().backward()
    assert all(p.grad is None for p in encoder.parameters())
    assert all(p.grad is not None for p in model.head.parameters())


def test_freeze_batchnorm_keeps_statistics():
    encoder = nn4i_models.ConvEncoder(8, 2, 4, 16)
    model = models.EncoderClassifier(encoder, models.MLPHead(8, 16), freeze_encoder=False, freeze_batchnorm=True)
    model.train()
    before = [b.running_mean.clone() for b in encoder.modules() if isinstance(b, torch.nn.BatchNorm2d)]
    model(torch.rand(4, 1, 28, 28) * 5).sum().backward()
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


def test_architecture_rows_describe_every_weighted_layer_in_words():
    from lib.plots import architecture_rows

    model = nn4i_models.ConvAutoencoder(4, 2, base_channels=2, hidden_units=8)
    rows = architecture_rows(model, (1, 28, 28))
    weighted = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d | torch.nn.Linear)]
    assert len(rows) == len(weighted)
    assert rows[0][:3] == ["encoder", "conv 1 → 2, 4×4, stride 2, batch norm, ReLU", "2×16×16"]
    assert rows[-1][0] == "decoder" and rows[-1][1].endswith("sigmoid")
    assert sum(int(r[3].replace(",", "")) for r in rows) == models.count_parameters(model)
    assert not any("." in r[0] for r in rows)  # parts, not module paths


@pytest.mark.parametrize("out_channels", [1, 3])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_subpixel_transposed_conv_is_the_transposed_conv_it_replaces(out_channels, layout):
    """Same parameters (state dict), same output and same gradients as nn.ConvTranspose2d(4, 2, 1)."""
    torch.manual_seed(0)
    reference = torch.nn.ConvTranspose2d(5, out_channels, kernel_size=4, stride=2, padding=1)
    subpixel = models.SubpixelConvTranspose2d(5, out_channels)
    subpixel.load_state_dict(reference.state_dict())
    assert list(subpixel.state_dict()) == ["weight", "bias"]
    inputs = torch.randn(3, 5, 6, 7).contiguous(memory_format=layout)
    expected, got = reference(inputs), subpixel(inputs)
    assert got.shape == expected.shape == (3, out_channels, 12, 14)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    weights = torch.randn_like(expected)
    (expected * weights).sum().backward()
    (got * weights).sum().backward()
    torch.testing.assert_close(subpixel.weight.grad, reference.weight.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(subpixel.bias.grad, reference.bias.grad, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="output_size"):
        subpixel(inputs, output_size=[12, 14])


def test_digit_classifier_pools_before_its_relu_and_that_is_the_same_function():
    torch.manual_seed(0)
    features = torch.randn(4, 8, 28, 28)
    pool, relu = torch.nn.MaxPool2d(2), torch.nn.ReLU()
    torch.testing.assert_close(relu(pool(features)), pool(relu(features)), atol=0, rtol=0)
    kinds = [type(m) for m in models.DigitClassifier().body]
    assert kinds[:6] == [torch.nn.Conv2d, torch.nn.MaxPool2d, torch.nn.ReLU] * 2
