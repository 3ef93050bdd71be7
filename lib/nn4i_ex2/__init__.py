"""Neural Networks for Images 2023, Exercise 2: everything specific to this assignment.

- :mod:`lib.nn4i_ex2.models`: the conv auto-encoder, its training recipe per profile, the cached models;
- :mod:`lib.nn4i_ex2.experiments`: one function per question, returning plain results, and their figures;
- here: the report's title and notebook order, and each notebook's parameters (types,
  ranges and per-profile values), importable without torch so the build starts fast.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from lib.settings import MAX_BALANCED_LABELS, MAX_SEED, NotebookSettings, sweep

TITLE = "Neural Networks for Images 2023 - Exercise 2"
SUBTITLE = "Auto-encoding, interpolation, decorrelation and transfer learning on MNIST"
NOTEBOOKS = ("00_theory", "q1_autoencoding", "q2_interpolation", "q3_decorrelation", "q4_transfer")


class TheorySettings(NotebookSettings):
    pass


class Q1Settings(NotebookSettings):
    latent_dims: sweep(1, 512) = [2, 4, 8, 10, 16, 32, 64]  # sweep (i): latent sizes at the default depth
    conv_layer_counts: sweep(1, 4) = [1, 2, 3, 4]  # sweep (ii): depths at d = 10
    headline_seeds: Annotated[int, Field(ge=1, le=10)] = 3  # training seeds behind the d = 10 headline
    num_shown: Annotated[int, Field(ge=1, le=32)] = 10  # test digits in the reconstruction figure
    PROFILE_VALUES = {
        "quick": {"latent_dims": [2, 10, 32], "conv_layer_counts": [1, 3], "headline_seeds": 2},
        "smoke": {"latent_dims": [2, 10], "conv_layer_counts": [1, 3], "headline_seeds": 2},
    }


class Q2Settings(NotebookSettings):
    latent_dims: sweep(1, 512) = [10, 64, 2]  # the handout's d = 10, then a higher d, then extras
    num_shown_pairs: Annotated[int, Field(ge=1, le=10)] = 6  # digit pairs drawn in the figure
    num_scored_pairs: Annotated[int, Field(ge=10, le=2000)] = 200  # random pairs behind the path scores
    num_steps: Annotated[int, Field(ge=3, le=41)] = 11  # points per path, endpoints included
    PROFILE_VALUES = {
        "quick": {"latent_dims": [10, 32, 2], "num_scored_pairs": 100},
        "smoke": {"latent_dims": [10, 32, 2], "num_shown_pairs": 4, "num_scored_pairs": 20},
    }


class Q3Settings(NotebookSettings):
    latent_dims: sweep(2, 512) = [2, 4, 10, 32, 64]
    num_seeds: Annotated[int, Field(ge=1, le=10)] = 3  # training seeds per d
    num_encoded: Annotated[int, Field(ge=100, le=10000)] = 10000  # test images encoded for the correlations
    PROFILE_VALUES = {
        "quick": {"latent_dims": [2, 10, 32], "num_seeds": 2, "num_encoded": 2000},
        "smoke": {"latent_dims": [2, 4, 10], "num_seeds": 2, "num_encoded": 1000},
    }


class Q4Settings(NotebookSettings):
    num_labels: Annotated[int, Field(ge=10, le=MAX_BALANCED_LABELS)] = 50  # labelled images (balanced)
    num_draws: Annotated[int, Field(ge=1, le=100)] = 10  # random labelled sets behind the headline
    label_counts: sweep(10, MAX_BALANCED_LABELS) = [10, 20, 50, 100, 500, 1000]  # the accuracy-vs-labels curve
    curve_draws: Annotated[int, Field(ge=1, le=100)] = 5  # draws per point of that curve
    classifier_steps: Annotated[int, Field(ge=1, le=1_000_000)] = 600  # optimizer steps on the labelled set
    first_draw: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0  # seed of the first labelled set
    PROFILE_VALUES = {
        "quick": {"num_draws": 2, "label_counts": [10, 20, 50], "curve_draws": 1, "classifier_steps": 80},
        "smoke": {"num_draws": 2, "label_counts": [10, 50], "curve_draws": 1, "classifier_steps": 10},
    }


SETTINGS: dict[str, type[NotebookSettings]] = {
    "00_theory": TheorySettings,
    "q1_autoencoding": Q1Settings,
    "q2_interpolation": Q2Settings,
    "q3_decorrelation": Q3Settings,
    "q4_transfer": Q4Settings,
}
