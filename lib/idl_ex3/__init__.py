"""Intro to Deep Learning, Exercise 3: everything specific to this assignment.

- :mod:`lib.idl_ex3.autoencoder`: the course's denoising auto-encoder, its recipe per profile, the cached model;
- :mod:`lib.idl_ex3.gan`: GANs in its latent space (designs, training, sampler checkpoints, cached models);
- :mod:`lib.idl_ex3.semi_supervised`: P1's scheme (d), label spreading plus self-training;
- :mod:`lib.idl_ex3.p1_transfer` ... :mod:`lib.idl_ex3.p4_conditional_gan`: one module per
  problem, each a function returning plain results plus its figures, table rows and glued values;
- :mod:`lib.idl_ex3.theory`: the constructions of Theory 1 and their asserted numerical checks;
- :mod:`lib.idl_ex3.hand_in`: the submission folder;
- here: the report's title and notebook order, and each notebook's parameters (types,
  ranges and per-profile values), importable without torch so the build starts fast.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from lib.settings import MAX_BALANCED_LABELS, MAX_SEED, NotebookSettings, sweep

TITLE = "Intro to Deep Learning - Exercise 3"
SUBTITLE = "Transfer learning and GANs in the latent space of a denoising auto-encoder (MNIST)"
NOTEBOOKS = ("00_theory", "p1_transfer", "p2_latent_gan", "p3_interpolation", "p4_conditional_gan")
Seeds = sweep(0, MAX_SEED)
Steps = Annotated[int, Field(ge=1, le=1_000_000)]
LearningRate = Annotated[float, Field(gt=0, le=1.0)]


class TheorySettings(NotebookSettings):
    pass


class P1Settings(NotebookSettings):
    num_labels: Annotated[int, Field(ge=10, le=MAX_BALANCED_LABELS)] = 50  # the handout's sml_train_size (balanced)
    num_draws: Annotated[int, Field(ge=1, le=100)] = 10  # random labelled sets, seeds 0, 1, ...
    hidden_units: Annotated[int, Field(ge=1, le=4096)] = 128  # hidden layer of our MLP, (b) and (c)
    head_steps: Steps = 600  # optimizer steps of every classifier on codes, (a) and (b)
    head_learning_rate: LearningRate = 1e-3  # our MLP (AdamW, cosine decay)
    linear_learning_rate: LearningRate = 1e-2  # the minimal classifier (a)
    augment_copies: Annotated[int, Field(ge=0, le=200)] = 20  # augmented copies per labelled image, (b)
    finetune_steps: Steps = 600  # optimizer steps of (c), encoder + MLP end to end (the budget of (b))
    encoder_learning_rate: Annotated[float, Field(ge=0, le=1.0)] = 3e-4  # encoder learning rate in (c)
    PROFILE_VALUES = {
        "quick": {"num_draws": 2, "head_steps": 200, "augment_copies": 5, "finetune_steps": 200},
        "smoke": {"num_draws": 2, "head_steps": 10, "augment_copies": 2, "finetune_steps": 10},
    }


class P2Settings(NotebookSettings):
    gan_seeds: Seeds = [0, 1, 2]  # training seeds of every generator design
    # generated images judged per trained GAN (one noise draw); the real reference sets have as many images, so at
    # most the 10,000 of the test split
    num_samples: Annotated[int, Field(ge=100, le=10_000)] = 10000
    confidence_threshold: Annotated[float, Field(gt=0.1, le=0.99)] = 0.5  # below it, the judge claims no digit for an image
    PROFILE_VALUES = {"quick": {"gan_seeds": [0, 1], "num_samples": 2000}, "smoke": {"gan_seeds": [0, 1], "num_samples": 1000}}


class P3Settings(NotebookSettings):
    gan_seeds: Seeds = [0, 1, 2]  # training seeds of the P2 GANs whose paths are scored
    num_shown_pairs: Annotated[int, Field(ge=1, le=3)] = 3  # digit pairs drawn in the figure
    num_scored_pairs: Annotated[int, Field(ge=10, le=2000)] = 200  # random digit pairs scored per GAN training seed
    num_steps: Annotated[int, Field(ge=3, le=41)] = 11  # points per path, endpoints included
    num_candidates: Annotated[int, Field(ge=10, le=100_000)] = 2000  # endpoint candidates per side and GAN training seed
    endpoints_per_digit: Annotated[int, Field(ge=1, le=1000)] = 20  # the most probable candidates of a digit kept as endpoints
    PROFILE_VALUES = {
        "quick": {"gan_seeds": [0, 1], "num_scored_pairs": 50, "num_candidates": 500, "endpoints_per_digit": 10},
        "smoke": {
            "gan_seeds": [0, 1],
            "num_shown_pairs": 2,
            "num_scored_pairs": 10,
            "num_candidates": 200,
            "endpoints_per_digit": 5,
        },
    }


class P4Settings(NotebookSettings):
    cgan_seeds: Seeds = [0, 1, 2]  # training seeds of the conditional GAN
    samples_per_digit: Annotated[int, Field(ge=10, le=100_000)] = 1000  # generated images judged per digit and seed
    chosen_digit: Annotated[int, Field(ge=0, le=9)] = 2  # the digit whose variability is shown
    num_variants: Annotated[int, Field(ge=8, le=64)] = 32  # random samples of the chosen digit shown
    grid_columns: Annotated[int, Field(ge=2, le=16)] = 10  # noise vectors (columns) of the every-digit grid
    PROFILE_VALUES = {
        "quick": {"cgan_seeds": [0, 1], "samples_per_digit": 200},
        "smoke": {"cgan_seeds": [0, 1], "samples_per_digit": 50},
    }


SETTINGS: dict[str, type[NotebookSettings]] = {
    "00_theory": TheorySettings,
    "p1_transfer": P1Settings,
    "p2_latent_gan": P2Settings,
    "p3_interpolation": P3Settings,
    "p4_conditional_gan": P4Settings,
}
