"""The practical problems of AMTH/CPSC 663 Exercise II as functions: each takes its
notebook's settings and a device and returns a plain result; the figure, row and summary
functions turn a result into what the report shows.  Every model comes from
:mod:`lib.cpsc663_ex2.models` (the hand-in scripts' classes, cached)."""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from lib import analysis, judging, plots, train, zoo
from lib.analysis import format_mean_sd, mean_std
from lib.cpsc663_ex2 import P4Settings, P5Settings, P6Settings
from lib.cpsc663_ex2.models import (
    CONV_VARIANTS,
    NEIGHBOUR_IMAGES,
    autoencoder,
    cnn,
    cnn_recipes,
    conv_recipes,
    linear_recipes,
    mlp_recipes,
    mnist,
)
from lib.cpsc663_ex2.prob4_CNN import FilterCNN, confusion_matrix, predict, save_checkpoint
from lib.cpsc663_ex2.prob6_CAE import ConvAutoencoder

NUM_SHOWN = 8  # test images per row of the reconstruction figures (readable labels at print size)
HAND_IN_NAMES = ("mnist_cae.pt", "mnist-cae-skip.pt", "mnist_cae_denoising.pt", "mnist-cae-skip_denoising.pt")  # 6.1 .. 6.3
NOISE_SEED = 12345  # one fixed noisy copy of the test set scores every model alike
SCRAMBLE_SEED = 0
# The independent digit classifier (lib.zoo.judge) per profile: (epochs, training images), the
# same settings nn4i_ex2 uses, so both assignments share one cached model.
JUDGE_SETTINGS = {"full": (5, 60000), "quick": (1, 10000), "smoke": (1, 1024)}


EVAL_IMAGES = {"full": 10000, "quick": 10000, "smoke": 2000}  # test images (and neighbour codes) every score uses


def _eval_sets(profile: str):
    """The test images every score uses, and the training images whose codes are the 5-NN neighbours."""
    size = EVAL_IMAGES[profile]
    return mnist("test", size), mnist("train", min(size, NEIGHBOUR_IMAGES))


def _judge(profile: str, device: torch.device) -> nn.Module:
    num_epochs, train_size = JUDGE_SETTINGS[profile]
    return zoo.judge(device, num_epochs=num_epochs, train_size=train_size)


def all_recipes(profile: str) -> list:
    """Every model the assignment trains under ``profile``."""
    p4, p5, p6 = (s.check("cpsc663_ex2", {"profile": profile}) for s in (P4Settings, P5Settings, P6Settings))
    return cnn_recipes(p4) + mlp_recipes(p5) + linear_recipes(p5) + [r for rs in conv_recipes(p6).values() for r in rs]


_mse = train.evaluate_mse_plain  # per-pixel MSE of model(inputs) against the clean images


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


@torch.inference_mode()
def _codes_of(model: nn.Module, images: torch.Tensor, device: torch.device) -> np.ndarray:
    model.eval()
    return torch.cat([model.encode(images[i : i + 1000].to(device)).cpu() for i in range(0, len(images), 1000)]).numpy()


def _reading_matrix(judge: nn.Module, images: torch.Tensor, labels: torch.Tensor, device: torch.device) -> np.ndarray:
    """Confusion counts of the judge on ``images``: row = the digit shown to the network, column = what the judge reads."""
    probs, _ = judging.judge_outputs(judge, images, device)
    return confusion_matrix(labels.numpy(), probs.argmax(1).numpy())


def _per_digit(matrix: np.ndarray) -> np.ndarray:
    return np.diag(matrix) / matrix.sum(1)


# --- Problem 4 ---------------------------------------------------------------------------


def p4_output_sizes(input_size: int) -> list[list]:
    """4.1: each layer's output side by the formula floor((h + 2p - k)/s) + 1 and by running the torch layer."""
    rows = []
    for case, kind, k, s, p in [("(a)", "convolution", 4, 1, 1), ("(b)", "convolution", 8, 5, 0),
                                ("(c)", "max pooling", 10, 2, 2), ("(d)", "max pooling", 2, 1, 0)]:  # fmt: skip
        layer = nn.Conv2d(1, 1, k, stride=s, padding=p) if kind == "convolution" else nn.MaxPool2d(k, stride=s, padding=p)
        with torch.no_grad():
            ran = tuple(layer(torch.zeros(1, 1, input_size, input_size)).shape[-2:])
        side = (input_size + 2 * p - k) // s + 1
        if ran != (side, side):
            raise AssertionError(f"4.1 {case}: formula {side} x {side}, torch {ran}")
        rows.append([case, kind, k, s, p, f"{side} × {side}", f"{ran[0]} × {ran[1]}"])
    return rows


@dataclass
class P4Result:
    seeds: list[int]
    num_epochs: int
    train_size: int
    num_filters: int
    accuracies: dict[int, float]
    histories: dict[int, dict]
    matrices: dict[int, np.ndarray]  # per seed, on the 10,000 test images
    filters: torch.Tensor  # conv1 weights of the first seed's network
    size_rows: list[list]

    @property
    def summed(self) -> np.ndarray:
        return sum(self.matrices.values())


