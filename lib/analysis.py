"""Measurements on trained models: PCA baseline, latent correlations, judge scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class PCA:
    """Principal components of flattened images (fit by eigen-decomposing the covariance)."""

    mean: torch.Tensor  # (D,)
    components: torch.Tensor  # (D, K), columns sorted by decreasing variance
    variances: torch.Tensor  # (K,)

    @classmethod
    def fit(cls, data: torch.Tensor, max_components: int) -> PCA:
        flat = data.flatten(1).double()  # (N, ...) -> (N, D)
        mean = flat.mean(0)
        centered = flat - mean
        covariance = centered.T @ centered / (len(flat) - 1)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending order
        order = torch.argsort(eigenvalues, descending=True)[:max_components]
        return cls(mean.float(), eigenvectors[:, order].float(), eigenvalues[order].float())

    def encode(self, data: torch.Tensor, k: int) -> torch.Tensor:
        return (data.flatten(1) - self.mean) @ self.components[:, :k]

    def decode(self, codes: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        k = codes.shape[1]
        return (codes @ self.components[:, :k].T + self.mean).view(-1, *shape)

    def reconstruction_mse(self, data: torch.Tensor, k: int) -> float:
        """Mean per-pixel squared error of the best rank-k linear reconstruction."""
        reconstructed = self.decode(self.encode(data, k), tuple(data.shape[1:]))
        return torch.mean((reconstructed - data) ** 2).item()


@dataclass
class CorrelationSummary:
    matrix: np.ndarray  # (d, d) Pearson r; NaN rows/columns for constant coordinates
    constant: list[int]  # coordinates with (numerically) zero variance
    mean_abs_offdiag: float  # mean |r| over pairs of non-constant coordinates
    max_abs_offdiag: float


def latent_correlation(codes: torch.Tensor | np.ndarray, tol: float = 1e-8) -> CorrelationSummary:
    """Pearson correlations between the columns of ``codes`` (N, d).

    A coordinate whose standard deviation is below ``tol`` times the largest one is
    "constant": its r is undefined, so it is listed in ``constant`` and left out of the
    summary instead of being silently turned into 0 or NaN-poisoning the mean.
    """
    z = np.asarray(codes, dtype=np.float64)
    std = z.std(axis=0)
    constant = [int(i) for i in np.flatnonzero(std <= tol * max(std.max(), 1e-300))]
    live = [i for i in range(z.shape[1]) if i not in constant]
    matrix = np.full((z.shape[1], z.shape[1]), np.nan)
    if len(live) >= 1:
        sub = np.corrcoef(z[:, live], rowvar=False).reshape(len(live), len(live))
        matrix[np.ix_(live, live)] = sub
    if len(live) >= 2:
        sub = matrix[np.ix_(live, live)]
        off = np.abs(sub[~np.eye(len(live), dtype=bool)])
        mean_abs, max_abs = float(off.mean()), float(off.max())
    else:
        mean_abs = max_abs = float("nan")
    return CorrelationSummary(matrix, constant, mean_abs, max_abs)


def shuffled_correlation(codes: torch.Tensor | np.ndarray, seed: int = 0) -> CorrelationSummary:
    """The correlation summary after shuffling every coordinate independently across
    samples: what it is for independent coordinates at this sample size (noise floor)."""
    z = np.asarray(codes, dtype=np.float64).copy()
    rng = np.random.default_rng(seed)
    for j in range(z.shape[1]):
        z[:, j] = z[rng.permutation(len(z)), j]
    return latent_correlation(z)


def independent_floor(codes: torch.Tensor | np.ndarray, seed: int = 0) -> float:
    """Mean |r| of independent coordinates at this sample size (see :func:`shuffled_correlation`)."""
    return shuffled_correlation(codes, seed).mean_abs_offdiag


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def principal_angles(basis_a: torch.Tensor, basis_b: torch.Tensor) -> torch.Tensor:
    """Principal angles (radians, ascending) between the column spaces of two (D, k)
    matrices: the arccos of the singular values of Q_a^T Q_b for orthonormal bases Q."""
    qa, _ = torch.linalg.qr(basis_a.double())
    qb, _ = torch.linalg.qr(basis_b.double())
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return torch.arccos(cosines).flip(0)


def knn_accuracy(train_codes, train_labels, test_codes, test_labels, k: int = 5) -> tuple[float, np.ndarray]:
    """Test accuracy of a k-nearest-neighbour classifier in code space (how well the code
    separates the digits) and its confusion matrix."""
    from sklearn.metrics import confusion_matrix
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=k).fit(np.asarray(train_codes), np.asarray(train_labels))
    predicted = knn.predict(np.asarray(test_codes))
    return float((predicted == np.asarray(test_labels)).mean()), confusion_matrix(test_labels, predicted, labels=range(10))


def most_confused_pairs(matrix: np.ndarray, top: int = 3) -> list[tuple[int, int, int]]:
    """The ``top`` largest off-diagonal entries of a confusion matrix as (true, predicted, count)."""
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None)[::-1][:top]
    return [(int(i), int(j), int(off[i, j])) for i, j in zip(*np.unravel_index(order, off.shape), strict=True)]


def significant(value: float, digits: int = 1, round_up: bool = False) -> tuple[str, int]:
    """Mantissa text and exponent of ``value`` (> 0) with ``digits`` significant digits, e.g.
    ("2.2", -16); ``round_up``: the smallest such number not below ``value``, so that a
    printed maximum stays a true bound."""
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    if round_up and float(f"{mantissa}e{exponent}") < value:  # one unit more in the last digit
        step = 10.0 ** -(digits - 1)
        mantissa, exponent = f"{(float(mantissa) + step) * 10.0 ** int(exponent):.{digits - 1}e}".split("e")
    return mantissa, int(exponent)


def error_bound(value: float) -> str:
    """A small maximum error for the prose with one digit, rounded up, e.g. "3e-16" for 2.2e-16 ("0" for 0)."""
    if not value:
        return "0"
    mantissa, exponent = significant(value, 1, round_up=True)
    return f"{mantissa}e{exponent:+03d}"


def round_to_spread(mean: float, sd: float, scale: float = 1.0) -> tuple[str, str]:
    """``mean`` and ``sd`` (times ``scale``) as text with as many decimals as the spread
    supports, by the Particle Data Group's rule: the sd keeps two significant digits when
    its leading three are 100-354, one when 355-949, and 950-999 round up to 1000 (two)."""
    mean, sd = mean * scale, sd * scale
    # identical values leave an sd of rounding noise (e.g. 1e-16), which has no digits to show
    if not np.isfinite(sd) or sd <= 1e-9 * max(abs(mean), 1e-12):
        return f"{mean:.4g}", "0"
    exponent = int(np.floor(np.log10(sd)))
    leading = sd / 10.0**exponent  # in [1, 10)
    if leading >= 9.495:  # rounds up to the next power of ten, shown with two digits
        exponent, leading = exponent + 1, 1.0
    decimals = max(0, -exponent + (1 if leading < 3.545 else 0))
    return f"{mean:.{decimals}f}", f"{sd:.{decimals}f}"


def join_words(words: list[str], conjunction: str = "and") -> str:
    """ "a", "a and b", "a, b and c" (or with ``conjunction`` "or") for the prose."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" {conjunction} " + words[-1]


def format_mean_sd(values, scale: float = 1.0, unit: str = "") -> str:
    """ "mean ± sd" over ``values`` (sample sd, n - 1), rounded to what the spread supports."""
    mean, sd = mean_std(values)
    if len(values) < 2:
        return f"{mean * scale:.4g}{unit}"
    m, s = round_to_spread(mean, sd, scale)
    return f"{m}{unit} ± {s}{unit}"
