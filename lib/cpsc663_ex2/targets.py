"""The models each cpsc663_ex2 notebook needs, for the build to train before it starts them."""

from __future__ import annotations

from functools import partial

from lib.cache import ModelTarget
from lib.cpsc663_ex2 import P5Settings, experiments, models

# First guesses of the training rates on one core (bfloat16, the other core busy), measured
# here; a build replaces them by what it measured.
IMAGES_PER_SECOND = {"cnn": 11000, "mlp": 12000, "linear": 12000, "conv": 11000, "conv_skip": 10000, "judge": 10000}


# Seconds of each notebook's own work in the full profile (one core, its models loaded),
# measured here: the build's first guess for a notebook until a build has timed it.
NOTEBOOK_SECONDS = {
    "p6_conv_autoencoders": 90.0,
    "p5_autoencoders": 15.0,
}


def _cnn(recipe: models.CNNRecipe) -> ModelTarget:
    return ModelTarget(partial(models.cnn, recipe), recipe.num_epochs * recipe.train_size / IMAGES_PER_SECOND["cnn"])


def _autoencoder(recipe: models.AERecipe) -> ModelTarget:
    seconds = recipe.num_epochs * recipe.train_size / IMAGES_PER_SECOND[recipe.kind]
    return ModelTarget(partial(models.autoencoder, recipe), seconds)


def _judge(profile: str) -> ModelTarget:
    epochs, size = experiments.JUDGE_SETTINGS[profile]
    return ModelTarget(partial(experiments._judge, profile), epochs * size / IMAGES_PER_SECOND["judge"])


def model_targets(notebook: str, cfg) -> list[ModelTarget]:
    """The cached models notebook ``notebook`` loads under settings ``cfg``."""
    if notebook == "p4_cnn":
        return [_cnn(recipe) for recipe in models.cnn_recipes(cfg)]
    if notebook == "p5_autoencoders":
        return [_judge(cfg.profile)] + [_autoencoder(r) for r in models.linear_recipes(cfg) + models.mlp_recipes(cfg)]
    if notebook == "p6_conv_autoencoders":  # also scores Problem 5's MLP auto-encoders, from the cache
        p5 = P5Settings.check("cpsc663_ex2/p5_autoencoders", {"profile": cfg.profile})
        conv = [r for runs in models.conv_recipes(cfg).values() for r in runs]
        return [_judge(cfg.profile)] + [_autoencoder(r) for r in conv + models.mlp_recipes(p5)]
    return []