def p4_cnn(cfg: P4Settings, device: torch.device) -> P4Result:
    """4.1's sizes, then one CNN per training seed scored on the test split."""
    test_x, test_y = mnist("test")
    accuracies, histories, matrices = {}, {}, {}
    filters = None
    for recipe in cnn_recipes(cfg):
        model, histories[recipe.seed] = cnn(recipe, device)
        matrices[recipe.seed] = confusion_matrix(test_y.numpy(), predict(model, test_x, device).argmax(1).numpy())
        accuracies[recipe.seed] = float(np.trace(matrices[recipe.seed]) / len(test_y))
        filters = model.conv1.weight.detach().cpu() if filters is None else filters
    return P4Result(list(cfg.seeds), cfg.num_epochs, cfg.train_size, cfg.num_filters, accuracies, histories, matrices,
                    filters, p4_output_sizes(cfg.input_size))  # fmt: skip


def p4_architecture_rows(num_filters: int) -> list[list]:
    """The layer table, its blocks numbered (the network has no encoder/decoder parts)."""
    rows = plots.architecture_rows(FilterCNN(num_filters), (1, 28, 28))
    return [[i, words, shape, params] for i, (_, words, shape, params) in enumerate(rows, 1)]


def p4_seed_rows(result: P4Result) -> list[list]:
    rows = [[seed] + [_percent(a) for a in result.histories[seed]["test_accuracy"]] for seed in result.seeds]
    per_epoch = np.array([result.histories[seed]["test_accuracy"] for seed in result.seeds])
    return rows + [["mean ± sd"] + [format_mean_sd(column, 100, "%") for column in per_epoch.T]]


def p4_pairs(result: P4Result, top: int = 6) -> list[tuple[int, int]]:
    """The ``top`` most confused pairs of digits by both directions together, each written
    in its more frequent direction (true, predicted)."""
    m = result.summed
    pairs = [(a, b) if m[a, b] >= m[b, a] else (b, a) for a in range(10) for b in range(a + 1, 10)]
    return sorted(pairs, key=lambda pair: -(m[pair] + m[pair[::-1]]))[:top]


def p4_pair_rows(result: P4Result) -> list[list]:
    """The most frequently confused pairs of the summed matrix, both directions, per seed."""
    rows = []
    for t, p in p4_pairs(result):
        per_seed = " / ".join(str(result.matrices[s][t, p]) for s in result.seeds)
        reverse = " / ".join(str(result.matrices[s][p, t]) for s in result.seeds)
        rows.append([f"{t} → {p}", int(result.summed[t, p]), per_seed, f"{p} → {t}", int(result.summed[p, t]), reverse])
    return rows


def p4_summary(result: P4Result) -> dict[str, str]:
    t, p, _ = analysis.most_confused_pairs(result.summed, 1)[0]
    forward = [int(result.matrices[s][t, p]) for s in result.seeds]
    backward = [int(result.matrices[s][p, t]) for s in result.seeds]
    more = sum(f > b for f, b in zip(forward, backward, strict=True))
    error = 1 - np.diag(result.summed) / result.summed.sum(1)
    order = np.argsort(-error)
    return {
        "accuracy": format_mean_sd(list(result.accuracies.values()), 100, "%"),
        "accuracy_range": f"{_percent(min(result.accuracies.values()))} to {_percent(max(result.accuracies.values()))}",
        "num_seeds": str(len(result.seeds)),
        "errors_total": f"{int(result.summed.sum() - np.trace(result.summed)):,}",
        "predictions_total": f"{int(result.summed.sum()):,}",
        "top_pair": f"{t} → {p}",
        "top_count": str(sum(forward)),
        "top_reverse_pair": f"{p} → {t}",
        "top_reverse_count": str(sum(backward)),
        "top_per_seed": ", ".join(map(str, forward)),
        "top_reverse_per_seed": ", ".join(map(str, backward)),
        "top_direction_seeds": "in every seed" if more == len(result.seeds) else f"in {more} of {len(result.seeds)} seeds",
        "hardest_digits": ", ".join(f"{d} ({_percent(error[d])})" for d in order[:3]),
        "confused_pairs": ", ".join(f"{t} and {p} ({result.summed[t, p] + result.summed[p, t]})" for t, p in p4_pairs(result)),
        "accuracy_epoch1": format_mean_sd([result.histories[s]["test_accuracy"][0] for s in result.seeds], 100, "%"),
        "later_epochs_gain": format_mean_sd(
            [result.histories[s]["test_accuracy"][-1] - result.histories[s]["test_accuracy"][0] for s in result.seeds], 100
        ),
        "easiest_digits": ", ".join(f"{d} ({_percent(error[d])})" for d in order[::-1][:2]),
    }


def p4_filter_figure(result: P4Result) -> plt.Figure:
    return plots.filter_grid(result.filters, "")


def p4_confusion_figure(result: P4Result) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5.0, 4.1))
    plots.confusion(result.summed, "", ax=ax, count_size=8)
    return fig


def p4_metrics(result: P4Result, cfg: P4Settings) -> dict:
    return {
        "settings": cfg.model_dump(),
        "output_sizes": {row[0]: row[5] for row in result.size_rows},
        "test_accuracy_per_seed": {str(s): a for s, a in result.accuracies.items()},
        "test_accuracy_mean_sd": mean_std(list(result.accuracies.values())),
        "confusion_summed_over_seeds": result.summed.tolist(),
        "most_confused": p4_pair_rows(result),
    }


# --- Problem 5 ---------------------------------------------------------------------------


@dataclass
class Corruption:
    clean: torch.Tensor
    gaussian: torch.Tensor
    masked: torch.Tensor
    noise_std: float
    mask_rate: float

    @property
    def measured_std(self) -> float:
        return (self.gaussian - self.clean).std().item()

    @property
    def measured_rate(self) -> float:
        return (self.masked == 0).float().mean().item()


