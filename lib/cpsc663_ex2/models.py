"""The trained models of this assignment, built from the hand-in scripts' own classes and
training loops and cached: a notebook that needs a model trains it once, every later call
(from any notebook) loads it.  The cache key covers this module and the scripts."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from lib import cache, data, precision
from lib.cpsc663_ex2.prob4_CNN import FilterCNN, train_classifier
from lib.cpsc663_ex2.prob5_AE import LinearAutoencoder, MLPAutoencoder, train_autoencoder
from lib.cpsc663_ex2.prob6_CAE import ConvAutoencoder
from lib.utils import seed_everything

AE_KINDS = ("mlp", "linear", "conv", "conv_skip")
NEIGHBOUR_IMAGES = 10000  # training images whose codes are the neighbours of the 5-NN score


def mnist(split: str, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """28x28 float images in [0, 1] and labels; ``size`` takes the first N of a fixed shuffle."""
    images = data.load_split(split)
    idx = torch.arange(len(images)) if size is None or size >= len(images) else data.subset_indices(len(images), size, seed=0)
    return data.to_float(images.images[idx]), images.labels[idx]


@dataclass(frozen=True)
class CNNRecipe:
    seed: int
    num_epochs: int
    batch_size: int
    learning_rate: float
    num_filters: int
    train_size: int


@dataclass(frozen=True)
class AERecipe:
    kind: str  # one of AE_KINDS
    seed: int
    num_epochs: int
    batch_size: int
    learning_rate: float
    train_size: int
    latent_dim: int = 2
    hidden: tuple[int, ...] = (512, 256, 128)  # mlp only
    noise_std: float = 0.0  # > 0: a denoising auto-encoder

    def label(self) -> str:
        return f"{self.kind} AE d={self.latent_dim} seed={self.seed}" + (f" noise={self.noise_std}" if self.noise_std else "")

    def build(self) -> nn.Module:
        if self.kind == "mlp":
            return MLPAutoencoder(self.latent_dim, self.hidden)
        if self.kind == "linear":
            return LinearAutoencoder(self.latent_dim)
        return ConvAutoencoder(self.latent_dim, skip=self.kind == "conv_skip")


def _log(label: str):
    return lambda line: print(f"[{label}] {line}", flush=True)


def cnn(recipe: CNNRecipe, device: torch.device) -> tuple[FilterCNN, dict]:
    """The Problem-4 CNN of ``recipe`` (cached), in eval mode."""

    def build():
        seed_everything(recipe.seed)
        return FilterCNN(recipe.num_filters)

    def fit(model):
        train_x, train_y = mnist("train", recipe.train_size)
        test_x, test_y = mnist("test")
        return train_classifier(
            model, train_x, train_y, num_epochs=recipe.num_epochs, batch_size=recipe.batch_size,
            learning_rate=recipe.learning_rate, seed=recipe.seed, device=device, test_images=test_x,
            test_labels=test_y, log=_log(f"CNN seed={recipe.seed}"), autocast_dtype=precision.autocast_dtype(),
        )  # fmt: skip

    model, history = cache.load_or_train("cpsc_cnn", asdict(recipe), build, fit, device, label=f"CNN seed={recipe.seed}")
    return model.eval(), history


def autoencoder(recipe: AERecipe, device: torch.device) -> tuple[nn.Module, dict]:
    """The auto-encoder of ``recipe`` (cached), in eval mode; its history has the per-epoch
    ``train_mse`` (running mean), ``test_mse`` (on the fixed noisy test copy for a denoiser) and ``seconds``."""
    if recipe.kind not in AE_KINDS:
        raise ValueError(f"unknown auto-encoder kind {recipe.kind!r}; fix: use one of {AE_KINDS}")

    def build():
        seed_everything(recipe.seed)
        return recipe.build()

    def fit(model):
        train_x, _ = mnist("train", recipe.train_size)
        test_x, _ = mnist("test")
        return train_autoencoder(
            model, train_x, num_epochs=recipe.num_epochs, batch_size=recipe.batch_size,
            learning_rate=recipe.learning_rate, seed=recipe.seed, device=device, noise_std=recipe.noise_std,
            test_images=test_x, log=_log(recipe.label()), autocast_dtype=precision.autocast_dtype(),
        )  # fmt: skip

    model, history = cache.load_or_train("cpsc_autoencoder", asdict(recipe), build, fit, device, label=recipe.label())
    return model.eval(), history


def cnn_recipes(cfg) -> list[CNNRecipe]:
    """Problem 4's networks, one per training seed (``cfg``: P4Settings)."""
    return [
        CNNRecipe(seed, cfg.num_epochs, cfg.batch_size, cfg.learning_rate, cfg.num_filters, cfg.train_size) for seed in cfg.seeds
    ]


def mlp_recipes(cfg) -> list[AERecipe]:
    """Problem 5.4's 2-D auto-encoders, one per training seed (``cfg``: P5Settings)."""
    return [
        AERecipe(
            "mlp",
            seed,
            cfg.num_epochs,
            cfg.batch_size,
            cfg.learning_rate,
            cfg.train_size,
            cfg.latent_dim,
            tuple(cfg.hidden_sizes),
        )  # fmt: skip
        for seed in cfg.seeds
    ]


def linear_recipes(cfg) -> list[AERecipe]:
    """Problem 5.3's linear auto-encoders, one per code size, first seed (``cfg``: P5Settings)."""
    return [
        AERecipe("linear", cfg.seeds[0], cfg.linear_epochs, cfg.batch_size, cfg.linear_learning_rate, cfg.train_size, k)
        for k in cfg.linear_latent_dims
    ]


# Problem 6's four variants: 6.1, 6.2, and both again as denoisers (6.3).
CONV_VARIANTS = {"6.1": ("conv", False), "6.2": ("conv_skip", False), "6.3": ("conv", True), "6.3 skips": ("conv_skip", True)}


def conv_recipes(cfg) -> dict[str, list[AERecipe]]:
    """Every convolutional auto-encoder of 6.1-6.3 by variant, one per training seed (``cfg``: P6Settings)."""
    return {
        variant: [
            AERecipe(
                kind,
                seed,
                cfg.num_epochs,
                cfg.batch_size,
                cfg.learning_rate,
                cfg.train_size,
                noise_std=cfg.noise_std if noisy else 0.0,
            )  # fmt: skip
            for seed in cfg.seeds
        ]
        for variant, (kind, noisy) in CONV_VARIANTS.items()
    }
