"""Scoring sets of generated images with the *judge*, a small MNIST classifier that is
used only to measure (see :func:`lib.zoo.judge`).

For a set of images: the histogram of the judge's predicted classes, its mean
confidence (largest softmax probability), an Inception-Score-style value computed with
this classifier instead of Inception-v3, and the Frechet distance between the judge's
penultimate-layer features of the set and of real test images.  A score only means
something next to real-data references; :func:`reference_scores` computes them.

* Inception score ``exp(E_x KL(p(y|x) || p(y)))``: 1 when every image gets the same
  class distribution, 10 when the images are confidently classified and spread
  evenly over the ten digits.  Computed on splits of the set; mean and std over them.
* Frechet distance ``|mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))`` between
  Gaussians fitted to two feature sets: 0 for identical statistics, in squared feature
  units (the judge's ReLU features, not comparable with published FID values).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

NUM_CLASSES = 10


def judge_view(images: torch.Tensor) -> torch.Tensor:
    """The judge's input format: (N, 1, 28, 28); 32x32 padded images are cropped."""
    if images.shape[-1] == 32:
        return images[..., 2:30, 2:30]
    if images.shape[-1] != 28:
        raise ValueError(f"images must be 28x28 or 32x32 (padded), got {tuple(images.shape)}")
    return images


@torch.inference_mode()
def judge_outputs(
    judge: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class probabilities (N, 10) and penultimate features (N, F) of the judge, on the CPU."""
    judge.eval()
    probs, features = [], []
    for i in range(0, len(images), batch_size):
        batch = judge_view(images[i : i + batch_size]).to(device)
        feats = judge.features(batch)
        features.append(feats.cpu())
        probs.append(torch.softmax(judge.out(feats), dim=1).cpu())
    return torch.cat(probs), torch.cat(features)


def class_histogram(probs: torch.Tensor) -> np.ndarray:
    """How many images the judge assigns to each digit (argmax), shape (10,)."""
    return np.bincount(probs.argmax(1).numpy(), minlength=NUM_CLASSES)


def per_digit_recall(probs: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """(10,): for each digit d, the share of the images labelled d that the judge reads as d."""
    read = probs.argmax(1)
    return np.array([(read[labels == d] == d).float().mean().item() for d in range(NUM_CLASSES)])


def claimed_shares(probs: torch.Tensor, threshold: float) -> np.ndarray:
    """(11,): the share of the images the judge claims for each digit (largest probability at
    least ``threshold``), then the share it claims for no digit."""
    top, digit = probs.max(1)
    claimed = top >= threshold
    return np.append(np.bincount(digit[claimed].numpy(), minlength=NUM_CLASSES), int((~claimed).sum())) / len(probs)


def class_mix_distance(shares: np.ndarray, reference: np.ndarray) -> float:
    """Total-variation distance between two class mixes (0 = same mix, 1 = disjoint)."""
    return float(0.5 * np.abs(shares - reference).sum())


def mean_confidence(probs: torch.Tensor) -> float:
    """Mean over images of the largest class probability."""
    return probs.max(1).values.mean().item()


def inception_score(probs: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """``exp(E_x KL(p(y|x) || p(y)))`` on each of ``splits`` equal parts; (mean, std)."""
    p = probs.double().clamp_min(1e-12)
    scores = []
    for part in torch.tensor_split(p, splits):
        marginal = part.mean(0, keepdim=True)
        kl = (part * (part.log() - marginal.log())).sum(1).mean()
        scores.append(kl.exp().item())
    arr = np.asarray(scores)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def feature_statistics(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and covariance (F, F) of features (N, F), in float64."""
    x = np.asarray(features, dtype=np.float64)
    return x.mean(0), np.cov(x, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (eigenvalues clipped at 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance_from_statistics(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    """Frechet distance of two Gaussians.  ``tr (C_a C_b)^(1/2)`` is computed as
    ``tr (S C_b S)^(1/2)`` with ``S = C_a^(1/2)``: ``S C_b S`` is symmetric PSD and has the
    same eigenvalues as ``C_a C_b``, so only symmetric eigen-decompositions are needed."""
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    distance = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)
    return max(distance, 0.0)


def frechet_distance(features_a: torch.Tensor | np.ndarray, features_b: torch.Tensor | np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N_a, F), (N_b, F)."""
    return frechet_distance_from_statistics(*feature_statistics(features_a), *feature_statistics(features_b))


@dataclass
class ImageSetScore:
    """The judge's verdict on one set of images."""

    name: str
    num_images: int
    histogram: np.ndarray  # (10,) predicted-class counts
    mean_confidence: float
    inception_score: float
    inception_std: float  # over splits
    frechet_distance: float  # to the reference features (real test images)
    extra: dict = field(default_factory=dict)

    @property
    def min_class_count(self) -> int:
        return int(self.histogram.min())

    @property
    def min_class_share(self) -> float:
        """Smallest class's share relative to its expected share (1/10): 1.0 = perfectly even."""
        return float(self.histogram.min() / (self.num_images / NUM_CLASSES))

    def row(self) -> list:
        return [
            self.name,
            self.num_images,
            f"{self.inception_score:.2f} +- {self.inception_std:.2f}",
            f"{self.frechet_distance:.2f}",
            f"{self.mean_confidence:.3f}",
            self.min_class_count,
            int(self.histogram.max()),
        ]

    def as_dict(self) -> dict:
        return {
            "num_images": self.num_images,
            "histogram": self.histogram.tolist(),
            "mean_confidence": self.mean_confidence,
            "inception_score": self.inception_score,
            "inception_std": self.inception_std,
            "frechet_distance": self.frechet_distance,
            **self.extra,
        }


SCORE_HEADERS = [
    "image set",
    "images",
    "judge IS (mean +- std over 10 splits)",
    "judge FD to real test",
    "mean judge confidence",
    "smallest class count",
    "largest class count",
]


def score_images(
    judge: nn.Module, images: torch.Tensor, reference_features: torch.Tensor, device: torch.device, name: str, splits: int = 10
) -> ImageSetScore:
    """Score ``images`` with the judge; the Frechet distance is to ``reference_features``."""
    probs, features = judge_outputs(judge, images, device)
    is_mean, is_std = inception_score(probs, splits)
    return ImageSetScore(
        name=name,
        num_images=len(images),
        histogram=class_histogram(probs),
        mean_confidence=mean_confidence(probs),
        inception_score=is_mean,
        inception_std=is_std,
        frechet_distance=frechet_distance(features, reference_features),
    )


def reference_scores(
    judge: nn.Module,
    test_images: torch.Tensor,
    train_images: torch.Tensor,
    device: torch.device,
    reconstruct: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[list[ImageSetScore], torch.Tensor]:
    """Real-data reference rows and the reference features (of ``test_images``).

    * real test images, scored against themselves: the inception-score ceiling (FD 0);
    * real training images against the test images: the Frechet-distance floor (what
      two finite samples of real digits differ by);
    * ``reconstruct(train_images)`` (the auto-encoder's reconstructions) against the test
      images: the best a generator that decodes codes through the same decoder can do.
    Use sets of the same size as the generated sets (the estimates depend on it).
    """
    _, reference_features = judge_outputs(judge, test_images, device)
    rows = [
        score_images(judge, test_images, reference_features, device, "real test images (IS ceiling)"),
        score_images(judge, train_images, reference_features, device, "real train images (FD floor)"),
    ]
    if reconstruct is not None:
        rows.append(
            score_images(judge, reconstruct(train_images), reference_features, device, "AE reconstructions of train images")
        )
    return rows, reference_features
