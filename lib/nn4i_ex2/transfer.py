"""Q4's few-label classifiers, cached like every other trained model so that the build trains
them as parallel jobs before the notebook starts (the notebook only loads them).

One cache entry holds one scheme at one labelled-set size: a classifier per labelled draw
and, in its history, each one's train and test accuracy, its per-digit test accuracy and
its count of trained weights.  Each draw is trained exactly as it would be alone: the head
starts from the same seed in every scheme and draw, and the labelled images and their
batches come from the draw's own seed.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
from torch import nn

from lib import cache, data, models, train
from lib.nn4i_ex2.models import AERecipe, ConvEncoder, autoencoder, mnist
from lib.utils import seed_everything

# The classifier recipe every scheme shares (chosen on the training set; no test image used).
HIDDEN_UNITS = 128  # MLP head: d -> 128 -> 10, ReLU
CLASSIFIER_LR = 1e-3  # AdamW with cosine decay, weight decay 1e-4, batches of up to 128 images
ENCODER_LR = 1e-3  # the encoder's learning rate when it is trained too
HEAD_SEED = 1000  # the same initial head in every scheme and draw
WEIGHT_DECAY = 1e-4
BATCH_SIZE = 128  # labelled images per step (all of them when there are fewer)

FROZEN, FINE_TUNED, SCRATCH = "frozen encoder", "whole network, pre-trained start", "whole network, random start"
BN_FIXED = "pre-trained start, batch-norm statistics fixed"
TRAINS_ENCODER = (FINE_TUNED, SCRATCH, BN_FIXED)


def short_frozen_name(epochs: int) -> str:
    return f"frozen encoder of Q1's {epochs}-epoch model"


@dataclass(frozen=True)
class FewLabelRuns:
    """Everything that determines one scheme's classifiers at one labelled-set size."""

    scheme: str  # FROZEN, FINE_TUNED, SCRATCH, BN_FIXED or short_frozen_name(...)
    num_labels: int  # balanced labelled training images
    draws: tuple[int, ...]  # seeds of the labelled sets
    num_steps: int  # optimizer steps on each labelled set
    encoder: AERecipe  # the auto-encoder whose encoder starts the network (its architecture for SCRATCH)

    def label(self) -> str:  # "set of": the provenance appendix counts such an entry once
        return f"set of {len(self.draws)} few-label classifiers ({self.scheme}, {self.num_labels} labels)"


def classifier(scheme: str, spec: AERecipe, encoder: nn.Module | None) -> models.EncoderClassifier:
    """The network of ``scheme``: a fresh head (always the same start) on a copy of the
    pre-trained ``encoder``, or on a randomly initialised one (SCRATCH, or ``encoder=None``)."""
    seed_everything(HEAD_SEED)
    head = models.MLPHead(spec.latent_dim, HIDDEN_UNITS)
    if scheme == SCRATCH or encoder is None:
        encoder = ConvEncoder(spec.latent_dim, spec.num_conv_layers, spec.base_channels, spec.hidden_units)
    else:
        encoder = copy.deepcopy(encoder)
    frozen = scheme not in TRAINS_ENCODER
    return models.EncoderClassifier(encoder, head, freeze_encoder=frozen, freeze_batchnorm=scheme == BN_FIXED)


def _train_one(net: models.EncoderClassifier, runs: FewLabelRuns, draw: int, train_xy, test_xy, device) -> dict:
    """Train ``net`` on draw ``draw``'s labelled set; its accuracies and trained weights."""
    (train_x, train_y), (test_x, test_y) = train_xy, test_xy
    idx = data.balanced_indices(train_y, runs.num_labels, seed=draw)
    images, labels = train_x[idx], train_y[idx]
    groups = None
    if runs.scheme in (FINE_TUNED, BN_FIXED):  # fine-tuning: the encoder gets its own learning rate
        groups = [{"params": net.encoder.parameters(), "lr": ENCODER_LR}, {"params": net.head.parameters()}]
    train.fit_few_labels(
        net,
        images,
        labels,
        num_steps=runs.num_steps,
        batch_size=BATCH_SIZE,
        learning_rate=CLASSIFIER_LR,
        seed=draw,
        device=device,
        augment=data.random_affine,
        param_groups=groups,
        weight_decay=WEIGHT_DECAY,
    )
    predicted = train.predict(net, test_x, device).argmax(1)
    return {
        "train": train.evaluate_accuracy(net, images, labels, device),
        "test": (predicted == test_y).float().mean().item(),
        "per_class": [(predicted[test_y == c] == c).float().mean().item() for c in range(10)],
        "trainable": sum(p.numel() for p in net.parameters() if p.requires_grad),
    }


def few_label_runs(runs: FewLabelRuns, device: torch.device) -> list[dict]:
    """One result per draw of ``runs`` (cached): ``train`` and ``test`` accuracy, ``per_class``
    test accuracy (10 values) and ``trainable`` (weights trained)."""
    spec = runs.encoder

    def build():  # the container the entry's weights load into (one classifier per draw)
        return nn.ModuleList([classifier(runs.scheme, spec, None) for _ in runs.draws])

    def fit(container):
        encoder = None if runs.scheme == SCRATCH else autoencoder(spec, device)[0].encoder
        train_xy, test_xy = mnist("train", spec.train_size), mnist("test", spec.test_size)
        results = []
        for slot, draw in zip(container, runs.draws, strict=True):
            net = classifier(runs.scheme, spec, encoder)
            results.append(_train_one(net, runs, draw, train_xy, test_xy, device))
            slot.load_state_dict(net.state_dict())
        return {"runs": results}

    config = {**asdict(runs), "encoder": asdict(spec)}
    _, history = cache.load_or_train("nn4i_few_label_classifiers", config, build, fit, device, label=runs.label())
    return history["runs"]
