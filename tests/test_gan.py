"""Shapes of the course auto-encoder and the latent GANs; a GAN trains and its saved
sampler reproduces its images."""

from __future__ import annotations

import pytest
import torch

from lib import train
from lib.idl_ex3 import gan
from lib.idl_ex3.autoencoder import CourseAutoencoder, CourseDecoder, CourseEncoder


def test_course_autoencoder_shapes():
    model = CourseAutoencoder()
    images = torch.rand(3, 1, 32, 32)
    features = model.encoder.features(images)
    assert features.shape == (3, 96, 2, 2)  # 32 -> 16 -> 8 -> 4 -> 2, flatten to 384
    codes = model.encoder(images)
    assert codes.shape == (3, 64)
    out = model.decoder(codes)
    assert out.shape == (3, 1, 32, 32) and out.min() >= 0 and out.max() <= 1


def test_course_encoder_matches_the_handout():
    encoder = CourseEncoder()
    convs = [m for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 96]
    assert [c.kernel_size for c in convs] == [(4, 4), (3, 3), (3, 3), (3, 3)]
    assert all(c.stride == (2, 2) for c in convs)
    assert encoder.to_latent.in_features == 384 and encoder.to_latent.out_features == 64
    decoder = CourseDecoder()
    ups = [m for m in decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [u.out_channels for u in ups] == [64, 32, 16, 1]
    assert isinstance(list(decoder.modules())[-1], torch.nn.Sigmoid)


@pytest.mark.parametrize("output", ["linear", "range"])
def test_generator_and_discriminator_shapes(output):
    generator = gan.LatentGenerator(noise_dim=32, latent_dim=64, hidden_units=(16, 16), output=output)
    codes = generator(torch.randn(5, 32))
    assert codes.shape == (5, 64)
    discriminator = gan.LatentDiscriminator(64, (16,))
    assert discriminator(codes).shape == (5,)


def test_range_output_stays_in_the_codes_range():
    real = torch.randn(200, 8) * 3 + 1
    generator = gan.LatentGenerator(4, 8, (16,), output="range")
    generator.set_code_statistics(real)
    fake = generator(torch.randn(300, 4) * 50)  # even extreme noise
    assert (fake >= real.min(0).values - 1e-5).all() and (fake <= real.max(0).values + 1e-5).all()


def test_conditional_models_need_and_use_labels():
    generator = gan.LatentGenerator(32, 64, (16,), num_classes=10)
    labels = torch.tensor([0, 3, 9])
    codes = generator(torch.randn(3, 32), labels)
    assert codes.shape == (3, 64)
    discriminator = gan.LatentDiscriminator(64, (16,), num_classes=10)
    logits, classes = discriminator.scores(codes, labels)
    assert logits.shape == (3,) and classes.shape == (3, 10)
    with pytest.raises(ValueError, match="conditional"):
        generator(torch.randn(3, 32))


def test_gan_trains_one_epoch_and_sampler_round_trips(tmp_path, capsys):
    torch.manual_seed(0)
    codes = torch.randn(64, 8) * 2 + 1
    labels = torch.arange(64) % 10
    generator = gan.LatentGenerator(4, 8, (16,), num_classes=10)
    pair = gan.GANPair(generator, gan.LatentDiscriminator(8, (16,), num_classes=10))
    history = gan.fit_gan(
        pair, codes, labels, num_epochs=2, batch_size=16, learning_rate=1e-3, seed=0, device=torch.device("cpu"), name="tiny"
    )
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[tiny]")]
    assert len(lines) == 2 and len(history["d_loss"]) == 2
    assert torch.allclose(generator.code_mean, codes.mean(0))
    decoder = CourseDecoder(latent_dim=8, channels=(2, 2, 2, 4))
    path = gan.save_sampler(tmp_path / "g.pt", generator, decoder, {"latent_dim": 8, "channels": (2, 2, 2, 4)})
    sample = gan.load_sampler(path)
    images = sample(6, labels=[1] * 6, seed=3)
    assert images.shape == (6, 1, 28, 28) and sample.conditional
    expected = gan.sample_images(generator, decoder, 6, torch.device("cpu"), seed=3, labels=torch.ones(6, dtype=torch.long))
    assert torch.allclose(images, expected[..., 2:30, 2:30])
    assert gan.load_sampler(path, image_size=32)(2, labels=[0, 1]).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="conditional"):
        sample(2)


def test_non_finite_loss_stops_training():
    codes = torch.full((32, 4), float("nan"))
    pair = gan.GANPair(gan.LatentGenerator(2, 4, (8,)), gan.LatentDiscriminator(4, (8,)))
    with pytest.raises(train.TrainingError, match="loss is"):
        gan.fit_gan(pair, codes, num_epochs=1, batch_size=8, learning_rate=1e-3, seed=0, device=torch.device("cpu"), name="nan")


def test_packed_discriminator_scores_groups_of_codes():
    discriminator = gan.LatentDiscriminator(8, (16,), pack=2)
    assert discriminator(torch.randn(7, 8)).shape == (3,)  # 7 codes -> 3 pairs, the odd one left out
    with pytest.raises(ValueError, match="unconditional"):
        gan.LatentDiscriminator(8, (16,), num_classes=10, pack=2)
