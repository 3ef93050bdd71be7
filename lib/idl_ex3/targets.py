"""The models each idl_ex3 notebook needs, for the build to train before it starts them."""

from __future__ import annotations

from functools import partial

from lib import zoo
from lib.cache import ModelTarget
from lib.idl_ex3 import autoencoder, gan, semi_supervised
from lib.idl_ex3.p2_latent_gan import DESIGNS

# First guesses of one-core training times (bfloat16 where it pays, the other core busy),
# measured here; a build replaces them by what it measured.
AE_IMAGES_PER_SECOND = 4500
JUDGE_IMAGES_PER_SECOND = {"judge": 10000, "second_judge": 6000}
GAN_SECONDS_PER_EPOCH = {"full": 1.5, "quick": 0.5, "smoke": 0.2}
SELF_TRAINING_SECONDS = {"full": 140.0, "quick": 20.0, "smoke": 3.0}


# Seconds of each notebook's own work in the full profile (one core, its models loaded),
# measured here: the build's first guess for a notebook until a build has timed it.
NOTEBOOK_SECONDS = {
    "p1_transfer": 110.0,
    "p2_latent_gan": 70.0,
    "p3_interpolation": 40.0,
    "p4_conditional_gan": 40.0,
}


def _course_autoencoder(profile: str) -> ModelTarget:
    recipe = autoencoder.recipe(profile)
    fetch = partial(autoencoder.course_autoencoder, recipe, test_size=autoencoder.TEST_IMAGES[profile])
    return ModelTarget(fetch, recipe.num_epochs * recipe.train_size / AE_IMAGES_PER_SECOND)


def _judges(profile: str) -> list[ModelTarget]:
    (epochs, size), (epochs2, size2) = autoencoder.JUDGE[profile], autoencoder.SECOND_JUDGE[profile]
    return [
        ModelTarget(partial(zoo.judge, num_epochs=epochs, train_size=size), epochs * size / JUDGE_IMAGES_PER_SECOND["judge"]),
        ModelTarget(
            partial(zoo.second_judge, num_epochs=epochs2, train_size=size2),
            epochs2 * size2 / JUDGE_IMAGES_PER_SECOND["second_judge"],
        ),
    ]


def _gan(profile: str, recipe: gan.GANRecipe, ae: ModelTarget) -> ModelTarget:
    fetch = partial(gan.latent_gan, recipe, autoencoder.recipe(profile), test_size=autoencoder.TEST_IMAGES[profile])
    return ModelTarget(fetch, 10 + recipe.num_epochs * GAN_SECONDS_PER_EPOCH[profile], needs=(ae,))


def model_targets(notebook: str, cfg) -> list[ModelTarget]:
    """The cached models notebook ``notebook`` loads under settings ``cfg``."""
    profile = cfg.profile
    if notebook == "00_theory":
        return []
    ae = _course_autoencoder(profile)
    found = [ae, *_judges(profile)]
    if notebook == "p1_transfer":
        recipe, ae_recipe = semi_supervised.recipe(profile), autoencoder.recipe(profile)
        test_size = autoencoder.TEST_IMAGES[profile]
        for draw in range(cfg.num_draws):
            fetch = partial(semi_supervised.self_trained_classifier, recipe, draw, ae_recipe, test_size=test_size)
            found.append(ModelTarget(fetch, SELF_TRAINING_SECONDS[profile], needs=(ae,)))
    elif notebook in ("p2_latent_gan", "p3_interpolation"):
        found += [_gan(profile, gan.gan_recipe(profile, design, seed), ae) for design in DESIGNS for seed in cfg.gan_seeds]
    elif notebook == "p4_conditional_gan":
        found += [_gan(profile, gan.conditional_recipe(profile, seed), ae) for seed in cfg.cgan_seeds]
        found += [_gan(profile, gan.gan_recipe(profile, "range", seed), ae) for seed in cfg.cgan_seeds]
    return found