def p5_corruption(cfg: P5Settings, num_points: int = 400) -> Corruption:
    """5.2: points on y = x^2 with Gaussian noise and with masking noise."""
    generator = torch.Generator().manual_seed(cfg.seeds[0])
    xs = torch.rand(num_points, generator=generator) * 2 - 1
    clean = torch.stack([xs, xs**2], dim=1)
    gaussian = clean + cfg.corruption_std * torch.randn(clean.shape, generator=generator)
    masked = clean * (torch.rand(clean.shape, generator=generator) >= cfg.dropout_rate).float()
    return Corruption(clean, gaussian, masked, cfg.corruption_std, cfg.dropout_rate)


def p5_corruption_figure(corruption: Corruption) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 2.9), sharex=True, sharey=True)
    for ax, corrupted, name in ((axes[0], corruption.gaussian, f"(a) Gaussian, $\\sigma = {corruption.noise_std}$"),
                                (axes[1], corruption.masked, f"(b) masking, $q = {corruption.mask_rate}$")):  # fmt: skip
        for i in range(0, len(corruption.clean), 8):  # a few arrows from a clean point to its corrupted copy
            ax.annotate("", xy=corrupted[i].tolist(), xytext=corruption.clean[i].tolist(),
                        arrowprops={"arrowstyle": "->", "lw": 0.5, "color": "grey"})  # fmt: skip
        ax.scatter(corruption.clean[:, 0], corruption.clean[:, 1], s=4, label="original $x$")
        ax.scatter(corrupted[:, 0], corrupted[:, 1], s=4, label=r"corrupted $\tilde x$")
        ax.set(title=name, xlabel="first coordinate")
    axes[0].set_ylabel("second coordinate")
    axes[0].legend(fontsize=7, loc="upper center")
    fig.tight_layout()
    return fig


@dataclass
class LinearRow:
    latent_dim: int
    ae_mse: float
    pca_mse: float
    mean_angle: float
    max_angle: float
    random_min_angle: float
    max_cosine: float
    variance_ratio: float  # lambda_k / lambda_(k+1): small = nearly tied principal variances


@dataclass
class AEScores:
    """One trained 2-D auto-encoder on the 10,000 test images."""

    test_mse: float
    knn: float  # 5-NN digit accuracy from the 2-D code
    knn_matrix: np.ndarray  # its confusion counts: row = true digit
    reading: np.ndarray  # judge's reading of the reconstructions: row = digit shown
    history: dict
    noisy_mse: float = float("nan")  # output for a noisy test image, against the clean image
    to_noisy_mse: float = float("nan")  # ... against the noisy input itself
    scrambled_mse: float = float("nan")  # each image decoded from another image's code (skips kept)


@dataclass
class P5Result:
    seeds: list[int]
    num_epochs: int
    linear_epochs: int
    corruption: Corruption
    linear: list[LinearRow]
    mlp: dict[int, AEScores]
    pca_mse: float
    pca_knn: float
    pca_reading: np.ndarray
    judge_on_originals: np.ndarray
    noise_image_mse: float
    shown: torch.Tensor  # test images in the reconstruction figure
    shown_labels: torch.Tensor
    reconstructions: torch.Tensor  # of ``shown`` by the first seed's model
    noise_images: torch.Tensor
    noise_outputs: torch.Tensor
    codes: np.ndarray  # the first seed's codes of the 10,000 test images
    pca_codes: np.ndarray
    labels: np.ndarray
    parameters: int = 0
    architecture: list = field(default_factory=list)


def _score(model, test_x, test_y, neighbours, judge, device) -> tuple[float, float, np.ndarray, np.ndarray]:
    neighbour_codes, test_codes = _codes_of(model, neighbours[0], device), _codes_of(model, test_x, device)
    knn, matrix = analysis.knn_accuracy(neighbour_codes, neighbours[1].numpy(), test_codes, test_y.numpy())
    return _mse(model, test_x, device), knn, matrix, _reading_matrix(judge, predict(model, test_x, device), test_y, device)


def separation(runs: dict[int, AEScores], separate: float = 0.9, mixed: float = 0.6) -> tuple[str, str]:
    """For the first training seed (the one the figures plot): the digits whose 5-NN accuracy
    in the code plane is at least ``separate`` (a region of their own), and those below
    ``mixed``, each with its accuracy so that a reader can check the split; where no digit
    reaches ``separate``, the closest one is named."""
    per_digit = _per_digit(runs[min(runs)].knn_matrix)
    separate_digits = [d for d in range(10) if per_digit[d] >= separate]
    mixed_digits = [d for d in range(10) if per_digit[d] < mixed]
    closest = int(np.argmax(per_digit))
    named = _digits(separate_digits, per_digit) if separate_digits else f"none; the closest is {_digits([closest], per_digit)}"
    return named, _digits(mixed_digits, per_digit)


def _digits(digits: list[int], accuracy: np.ndarray) -> str:
    """ "digits 0 at 91%, 1 at 97% and 7 at 90%", "digit 4 at 93%" or "none"."""
    if not digits:
        return "none"
    named = analysis.join_words([f"{d} at {100 * accuracy[d]:.0f}%" for d in digits])
    return ("digit " if len(digits) == 1 else "digits ") + named


