"""AMTH/CPSC 663b Exercise II: everything specific to this assignment.

- :mod:`prob4_CNN`, :mod:`prob5_AE`, :mod:`prob6_CAE`: the hand-in scripts the handout names.
  They hold the models, their training loops and their command lines, import nothing from
  ``lib``, and are copied unchanged into the submission;
- :mod:`lib.cpsc663_ex2.models`: the training recipes per profile and the cached models;
- :mod:`lib.cpsc663_ex2.experiments`: one function per problem, returning plain results, and their figures;
- :mod:`lib.cpsc663_ex2.hand_in`: the Gradescope folder;
- here: the report's title and notebook order and each notebook's parameters (importable
  without torch, so the build starts fast).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from lib.settings import MAX_EPOCHS, MAX_SEED, NotebookSettings, sweep

TITLE = "AMTH/CPSC 663b - Exercise II"
SUBTITLE = "Backpropagation, a CNN, and fully connected and convolutional auto-encoders on MNIST"
NOTEBOOKS = ("00_theory", "p4_cnn", "p5_autoencoders", "p6_conv_autoencoders", "99_bonus")

Epochs = Annotated[int, Field(ge=1, le=MAX_EPOCHS)]
TrainSize = Annotated[int, Field(ge=100, le=60000)]
BatchSize = Annotated[int, Field(ge=1, le=4096)]
LearningRate = Annotated[float, Field(gt=0, le=1.0)]
Seeds = sweep(0, MAX_SEED)
SMALL = {"train_size": 2000, "num_epochs": 1, "seeds": [0, 1]}  # smoke: every code path, in seconds


class TheorySettings(NotebookSettings):
    # The handout's Figure 1 survives only as its caption; these are the classic 2-2-2
    # example it describes.  Enter the figure's own numbers here.
    inputs: Annotated[list[float], Field(min_length=2, max_length=2)] = [0.05, 0.10]  # x1, x2
    targets: Annotated[list[Annotated[float, Field(ge=0, le=1)]], Field(min_length=2, max_length=2)] = [0.01, 0.99]
    hidden_weights: Annotated[list[float], Field(min_length=4, max_length=4)] = [0.15, 0.20, 0.25, 0.30]  # w1..w4
    output_weights: Annotated[list[float], Field(min_length=4, max_length=4)] = [0.40, 0.45, 0.50, 0.55]  # w5..w8
    hidden_bias: float = 0.35  # b1, shared by h1 and h2
    output_bias: float = 0.60  # b2, shared by o1 and o2


class P4Settings(NotebookSettings):
    seeds: Seeds = [0, 1, 2]  # one network per training seed
    num_epochs: Epochs = 5  # the handout's 5
    train_size: TrainSize = 60000
    batch_size: BatchSize = 128
    learning_rate: LearningRate = 2e-3  # peak AdamW rate, cosine decay to zero
    num_filters: Annotated[int, Field(ge=1, le=256)] = 40  # the handout's 40
    input_size: Annotated[int, Field(ge=10, le=512)] = 50  # 4.1: the image is input_size x input_size
    PROFILE_VALUES = {"quick": {"train_size": 10000, "num_epochs": 1, "seeds": [0, 1]}, "smoke": SMALL}


class P5Settings(NotebookSettings):
    seeds: Seeds = [0, 1, 2]  # training seeds of the 2-D auto-encoder (the first is handed in)
    num_epochs: Epochs = 10  # the handout: at least 10
    train_size: TrainSize = 60000
    batch_size: BatchSize = 128
    learning_rate: LearningRate = 1e-3  # Adam, constant: the handout's 0.001
    hidden_sizes: Annotated[list[Annotated[int, Field(ge=1, le=4096)]], Field(min_length=3, max_length=3)] = [512, 256, 128]
    latent_dim: Annotated[int, Field(ge=1, le=64)] = 2
    linear_latent_dims: sweep(1, 784) = [2, 10]  # 5.3: linear auto-encoders compared with PCA
    linear_epochs: Epochs = 10
    linear_learning_rate: LearningRate = 3e-3
    corruption_std: Annotated[float, Field(ge=0, le=10)] = 0.15  # 5.2: Gaussian noise on the 2-D toy data
    dropout_rate: Annotated[float, Field(ge=0, le=1)] = 0.3  # 5.2: masking-noise probability
    PROFILE_VALUES = {
        "quick": {"train_size": 10000, "num_epochs": 2, "seeds": [0, 1], "linear_epochs": 1},
        "smoke": {**SMALL, "linear_latent_dims": [2], "linear_epochs": 1},
    }


class P6Settings(NotebookSettings):
    seeds: Seeds = [0, 1, 2]  # training seeds of every model of 6.1-6.3 (the first is handed in)
    num_epochs: Epochs = 10  # every convolutional auto-encoder, as for 5.4
    train_size: TrainSize = 60000
    batch_size: BatchSize = 128
    learning_rate: LearningRate = 1e-3  # Adam, constant
    noise_std: Annotated[float, Field(gt=0, le=10)] = 0.3  # 6.3: standard deviation of the input noise
    PROFILE_VALUES = {"quick": {"train_size": 10000, "num_epochs": 2, "seeds": [0, 1]}, "smoke": SMALL}


class BonusSettings(NotebookSettings):
    pass


SETTINGS: dict[str, type[NotebookSettings]] = {
    "00_theory": TheorySettings,
    "p4_cnn": P4Settings,
    "p5_autoencoders": P5Settings,
    "p6_conv_autoencoders": P6Settings,
    "99_bonus": BonusSettings,
}
