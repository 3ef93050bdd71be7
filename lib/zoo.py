"""Trained models on demand: each function trains a model once and then loads it from
the cache, so several notebooks can share the same model without retraining."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from lib import cache, data, models, train
from lib.utils import seed_everything


@dataclass(frozen=True)
class AERecipe:
    """Everything that determines a trained conv auto-encoder (and so its cache key)."""

    latent_dim: int
    num_conv_layers: int = 3
    base_channels: int = 16
    hidden_units: int = 256
    seed: int = 0
    num_epochs: int = 6
    train_size: int = 60000
    batch_size: int = 128
    learning_rate: float = 3e-3
    noise_std: float = 0.0

    def label(self) -> str:
        return f"AE d={self.latent_dim} L={self.num_conv_layers} seed={self.seed}"


def ae_recipe(cfg, **changes) -> AERecipe:
    """The recipe a notebook's resolved parameters describe, with ``changes`` applied."""
    base = {
        "latent_dim": cfg.latent_dim,
        "num_conv_layers": cfg.num_conv_layers,
        "base_channels": cfg.base_channels,
        "seed": cfg.seed,
        "num_epochs": cfg.num_epochs,
        "train_size": cfg.train_size,
        "batch_size": cfg.batch_size,
        "learning_rate": cfg.learning_rate,
    }
    base.update(changes)
    return AERecipe(**base)


def mnist_images(split: str, size: int | None = None, pad: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Float images (N, 1, 28+2*pad, 28+2*pad) in [0, 1] and labels; ``size`` takes the
    first N of a fixed shuffle (the same N images for every model)."""
    split_data = data.load_split(split)
    if size is None or size >= len(split_data):
        idx = torch.arange(len(split_data))
    else:
        idx = data.subset_indices(len(split_data), size, seed=0)
    return data.to_float(split_data.images[idx], pad=pad), split_data.labels[idx]


# What defines a trained model besides its configuration (part of its cache key).
_DATA_CODE = (data.to_float, data.subset_indices, data.batch_indices, data.load_split, mnist_images)
AE_CODE = (
    models.ConvEncoder,
    models.ConvDecoder,
    models.ConvAutoencoder,
    models.conv_channels,
    train.fit_autoencoder,
    train.train_epoch,
    train.reconstruction_loss,
    *_DATA_CODE,
)
JUDGE_CODE = (models.DigitClassifier, train.fit_classifier, train.train_epoch, *_DATA_CODE)


def autoencoder(recipe: AERecipe, device: torch.device, test_size: int = 10000) -> tuple[models.ConvAutoencoder, dict]:
    """A trained :class:`~lib.models.ConvAutoencoder` (cached) and its training history."""

    def build():
        seed_everything(recipe.seed)  # same seed -> same initial weights
        return models.ConvAutoencoder(recipe.latent_dim, recipe.num_conv_layers, recipe.base_channels, recipe.hidden_units)

    def fit(model):
        train_x, _ = mnist_images("train", recipe.train_size)
        test_x, _ = mnist_images("test", test_size)
        return train.fit_autoencoder(
            model,
            train_x,
            test_x,
            num_epochs=recipe.num_epochs,
            batch_size=recipe.batch_size,
            learning_rate=recipe.learning_rate,
            seed=recipe.seed,
            device=device,
            name=recipe.label(),
            noise_std=recipe.noise_std,
        )

    config = {**asdict(recipe), "test_size": test_size}
    model, history = cache.load_or_train("conv_autoencoder", config, build, fit, device, code=AE_CODE, label=recipe.label())
    return model.eval(), history


def judge(device: torch.device, num_epochs: int = 3, seed: int = 0, train_size: int = 60000) -> models.DigitClassifier:
    """The small CNN digit classifier used only to measure images (trained on the first
    ``train_size`` training images of the fixed shuffle, cached)."""

    def build():
        seed_everything(seed)
        return models.DigitClassifier()

    def fit(model):
        train_x, train_y = mnist_images("train", train_size, pad=0)
        test_x, test_y = mnist_images("test", pad=0)
        return train.fit_classifier(
            model,
            train_x,
            train_y,
            num_epochs=num_epochs,
            batch_size=128,
            learning_rate=2e-3,
            seed=seed,
            device=device,
            name="judge CNN",
            test_images=test_x,
            test_labels=test_y,
        )

    config = {"num_epochs": num_epochs, "seed": seed, "train_size": train_size}
    model, _ = cache.load_or_train("judge", config, build, fit, device, code=JUDGE_CODE, label="judge CNN")
    return model.eval()