def passing_epochs(runs: dict[int, AEScores], level: float) -> str:
    """The first epoch in which each seed's test error is below ``level``, per seed
    ("3 / 2 / 3"; "none" for a seed that never gets there)."""
    first = [next((str(i + 1) for i, mse in enumerate(s.history["test_mse"]) if mse < level), "none") for s in runs.values()]
    return " / ".join(first)


def p5_autoencoders(cfg: P5Settings, device: torch.device) -> P5Result:
    """5.2's corruption, 5.3's linear auto-encoders against PCA, 5.4's 2-D auto-encoder per seed."""
    train_x, _ = mnist("train", cfg.train_size)
    (test_x, test_y), neighbours = _eval_sets(cfg.profile)
    judge = _judge(cfg.profile, device)
    pca = analysis.PCA.fit(train_x, max([*cfg.linear_latent_dims, cfg.latent_dim]) + 1)
    generator = torch.Generator().manual_seed(cfg.seeds[0])
    linear = []
    for recipe in linear_recipes(cfg):
        model, _ = autoencoder(recipe, device)
        k = recipe.latent_dim
        basis = model.decoder[0].weight.detach().cpu()  # (784, k): its columns span the reconstructions
        angles = torch.rad2deg(analysis.principal_angles(basis, pca.components[:, :k]))
        random = torch.rad2deg(analysis.principal_angles(torch.randn(784, k, generator=generator), pca.components[:, :k]))
        gram = basis.T @ basis
        cosines = gram / torch.outer(gram.diag().sqrt(), gram.diag().sqrt()) - torch.eye(k)
        linear.append(LinearRow(k, _mse(model, test_x, device), pca.reconstruction_mse(test_x, k), angles.mean().item(),
                                angles.max().item(), random.min().item(), cosines.abs().max().item(),
                                (pca.variances[k - 1] / pca.variances[k]).item()))  # fmt: skip
    mlp, first = {}, None
    for recipe in mlp_recipes(cfg):
        model, history = autoencoder(recipe, device)
        mlp[recipe.seed] = AEScores(*_score(model, test_x, test_y, neighbours, judge, device), history=history)
        first = model if first is None else first
    d = cfg.latent_dim
    pca_reconstructions = pca.decode(pca.encode(test_x, d), (1, 28, 28))
    pca_knn, _ = analysis.knn_accuracy(pca.encode(neighbours[0], d).numpy(), neighbours[1].numpy(),
                                       pca.encode(test_x, d).numpy(), test_y.numpy())  # fmt: skip
    noise_images = torch.rand(500, 1, 28, 28, generator=generator)
    shown = test_x[:NUM_SHOWN]
    return P5Result(
        list(cfg.seeds), cfg.num_epochs, cfg.linear_epochs, p5_corruption(cfg), linear, mlp,
        pca.reconstruction_mse(test_x, d), pca_knn, _reading_matrix(judge, pca_reconstructions.clamp(0, 1), test_y, device),
        _reading_matrix(judge, test_x, test_y, device), _mse(first, noise_images, device), shown, test_y[:NUM_SHOWN],
        predict(first, shown, device), noise_images[:NUM_SHOWN], predict(first, noise_images[:NUM_SHOWN], device),
        _codes_of(first, test_x, device), pca.encode(test_x, d).numpy(), test_y.numpy(),
        sum(p.numel() for p in first.parameters()), plots.architecture_rows(first.cpu(), (1, 28, 28)),
    )  # fmt: skip


def export_hand_in_models(folder, device: torch.device, p5: P5Settings | None = None, p6: P6Settings | None = None) -> list[str]:
    """The first training seed's models under the file names the handout asks for (the
    previous build's files are replaced): ``mnist_ae.pt`` from ``p5``, the four
    convolutional auto-encoders from ``p6``."""
    recipes = {"mnist_ae.pt": mlp_recipes(p5)[0]} if p5 else {}
    if p6:
        names = dict(zip(CONV_VARIANTS, HAND_IN_NAMES, strict=True))
        recipes |= {names[variant]: runs[0] for variant, runs in conv_recipes(p6).items()}
    for name, recipe in recipes.items():
        save_checkpoint(autoencoder(recipe, device)[0], folder / name, overwrite=True)
    return list(recipes)


def p5_linear_rows(result: P5Result) -> list[list]:
    return [[r.latent_dim, r.ae_mse, r.pca_mse, f"{r.ae_mse / r.pca_mse:.3f}", f"{r.mean_angle:.1f} / {r.max_angle:.1f}",
             f"{r.random_min_angle:.1f}", f"{r.max_cosine:.2f}"] for r in result.linear]  # fmt: skip


def _top_misreadings(matrix: np.ndarray, top: int = 3) -> str:
    total = matrix.sum(1)
    pairs = analysis.most_confused_pairs(matrix, top)
    return ", ".join(f"{t} read as {p} ({_percent(n / total[t])} of the {t}s)" for t, p, n in pairs)


def _misread_as(matrix: np.ndarray, top: int = 3) -> str:
    """The digits that the ``top`` most frequent misreadings are read as: "9", "8 or 9"."""
    return analysis.join_words([str(t) for t in sorted({int(p) for _, p, _ in analysis.most_confused_pairs(matrix, top)})], "or")


