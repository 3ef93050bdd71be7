"""The models each nn4i_ex2 notebook needs, for the build to train before it starts them."""

from __future__ import annotations

from functools import partial

from lib import zoo
from lib.cache import ModelTarget
from lib.nn4i_ex2 import experiments, transfer
from lib.nn4i_ex2.models import AERecipe, autoencoder, recipe

# First guesses of the training rates on one core (bfloat16, the other core busy), measured
# here; a build replaces them by what it measured.
AE_IMAGES_PER_SECOND = 5000
JUDGE_IMAGES_PER_SECOND = 10000
FEW_LABEL_SECONDS_PER_STEP = 0.006  # one optimizer step of a Q4 classifier (batch 128), averaged over the schemes


# Seconds of each notebook's own work in the full profile (one core, its models loaded),
# measured here: the build's first guess for a notebook until a build has timed it.
NOTEBOOK_SECONDS = {
    "q4_transfer": 20.0,
    "q1_autoencoding": 40.0,
}


def _autoencoder(spec: AERecipe) -> ModelTarget:
    return ModelTarget(partial(autoencoder, spec), spec.num_epochs * spec.train_size / AE_IMAGES_PER_SECOND)


def judge_target(profile: str) -> ModelTarget:
    epochs, size = experiments.JUDGE_EPOCHS[profile], recipe(profile).train_size
    return ModelTarget(partial(zoo.judge, num_epochs=epochs, train_size=size), epochs * size / JUDGE_IMAGES_PER_SECOND)


def model_targets(notebook: str, cfg) -> list[ModelTarget]:
    """The cached models notebook ``notebook`` loads under settings ``cfg``."""
    recipes = {
        "q1_autoencoding": experiments.q1_recipes,
        "q2_interpolation": experiments.q2_recipes,
        "q3_decorrelation": experiments.q3_recipes,
        "q4_transfer": experiments.q4_recipes,
    }
    if notebook not in recipes:
        return []
    autoencoders = {spec: _autoencoder(spec) for spec in dict.fromkeys(recipes[notebook](cfg))}
    found = list(autoencoders.values())
    if notebook == "q4_transfer":  # the few-label classifiers, each group after its encoder's auto-encoder
        for runs in experiments.q4_headline_runs(cfg) + experiments.q4_curve_runs(cfg):
            needs = () if runs.scheme == transfer.SCRATCH else (autoencoders[runs.encoder],)
            estimate = len(runs.draws) * runs.num_steps * FEW_LABEL_SECONDS_PER_STEP
            found.append(ModelTarget(partial(transfer.few_label_runs, runs), estimate, needs=needs))
    return found + ([judge_target(cfg.profile)] if notebook == "q2_interpolation" else [])