def p5_summary(result: P5Result) -> dict[str, str]:
    mses = [s.test_mse for s in result.mlp.values()]
    knns = [s.knn for s in result.mlp.values()]
    reading = sum(s.reading for s in result.mlp.values())
    per_digit = _per_digit(reading)
    order = np.argsort(per_digit)
    best = max(result.linear, key=lambda r: r.max_angle)
    worst = min(result.linear, key=lambda r: r.max_angle)
    return {
        "measured_std": f"{result.corruption.measured_std:.3f}",
        "measured_rate": f"{result.corruption.measured_rate:.3f}",
        "linear_ratio_range": ", ".join(f"{r.ae_mse / r.pca_mse:.3f} at $k = {r.latent_dim}$" for r in result.linear),
        "linear_angles": ", ".join(f"{r.max_angle:.1f}° at $k = {r.latent_dim}$" for r in result.linear),
        "linear_random_angle": f"{min(r.random_min_angle for r in result.linear):.0f}°",
        "linear_max_cosine": f"{max(r.max_cosine for r in result.linear):.2f}",
        "linear_max_cosine_k": str(max(result.linear, key=lambda r: r.max_cosine).latent_dim),
        "linear_far_k": str(best.latent_dim),
        "linear_far_ratio": f"{best.variance_ratio:.2f}",
        "linear_near_k": str(worst.latent_dim),
        "linear_epochs": str(result.linear_epochs),
        "mlp_mse": format_mean_sd(mses),
        "pca_mse": f"{result.pca_mse:.4f}",
        "mlp_vs_pca": f"{result.pca_mse / np.mean(mses):.2f}",
        "mlp_knn": format_mean_sd(knns, 100, "%"),
        "pca_knn": _percent(result.pca_knn),
        "noise_mse": f"{result.noise_image_mse:.3f}",
        "num_seeds": str(len(result.seeds)),
        "num_epochs": str(result.num_epochs),
        "num_test": f"{len(result.labels):,}",
        "parameters": f"{result.parameters:,}",
        "reading_mlp": _percent(np.trace(reading) / reading.sum()),
        "reading_pca": _percent(np.trace(result.pca_reading) / result.pca_reading.sum()),
        "reading_originals": _percent(np.trace(result.judge_on_originals) / result.judge_on_originals.sum()),
        "worst_digits": ", ".join(f"{d} ({_percent(per_digit[d])})" for d in order[:3]),
        "best_digits": ", ".join(f"{d} ({_percent(per_digit[d])})" for d in order[::-1][:3]),
        "misreadings": _top_misreadings(reading),
        "outside_view": str(_outside(result.codes)),
        "separate_digits": separation(result.mlp)[0],
        "mixed_digits": separation(result.mlp)[1],
    }


def p5_reading_rows(result: P5Result) -> list[list]:
    mlp = [_per_digit(s.reading) for s in result.mlp.values()]
    pca, originals = _per_digit(result.pca_reading), _per_digit(result.judge_on_originals)
    return [[d, _percent(originals[d]), format_mean_sd([m[d] for m in mlp], 100, "%"), _percent(pca[d])] for d in range(10)]


def p5_curve_figure(result: P5Result) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5.0, 2.6))
    _band(ax, [s.history["train_mse"] for s in result.mlp.values()], "train (running mean over the epoch)", "-o")
    _band(ax, [s.history["test_mse"] for s in result.mlp.values()], "test (after the epoch)", "--s")
    ax.axhline(result.pca_mse, color="grey", lw=1, ls=":", label="PCA, 2 components (test)")
    ax.set(xlabel="epoch", ylabel="per-pixel MSE")
    ax.legend(fontsize=8)
    return fig


def p5_reconstruction_figure(result: P5Result) -> plt.Figure:
    return plots.image_rows([list(result.shown), list(result.reconstructions), list(result.noise_images),
                             list(result.noise_outputs)],  # fmt: skip
                            ["test image", "reconstruction", "noise image", "its output"], "",
                            column_labels=None, cell_inches=0.62, label_size=10)  # fmt: skip


def p5_embedding_figure(result: P5Result) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.5))
    embedding(result.codes, result.labels, "(a) 2-D auto-encoder", axes[0])
    embedding(result.pca_codes, result.labels, "(b) PCA, first 2 components", axes[1], legend=False)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


def p5_metrics(result: P5Result, cfg: P5Settings) -> dict:
    return {
        "settings": cfg.model_dump(),
        "linear_vs_pca": [vars(r) for r in result.linear],
        "mlp_test_mse_per_seed": {str(s): v.test_mse for s, v in result.mlp.items()},
        "mlp_knn5_per_seed": {str(s): v.knn for s, v in result.mlp.items()},
        "pca_test_mse": result.pca_mse,
        "pca_knn5": result.pca_knn,
        "noise_image_mse": result.noise_image_mse,
        "evaluation": f"all 10,000 test images; 5-NN neighbours: the codes of {NEIGHBOUR_IMAGES:,} training images",
        "exported": f"mnist_ae.pt (seed {result.seeds[0]})",
    }


# --- shared figure helpers ---------------------------------------------------------------


def _band(ax, runs: list[list[float]], label: str, style: str) -> None:
    """Mean over training seeds, with the seeds' min-max range shaded."""
    values = np.asarray(runs)
    epochs = np.arange(1, values.shape[1] + 1)
    (line,) = ax.plot(epochs, values.mean(0), style, markersize=3, label=label)
    if len(values) > 1:
        ax.fill_between(epochs, values.min(0), values.max(0), color=line.get_color(), alpha=0.2, lw=0)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))


def _view(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Axis limits: the 1st-99th percentile of each coordinate plus a 10% margin."""
    low, high = np.percentile(codes, 1, axis=0), np.percentile(codes, 99, axis=0)
    margin = 0.1 * (high - low)
    return low - margin, high + margin


def _outside(codes: np.ndarray) -> int:
    low, high = _view(codes)
    return int((~((codes >= low) & (codes <= high)).all(1)).sum())


def embedding(codes: np.ndarray, labels: np.ndarray, title: str, ax: plt.Axes, legend: bool = True) -> None:
    """2-D codes coloured by digit, each digit's median marked, the view clipped to the central
    98% of each coordinate so that outliers do not squeeze the clusters."""
    cmap = matplotlib.colormaps["tab10"]
    for digit in range(10):
        points = codes[labels == digit]
        ax.scatter(points[:, 0], points[:, 1], s=1.5, alpha=0.5, color=cmap(digit), label=str(digit), rasterized=True)
        ax.text(*np.median(points, axis=0), str(digit), fontsize=9, weight="bold", ha="center", va="center",
                bbox={"boxstyle": "circle,pad=0.15", "facecolor": "white", "edgecolor": cmap(digit), "alpha": 0.8})  # fmt: skip
    low, high = _view(codes)
    ax.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]), title=title, xlabel="$z_1$", ylabel="$z_2$")
    ax.tick_params(labelsize=8)
    if legend:  # one legend under the whole figure, off the data
        ax.get_figure().legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=10, markerscale=6, fontsize=8,
                               title="digit", title_fontsize=8, frameon=False)  # fmt: skip


# --- Problem 6 ---------------------------------------------------------------------------


@dataclass
class P6Result:
    seeds: list[int]
    num_epochs: int
    noise_std: float
    scores: dict[str, dict[int, AEScores]]  # by variant ("6.1", "6.2", "6.3", "6.3 skips"), then seed
    mlp: dict[int, AEScores]  # Problem 5.4's auto-encoders, for comparison
    noisy_input_mse: float
    class_mean_mse: float  # every test image replaced by the mean training image of its digit
    mean_image_mse: float  # ... by the mean training image
    dead_units: dict[str, list[int]]  # 6.1: ReLU units never active on the test set, per seed, by layer
    shown: torch.Tensor
    noisy_shown: torch.Tensor
    outputs: dict[str, torch.Tensor]  # first seed's reconstructions of ``shown`` (clean input), by variant
    noisy_outputs: dict[str, torch.Tensor]  # ... of ``noisy_shown``
    codes: dict[str, np.ndarray]  # first seed's codes of the test images, by variant
    labels: np.ndarray
    architecture: list = field(default_factory=list)
    parameters: int = 0


def _dead_units(model: ConvAutoencoder, images: torch.Tensor) -> dict[str, int]:
    """ReLU units of the two 20-unit layers that output 0 for every test image."""
    with torch.inference_mode():
        pooled = model.encoder.block2(model.encoder.block1(images))
        hidden = model.encoder.to_code[:3](pooled)  # flatten, linear 392 -> 20, ReLU
        codes = model.encoder.to_code[3](hidden)
        decoder_hidden = model.decoder.from_code[:2](codes)  # linear 2 -> 20, ReLU
    return {"encoder": int((hidden.amax(0) == 0).sum()), "decoder": int((decoder_hidden.amax(0) == 0).sum())}


def _scrambled_mse(model: ConvAutoencoder, images: torch.Tensor) -> float:
    """Each test image decoded from another image's code, its own skip maps kept."""
    with torch.inference_mode():
        codes, skips = model.encoder(images)
        order = torch.randperm(len(codes), generator=torch.Generator().manual_seed(SCRAMBLE_SEED))
        return torch.mean((model.decoder(codes[order], skips if model.skip else None) - images) ** 2).item()


def p6_conv_autoencoders(cfg: P6Settings, device: torch.device) -> P6Result:
    """6.1-6.3: every variant per training seed on the same test images (clean, and one fixed
    noisy copy), plus Problem 5.4's auto-encoders loaded for comparison."""
    train_x, train_y = mnist("train", cfg.train_size)
    (test_x, test_y), neighbours = _eval_sets(cfg.profile)
    noisy_x = test_x + cfg.noise_std * torch.randn(test_x.shape, generator=torch.Generator().manual_seed(NOISE_SEED))
    judge = _judge(cfg.profile, device)
    shown = test_x[:NUM_SHOWN]
    scores: dict[str, dict[int, AEScores]] = {}
    outputs, noisy_outputs, codes, dead = {}, {}, {}, {"encoder": [], "decoder": []}
    for variant, recipes in conv_recipes(cfg).items():
        scores[variant] = {}
        for recipe in recipes:
            model, history = autoencoder(recipe, device)
            score = _score(model, test_x, test_y, neighbours, judge, device)
            noisy = _mse(model, test_x, device, noisy_x), _mse(model, noisy_x, device)
            scores[variant][recipe.seed] = AEScores(*score, history, *noisy, _scrambled_mse(model.cpu(), test_x))
            model.to(device)
            if variant == "6.1":
                for layer, n in _dead_units(model.cpu(), test_x).items():
                    dead[layer].append(n)
                model.to(device)
            if recipe.seed == cfg.seeds[0]:
                outputs[variant] = predict(model, shown, device)
                noisy_outputs[variant] = predict(model, noisy_x[:NUM_SHOWN], device)
                codes[variant] = _codes_of(model, test_x, device)
    p5 = P5Settings.check("cpsc663_ex2/p5_autoencoders", {"profile": cfg.profile})  # Problem 5's models, from the cache
    mlp = {}
    for recipe in mlp_recipes(p5):
        model, history = autoencoder(recipe, device)
        score = _score(model, test_x, test_y, neighbours, judge, device)
        mlp[recipe.seed] = AEScores(*score, history, _mse(model, test_x, device, noisy_x), _mse(model, noisy_x, device))
    class_means = torch.stack([train_x[train_y == d].mean(0) for d in range(10)])
    plain = ConvAutoencoder()
    return P6Result(
        list(cfg.seeds), cfg.num_epochs, cfg.noise_std, scores, mlp, torch.mean((noisy_x - test_x) ** 2).item(),
        torch.mean((class_means[test_y] - test_x) ** 2).item(), torch.mean((train_x.mean(0) - test_x) ** 2).item(),
        dead, shown, noisy_x[:NUM_SHOWN], outputs, noisy_outputs, codes, test_y.numpy(),
        plots.architecture_rows(plain, (1, 28, 28)), sum(p.numel() for p in plain.parameters()),
    )  # fmt: skip


VARIANT_NAMES = {"6.1": "6.1 CAE", "6.2": "6.2 CAE + skips", "6.3": "6.3 denoising CAE", "6.3 skips": "6.3 denoising CAE + skips"}


def _stat(runs: dict[int, AEScores], name: str, scale: float = 1.0, unit: str = "") -> str:
    return format_mean_sd([getattr(s, name) for s in runs.values()], scale, unit)


def p6_model_rows(result: P6Result) -> list[list]:
    """Every 2-D auto-encoder of Problems 5.4 and 6 on clean inputs, mean ± sd over training seeds."""
    rows = [["5.4 MLP auto-encoder", _stat(result.mlp, "test_mse"), "–", _stat(result.mlp, "knn", 100, "%")]]
    for variant, runs in result.scores.items():
        increase = [s.scrambled_mse / s.test_mse for s in runs.values()]
        rows.append([VARIANT_NAMES[variant], _stat(runs, "test_mse"), format_mean_sd(increase, unit="×"),
                     _stat(runs, "knn", 100, "%")])  # fmt: skip
    return rows


def p6_noise_rows(result: P6Result) -> list[list]:
    """6.3: clean and noisy inputs, outputs compared with the clean and with the noisy image."""
    runs = {"5.4 MLP auto-encoder": result.mlp} | {VARIANT_NAMES[v]: r for v, r in result.scores.items()}
    rows = [[name, _stat(r, "test_mse"), _stat(r, "noisy_mse"), _stat(r, "to_noisy_mse")] for name, r in runs.items()]
    return rows + [["the noisy input itself", "–", f"{result.noisy_input_mse:.4f}", "0"]]


def p6_reading_rows(result: P6Result) -> list[list]:
    columns = [result.mlp] + list(result.scores.values())
    per_digit = [[_per_digit(s.reading) for s in runs.values()] for runs in columns]
    return [[d] + [format_mean_sd([m[d] for m in runs], 100, "%") for runs in per_digit] for d in range(10)]


def _mean(runs: dict[int, AEScores], name: str) -> float:
    return float(np.mean([getattr(s, name) for s in runs.values()]))


def p6_summary(result: P6Result) -> dict[str, str]:
    s = result.scores
    cae_reading = sum(x.reading for x in s["6.1"].values())
    per_digit = _per_digit(cae_reading)
    order = np.argsort(per_digit)
    curve = np.mean([x.history["test_mse"] for x in s["6.1"].values()], axis=0)
    increase = {v: np.mean([x.scrambled_mse / x.test_mse for x in runs.values()]) for v, runs in s.items()}
    noisy_penalty = {v: _mean(runs, "noisy_mse") / _mean(runs, "test_mse") for v, runs in s.items()}
    best = min(s, key=lambda v: _mean(s[v], "noisy_mse"))
    separate = {v: separation(runs) for v, runs in s.items()}
    return {
        "cae_epoch2_mse": f"{curve[min(1, len(curve) - 1)]:.4f}",
        "cae_separate": separate["6.1"][0],
        "cae_mixed": separate["6.1"][1],
        "skip_separate": separate["6.2"][0],
        "dae_separate": separate["6.3"][0],
        "dae_mixed": separate["6.3"][1],
        "skip_dae_separate": separate["6.3 skips"][0],
        "skip_to_noisy": _stat(s["6.2"], "to_noisy_mse"),
        "skip_dae_to_noisy": _stat(s["6.3 skips"], "to_noisy_mse"),
        "dae_to_noisy": _stat(s["6.3"], "to_noisy_mse"),
        "num_seeds": str(len(result.seeds)),
        "num_epochs": str(result.num_epochs),
        "noise_std": f"{result.noise_std:g}",
        "num_test": f"{len(result.labels):,}",
        "parameters": f"{result.parameters:,}",
        "cae_mse": _stat(s["6.1"], "test_mse"),
        "mlp_mse": _stat(result.mlp, "test_mse"),
        "cae_knn": _stat(s["6.1"], "knn", 100, "%"),
        "mlp_knn": _stat(result.mlp, "knn", 100, "%"),
        "cae_reading": _percent(np.trace(cae_reading) / cae_reading.sum()),
        "cae_worst_digits": ", ".join(f"{d} ({_percent(per_digit[d])})" for d in order[:3]),
        "cae_misreadings": _top_misreadings(cae_reading),
        "cae_misread_as": _misread_as(cae_reading),
        "cae_epoch_mse": ", ".join(f"{v:.4f}" for v in curve[: min(4, len(curve))]),
        "cae_final_mse": f"{curve[-1]:.4f}",
        "class_mean_mse": f"{result.class_mean_mse:.4f}",
        "mean_image_mse": f"{result.mean_image_mse:.4f}",
        "cae_class_mean_epochs": passing_epochs(s["6.1"], result.class_mean_mse),
        "dead_encoder": " / ".join(map(str, result.dead_units["encoder"])),
        "dead_decoder": " / ".join(map(str, result.dead_units["decoder"])),
        "skip_mse": _stat(s["6.2"], "test_mse"),
        "skip_gain": f"{_mean(s['6.1'], 'test_mse') / _mean(s['6.2'], 'test_mse'):.1f}",
        "skip_knn": _stat(s["6.2"], "knn", 100, "%"),
        "cae_scramble": f"{increase['6.1']:.1f}",
        "skip_scramble": f"{increase['6.2']:.2f}",
        "noisy_input_mse": f"{result.noisy_input_mse:.4f}",
        "cae_noisy": _stat(s["6.1"], "noisy_mse"),
        "skip_noisy": _stat(s["6.2"], "noisy_mse"),
        "dae_noisy": _stat(s["6.3"], "noisy_mse"),
        "skip_dae_noisy": _stat(s["6.3 skips"], "noisy_mse"),
        "cae_noise_penalty": f"{noisy_penalty['6.1']:.2f}",
        "skip_noise_penalty": f"{noisy_penalty['6.2']:.1f}",
        "skip_dae_gain": f"{_mean(s['6.2'], 'noisy_mse') / _mean(s['6.3 skips'], 'noisy_mse'):.1f}",
        "dae_gain": f"{_mean(s['6.1'], 'noisy_mse') / _mean(s['6.3'], 'noisy_mse'):.2f}",
        "best_denoiser": VARIANT_NAMES[best],
        "dae_knn": _stat(s["6.3"], "knn", 100, "%"),
        "skip_dae_knn": _stat(s["6.3 skips"], "knn", 100, "%"),
        "dae_scramble": f"{increase['6.3']:.1f}",
        "skip_dae_scramble": f"{increase['6.3 skips']:.2f}",
        "outside_view": str(max(_outside(c) for c in result.codes.values())),
        "mlp_to_noisy": _stat(result.mlp, "to_noisy_mse"),
    }


def p6_reconstruction_figure(result: P6Result) -> plt.Figure:
    """Rows 1-3: clean test images and the 6.1 and 6.2 reconstructions; rows 4-8: the same
    images with noise and every network's output for them."""
    clean = [list(result.shown), list(result.outputs["6.1"]), list(result.outputs["6.2"])]
    noisy = [list(result.noisy_shown.clamp(0, 1))] + [list(result.noisy_outputs[v]) for v in CONV_VARIANTS]
    labels = ["test image", "6.1", "6.2 skips", "noisy input", "6.1", "6.2 skips", "6.3 denoising", "6.3 den. + skips"]
    return plots.image_rows(clean + noisy, labels, "", cell_inches=0.55, label_size=10)


def p6_embedding_figure(result: P6Result) -> plt.Figure:
    fig, axes = plt.subplots(2, 2, figsize=(6.4, 6.4))
    for i, (ax, variant) in enumerate(zip(axes.flat, CONV_VARIANTS, strict=True)):
        embedding(result.codes[variant], result.labels, f"({'abcd'[i]}) {VARIANT_NAMES[variant]}", ax, legend=i == 0)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def p6_curve_figure(result: P6Result) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.6), sharey=True)
    for ax, variants, title in ((axes[0], ("6.1", "6.2"), "(a) trained on clean images"),
                                (axes[1], ("6.3", "6.3 skips"), "(b) denoising (6.3), noisy inputs")):  # fmt: skip
        for variant, marker in zip(variants, "os", strict=True):
            runs = result.scores[variant].values()
            _band(ax, [s.history["train_mse"] for s in runs], f"{VARIANT_NAMES[variant]}, train", f"-{marker}")
            _band(ax, [s.history["test_mse"] for s in runs], f"{VARIANT_NAMES[variant]}, test", f"--{marker}")
        ax.set(title=title, xlabel="epoch", yscale="log")
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7.5, loc="upper right")
    axes[0].set_ylabel("per-pixel MSE (log scale)")
    fig.tight_layout()
    return fig


def p6_metrics(result: P6Result, cfg: P6Settings) -> dict:
    per_seed = {variant: {str(seed): {"test_mse": s.test_mse, "noisy_input_mse": s.noisy_mse, "knn5": s.knn,
                                      "scrambled_code_mse": s.scrambled_mse}  # fmt: skip
                          for seed, s in runs.items()} for variant, runs in result.scores.items()}  # fmt: skip
    return {
        "settings": cfg.model_dump(),
        "per_seed": per_seed,
        "class_mean_mse": result.class_mean_mse,
        "dead_units_6_1": result.dead_units,
        "evaluation": f"all 10,000 test images; one noisy copy (seed {NOISE_SEED}); "
        f"5-NN neighbours: {NEIGHBOUR_IMAGES:,} training codes",
        "exported": f"mnist_cae.pt, mnist-cae-skip.pt and the two denoising models (seed {result.seeds[0]})",
    }
