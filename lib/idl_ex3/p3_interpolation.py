"""Problem 3 of idl_ex3: interpolating between two digits through the course auto-encoder's
codes and through the noise of P2's latent GANs.  :func:`run` draws the endpoints of both
sides by one rule, walks every path (codes: straight line; noise: straight line and great
circle), decodes every point and scores the paths with the judges; the other functions turn
the result into the report's figure, table rows, glued values and metrics.

The endpoint rule, the same for both sides: each side gets ``num_candidates`` candidates
(the codes of that many test images for the auto-encoder, that many Gaussian noise vectors
for a GAN), every candidate is decoded, and the endpoints of digit ``c`` are the
``endpoints_per_digit`` candidates whose decoded image the judge gives the highest
probability of ``c``.  The test labels are not used.  A scored pair draws two different
digits and a rank among these candidates for each end; every path kind uses the same pairs
and ranks.  GAN training seed ``gan_seeds[r]`` is paired with the ``r``-th block of test
images (the auto-encoder's candidates) and noise seed ``NOISE_SEED + r``.

Comparisons are paired (the same digit pairs and endpoint ranks): the difference of two path
kinds is averaged per GAN training seed (its spread: sample sd over the seeds) and over all
paths (its 95% interval: a bootstrap over the GAN training seeds and the digit pairs).  A
control walks the straight line between a GAN's own endpoint codes, to separate the effect
of the endpoints from that of the path through the noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import stats
from torch import nn

from lib import judging, train, zoo
from lib.analysis import join_words, mean_std
from lib.idl_ex3 import P3Settings, autoencoder, gan

DESIGNS = ("linear", "range")  # P2's generator designs
DESIGN_NAMES = {"linear": "linear-output design", "range": "range-matched design"}  # as Problem 2 names them
SHORT_DESIGN = {"linear": "linear-output", "range": "range-matched"}  # in table rows
INTERPOLATIONS = ("lerp", "slerp")  # straight line, great circle
AE = "ae"
GAN_METHODS = tuple(f"{d}/{i}" for d in DESIGNS for i in INTERPOLATIONS)
METHODS = (AE, *GAN_METHODS)
CONTROLS = tuple(f"{d}/codes" for d in DESIGNS)  # the straight line between a GAN's endpoint codes
METHOD_NAMES = {  # table rows ("noise": the GAN's noise; "endpoint codes": the control)
    AE: "AE codes, lerp",
    **{f"{d}/{i}": f"noise {i}, {SHORT_DESIGN[d]}" for d in DESIGNS for i in INTERPOLATIONS},
    **{f"{d}/codes": f"endpoint codes lerp, {SHORT_DESIGN[d]}" for d in DESIGNS},
}
PROSE_NAMES = {f"{d}/{i}": f"{i} through the noise of the {DESIGN_NAMES[d]}" for d in DESIGNS for i in INTERPOLATIONS}
SHOWN_PAIRS = ((4, 9), (0, 1), (3, 8))  # fixed in advance, not picked by their scores
NOISE_SEED = 1000  # candidate noise vectors with GAN training seed gan_seeds[r]: torch seed NOISE_SEED + r
PAIR_SEED = 0  # the scored digit pairs and endpoint ranks
BOOTSTRAP_SEED, BOOTSTRAP_DRAWS = 0, 2000  # the resampled digit pairs of every interval
MINUS = "\u2212"
# The per-path measures, each with whether lower is better
LOWER_IS_BETTER = {
    "end_prob": False,  # the judge's probability of the intended digit at the two ends
    "confidence": False,  # the judge's mean largest probability on the interior images
    "third": True,  # the path has an interior point read as neither endpoint's digit
    "third_second": True,  # the same under the second judge
    "switches": True,  # changes of the judge's reading along the path
    "step_share": True,  # the largest pixel step as a share of the path's summed steps
    "jump": True,  # the largest total-variation change of the judge's probabilities between neighbours
    "detour": True,  # length of the path in code space over the distance of its endpoint codes
}


@dataclass
class P3Result:
    cfg: P3Settings
    num_steps: int
    ts: np.ndarray  # (T,) weight of the second endpoint
    pairs: np.ndarray  # (P, 2) digits of each scored pair (start, end)
    per_path: dict[str, dict[str, np.ndarray]]  # method -> measure -> (GAN training seeds, P)
    fd: dict[str, list[float]]  # method -> FD of the interior images, per GAN training seed
    references: dict[str, dict[str, float]]  # reference image sets -> {"fd", "confidence"}
    reference_size: int
    norms: dict[str, float]
    shown_design: str
    shown: list[dict]  # per shown pair: {"pair", "rows": {row label: (images (T, 1, 28, 28), readings (T,))}}
    visit_index: int | None  # the scored pair (seed 0) shown last because its slerp path visits a third digit
    judge_accuracy: float
    second_accuracy: float

    @property
    def num_seeds(self) -> int:
        return len(self.cfg.gan_seeds)

    def seed_means(self, method: str, key: str) -> np.ndarray:
        """One value per GAN training seed (mean over the scored pairs; FD: of the set of interior images)."""
        if key == "fd":
            return np.asarray(self.fd[method], dtype=np.float64)
        return self.per_path[method][key].astype(np.float64).mean(1)


# --- paths --------------------------------------------------------------------------------


def lerp(a: torch.Tensor, b: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Points (P, T, d) on the straight segments from ``a`` (P, d) to ``b`` (P, d)."""
    t = ts.view(1, -1, 1)
    return (1 - t) * a[:, None] + t * b[:, None]


def slerp(a: torch.Tensor, b: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Points (P, T, d) on the great circles from ``a`` to ``b`` (spherical interpolation):
    the angle between the two directions is walked at constant speed, so for endpoints of
    equal norm every point keeps that norm; nearly parallel endpoints fall back to lerp."""
    cos = ((a / a.norm(dim=1, keepdim=True)) * (b / b.norm(dim=1, keepdim=True))).sum(1).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)[:, None]  # (P, 1)
    t = ts.view(1, -1)
    sin = torch.sin(omega).clamp_min(1e-6)
    wa, wb = torch.sin((1 - t) * omega) / sin, torch.sin(t * omega) / sin  # (P, T)
    parallel = (omega < 1e-4).expand_as(wa)
    wa, wb = torch.where(parallel, 1 - t.expand_as(wa), wa), torch.where(parallel, t.expand_as(wb), wb)
    return wa[..., None] * a[:, None] + wb[..., None] * b[:, None]


def _endpoints(probs: torch.Tensor, per_digit: int) -> torch.Tensor:
    """(10, per_digit) candidate indices: for each digit, the candidates with the highest judge
    probability of that digit, most probable first (ties: lower index first)."""
    order = np.argsort(-probs.numpy(), axis=0, kind="stable")  # (N, 10)
    return torch.from_numpy(order[:per_digit].T.copy())


def _path_measures(
    codes: torch.Tensor, images: torch.Tensor, probs: torch.Tensor, probs2: torch.Tensor, pairs: np.ndarray
) -> dict:
    """Per-path measures of the code paths ``codes`` (P, T, 64), their decoded images
    (P, T, 1, 28, 28) and the judges' probabilities (P, T, 10)."""
    start, end = torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])
    idx = torch.arange(len(pairs))
    steps = (images[:, 1:] - images[:, :-1]).flatten(2).norm(dim=2)  # (P, T-1) pixel change per step
    code_length = (codes[:, 1:] - codes[:, :-1]).norm(dim=2).sum(1)
    read, read2 = probs.argmax(-1), probs2.argmax(-1)  # (P, T)
    third = ((read != start[:, None]) & (read != end[:, None]))[:, 1:-1].any(1)
    third2 = ((read2 != start[:, None]) & (read2 != end[:, None]))[:, 1:-1].any(1)
    return {
        "end_prob": ((probs[idx, 0, start] + probs[idx, -1, end]) / 2).numpy(),
        "confidence": probs[:, 1:-1].max(-1).values.mean(1).numpy(),
        "third": third.float().numpy(),
        "third_second": third2.float().numpy(),
        "switches": (read[:, 1:] != read[:, :-1]).sum(1).float().numpy(),
        "step_share": (steps.max(1).values / steps.sum(1).clamp_min(1e-12)).numpy(),
        "jump": (0.5 * (probs[:, 1:] - probs[:, :-1]).abs().sum(-1)).max(1).values.numpy(),  # total variation
        "detour": (code_length / (codes[:, -1] - codes[:, 0]).norm(dim=1).clamp_min(1e-12)).numpy(),
    }


def _noise_norm_share(norms: torch.Tensor | float, noise_dim: int) -> torch.Tensor:
    """Share of the generator's training noise N(0, I) whose norm is at most ``norms``:
    |z|^2 is chi-square with ``noise_dim`` degrees of freedom."""
    r = torch.as_tensor(norms, dtype=torch.float64)
    return torch.special.gammainc(torch.tensor(noise_dim / 2, dtype=torch.float64), r**2 / 2)


def run(cfg: P3Settings, device: torch.device) -> P3Result:
    """Every path of every GAN training seed, scored; the shown paths; the reference rows."""
    profile = cfg.profile
    ae_recipe, test_size = autoencoder.recipe(profile), autoencoder.TEST_IMAGES[profile]
    num_seeds = len(cfg.gan_seeds)
    if num_seeds * cfg.num_candidates > test_size:
        raise ValueError(
            f"p3: {num_seeds} GAN seeds x num_candidates={cfg.num_candidates} need more than the {test_size} test images "
            f"of profile {profile!r}; fix: num_candidates={test_size // num_seeds} or fewer"
        )
    model, _ = autoencoder.course_autoencoder(ae_recipe, device, test_size)
    judge, second = autoencoder.judges(profile, device)
    generators = {
        (design, seed): gan.latent_gan(gan.gan_recipe(profile, design, seed), ae_recipe, device, test_size)[0].generator
        for seed in cfg.gan_seeds
        for design in DESIGNS
    }
    test_x, test_y = zoo.mnist_images("test", test_size)
    _, reference_features = judging.judge_outputs(judge, test_x, device)
    ts = torch.linspace(0.0, 1.0, cfg.num_steps)
    rng = np.random.default_rng(PAIR_SEED)
    first = rng.integers(10, size=cfg.num_scored_pairs)
    pairs = np.stack([first, (first + rng.integers(1, 10, size=cfg.num_scored_pairs)) % 10], 1)  # two different digits
    ranks = rng.integers(cfg.endpoints_per_digit, size=(cfg.num_scored_pairs, 2))
    shown_pairs = np.array(SHOWN_PAIRS[: cfg.num_shown_pairs])
    noise_dim = generators[(DESIGNS[0], cfg.gan_seeds[0])].noise_dim

    def decode_and_read(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Codes (P, T, 64) -> images (P, T, 1, 28, 28), both judges' probabilities, the judge's features."""
        p, t = codes.shape[:2]
        images = judging.judge_view(gan.decode(model.decoder, codes.flatten(0, 1), device))
        probs, features = judging.judge_outputs(judge, images, device)
        probs2, _ = judging.judge_outputs(second, images, device)
        return images.view(p, t, 1, 28, 28), probs.view(p, t, -1), probs2.view(p, t, -1), features.view(p, t, -1)

    per_path: dict[str, dict[str, list]] = {m: {} for m in METHODS + CONTROLS}
    fd: dict[str, list[float]] = {m: [] for m in METHODS + CONTROLS}
    end_norms, lerp_mid_norms, slerp_mid_norms = [], [], []
    shown_paths: dict[str, tuple] = {}
    scored_paths: dict[str, tuple] = {}  # method -> the scored paths of the first GAN training seed
    for r, seed in enumerate(cfg.gan_seeds):
        # the auto-encoder's candidates: the codes of the r-th block of test images
        block = test_x[r * cfg.num_candidates : (r + 1) * cfg.num_candidates]
        candidates = {AE: train.predict(model.encoder, block, device)}
        noise = torch.randn(cfg.num_candidates, noise_dim, generator=torch.Generator().manual_seed(NOISE_SEED + r))
        for design in DESIGNS:
            candidates[design] = noise
        for source, points in candidates.items():
            generator = None if source == AE else generators[(source, seed)]
            codes = points if generator is None else gan.sample_codes(generator, 0, device, noise=points)
            probs, _ = judging.judge_outputs(judge, gan.decode(model.decoder, codes, device), device)
            chosen = _endpoints(probs, cfg.endpoints_per_digit)  # (10, k)
            ends = chosen[pairs[:, 0], ranks[:, 0]], chosen[pairs[:, 1], ranks[:, 1]]
            shown_ends = chosen[shown_pairs[:, 0], 0], chosen[shown_pairs[:, 1], 0]  # the most probable endpoints
            # (method, the points walked between, how, whether they are noise for the generator)
            walks = [(AE, points, lerp, False)] if generator is None else [
                (f"{source}/lerp", points, lerp, True),
                (f"{source}/slerp", points, slerp, True),
                (f"{source}/codes", codes, lerp, False),
            ]  # fmt: skip
            for method, space, walk, is_noise in walks:
                path = walk(space[ends[0]], space[ends[1]], ts)
                path_codes = _generate(generator, path, device) if is_noise else path
                images, probs_path, probs2, features = decode_and_read(path_codes)
                for key, value in _path_measures(path_codes, images, probs_path, probs2, pairs).items():
                    per_path[method].setdefault(key, []).append(value)
                fd[method].append(judging.frechet_distance(features[:, 1:-1].flatten(0, 1), reference_features))
                if r == 0 and method in METHODS:
                    scored_paths[method] = (images, probs_path.argmax(-1))
                    shown_path = walk(space[shown_ends[0]], space[shown_ends[1]], ts)
                    shown_codes = _generate(generator, shown_path, device) if is_noise else shown_path
                    shown_images, shown_probs, _, _ = decode_and_read(shown_codes)
                    shown_paths[method] = (shown_images, shown_probs.argmax(-1))
            if generator is not None and source == DESIGNS[0]:  # the noise endpoints, the same for both designs
                a, b = points[ends[0]], points[ends[1]]
                end_norms += [a.norm(dim=1), b.norm(dim=1)]
                lerp_mid_norms.append(lerp(a, b, torch.tensor([0.5]))[:, 0].norm(dim=1))
                slerp_mid_norms.append(slerp(a, b, torch.tensor([0.5]))[:, 0].norm(dim=1))
    stacked = {m: {k: np.stack(v) for k, v in measures.items()} for m, measures in per_path.items()}

    # reference rows: real training images and their reconstructions, sets as large as one path set's interior
    reference_size = cfg.num_scored_pairs * (cfg.num_steps - 2)
    train_x, _ = zoo.mnist_images("train", reference_size)
    references = {}
    for name, images in (("real", train_x), ("reconstructed", train.predict(model, train_x, device))):
        probs, features = judging.judge_outputs(judge, images, device)
        references[name] = {
            "fd": judging.frechet_distance(features, reference_features),
            "confidence": float(probs.max(1).values.mean()),
        }

    end_norm, lerp_mid, slerp_mid = (torch.cat(v) for v in (end_norms, lerp_mid_norms, slerp_mid_norms))
    norms = {
        "noise_dim": float(noise_dim),
        "typical": float(np.sqrt(noise_dim)),
        "endpoint_median": float(end_norm.median()),
        "lerp_mid_median": float(lerp_mid.median()),
        "slerp_mid_median": float(slerp_mid.median()),
        "lerp_mid_share": float(_noise_norm_share(lerp_mid.median(), noise_dim)),
        "slerp_mid_share": float(_noise_norm_share(slerp_mid.median(), noise_dim)),
        "endpoint_share": float(_noise_norm_share(end_norm.median(), noise_dim)),
    }
    mean_fd = {d: np.mean(fd[f"{d}/lerp"] + fd[f"{d}/slerp"]) for d in DESIGNS}
    shown_design = min(DESIGNS, key=lambda d: mean_fd[d])
    rows = {"AE codes": AE, "noise lerp": f"{shown_design}/lerp", "noise slerp": f"{shown_design}/slerp"}
    shown = [
        {
            "pair": tuple(int(c) for c in pair),
            "rows": {label: (shown_paths[m][0][i], shown_paths[m][1][i]) for label, m in rows.items()},
        }
        for i, pair in enumerate(shown_pairs)
    ]
    # the pair shown last, by a fixed rule: the first scored pair of the first GAN training seed, in the order
    # drawn, whose slerp path through the shown design's noise visits a third digit (with its scored endpoints)
    visits = np.flatnonzero(stacked[f"{shown_design}/slerp"]["third"][0] > 0)
    visit_index = int(visits[0]) if len(visits) else None
    if visit_index is not None:
        rows_visit = {label: (scored_paths[m][0][visit_index], scored_paths[m][1][visit_index]) for label, m in rows.items()}
        shown.append({"pair": tuple(int(c) for c in pairs[visit_index]), "rows": rows_visit})
    return P3Result(
        cfg=cfg,
        num_steps=cfg.num_steps,
        ts=ts.numpy(),
        pairs=pairs,
        per_path=stacked,
        fd=fd,
        references=references,
        reference_size=reference_size,
        norms=norms,
        shown_design=shown_design,
        shown=shown,
        visit_index=visit_index,
        judge_accuracy=train.evaluate_accuracy(judge, judging.judge_view(test_x), test_y, device),
        second_accuracy=train.evaluate_accuracy(second, judging.judge_view(test_x), test_y, device),
    )


def _generate(generator: nn.Module, noise: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Codes (P, T, 64) of noise paths (P, T, noise_dim)."""
    codes = gan.sample_codes(generator, 0, device, noise=noise.flatten(0, 1))
    return codes.view(*noise.shape[:2], -1)


# --- statistics -----------------------------------------------------------------------------


def _bootstrap_index(num_pairs: int) -> np.ndarray:
    """(draws, P) resampled digit-pair indices, the same for every interval (deterministic)."""
    return np.random.default_rng(BOOTSTRAP_SEED).integers(num_pairs, size=(BOOTSTRAP_DRAWS, num_pairs))


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean of per-path ``values`` (GAN training seeds, P) over all paths and its 95% bootstrap
    interval: each draw resamples the GAN training seeds and the digit pairs (the same pairs for
    every drawn seed, which shares them), so the interval holds the spread between trained GANs too."""
    values = values.astype(np.float64)
    pairs = _bootstrap_index(values.shape[1])
    seeds = np.random.default_rng(BOOTSTRAP_SEED + 1).integers(len(values), size=(len(pairs), len(values)))
    boot = np.array([values[seeds[b]][:, pairs[b]].mean() for b in range(len(pairs))])
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(values.mean()), float(low), float(high)


@dataclass
class Difference:
    """A paired difference ``other - base``: mean, sample sd of the per-seed means over the GAN
    training seeds, and a 95% interval (per-path measures: bootstrap over the seeds and the digit pairs; FD,
    one value per seed: Student's t over the seeds)."""

    mean: float
    sd: float
    low: float
    high: float
    per_seed: list[float]


def difference(r: P3Result, key: str, base: str, other: str) -> Difference:
    """The paired difference ``other - base`` of measure ``key`` (see :class:`Difference`)."""
    if key == "fd":
        per_seed = r.seed_means(other, key) - r.seed_means(base, key)
        mean, sd = mean_std(per_seed)
        half = float(stats.t.ppf(0.975, len(per_seed) - 1)) * sd / np.sqrt(len(per_seed)) if len(per_seed) > 1 else 0.0
        return Difference(mean, sd, mean - half, mean + half, [float(v) for v in per_seed])
    paths = r.per_path[other][key].astype(np.float64) - r.per_path[base][key].astype(np.float64)
    mean, low, high = _interval(paths)
    per_seed = paths.mean(1)
    return Difference(mean, mean_std(per_seed)[1], low, high, [float(v) for v in per_seed])


def _sign(d: Difference) -> int:
    """+1 / -1 when the 95% interval lies above / below zero, else 0."""
    return 1 if d.low > 0 else (-1 if d.high < 0 else 0)


# --- formatting -----------------------------------------------------------------------------


def _decimals(spread: float) -> int:
    """Decimals that show one significant digit of ``spread`` (at most three)."""
    if not np.isfinite(spread) or spread <= 0:
        return 3
    return min(3, max(0, -int(np.floor(np.log10(spread)))))


def _num(value: float, decimals: int, signed: bool = False) -> str:
    text = f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("+-")
    return text.replace("-", MINUS)


def _difference_cell(d: Difference, scale: float, dec: int) -> str:
    """ "+23 ± 7 [+18, +28]": mean ± sd over the seeds [95% interval]."""
    return (
        f"{_num(d.mean * scale, dec, True)} ± {_num(d.sd * scale, dec)} "
        f"[{_num(d.low * scale, dec, True)}, {_num(d.high * scale, dec, True)}]"
    )


def _range_text(cells: list[tuple[float, str]]) -> str:
    """ "from A to B" over (sort value, text) items, or the one text when they coincide."""
    ordered = sorted(cells)
    low, high = ordered[0][1], ordered[-1][1]
    return low if low == high else f"from {low} to {high}"


def _msd(values, decimals: int, scale: float = 1.0, unit: str = "") -> str:
    """ "23 ± 3": mean ± sample sd with a fixed number of decimals (one format per table column)."""
    mean, sd = mean_std(np.asarray(values, dtype=np.float64) * scale)
    return f"{_num(mean, decimals)}{unit} ± {_num(sd, decimals)}{unit}"


def _probability(values) -> str:
    """An endpoint probability, mean ± sd over the seeds with three decimals (they all lie close to 1)."""
    mean, sd = mean_std(values)
    return f"{mean:.3f} ± {sd:.3f}"


# --- the figure ---------------------------------------------------------------------------


def paths_figure(r: P3Result) -> plt.Figure:
    """The decoded shown paths: per pair, the AE path and the shown GAN design's noise paths
    (lerp, slerp).  The judge's reading stands right of each image, red when it is neither
    endpoint's digit."""
    cell, gap_x, label_width, hspace = 0.32, 0.14, 1.4, 0.08  # inches (hspace: of a row's height)
    rows_per_pair, num_cols = len(r.shown[0]["rows"]), r.num_steps
    heights = []
    for k in range(len(r.shown)):
        heights += [1.0] * rows_per_pair + ([0.3] if k < len(r.shown) - 1 else [])
    bottom, top = 0.45, 0.05  # inches: tick labels and the axis title
    width = label_width + num_cols * (cell + gap_x)
    height = cell * (sum(heights) + hspace * (len(heights) - 1) * np.mean(heights)) + bottom + top  # square images
    fig = plt.figure(figsize=(width, height))
    grid = fig.add_gridspec(len(heights), num_cols, height_ratios=heights, hspace=hspace, wspace=gap_x / cell,
                            left=label_width / width, right=1 - gap_x / width, top=1 - top / height,
                            bottom=bottom / height)  # fmt: skip
    grid_row = 0
    for k, shown in enumerate(r.shown):
        start, end = shown["pair"]
        for j, (label, (images, readings)) in enumerate(shown["rows"].items()):
            for c in range(num_cols):
                ax = fig.add_subplot(grid[grid_row, c])
                ax.imshow(images[c].reshape(28, 28).numpy(), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
                ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
                read = int(readings[c])
                foreign = read not in (start, end)
                ax.text(1.06, 0.5, str(read), transform=ax.transAxes, ha="left", va="center", fontsize=9,
                        color="#d00000" if foreign else "black", fontweight="bold" if foreign else "normal")  # fmt: skip
                if c == 0:
                    text = f"{start} → {end}: {label}" if j == 0 else label
                    ax.set_ylabel(text, rotation=0, ha="right", va="center", fontsize=9, labelpad=4)
                if k == len(r.shown) - 1 and j == rows_per_pair - 1:
                    ax.set_xlabel(f"{r.ts[c]:.1f}", fontsize=9)
            grid_row += 1
        grid_row += 1  # the gap row
    left = label_width / width
    fig.text((1 + left) / 2, 0.01, "$t$ (weight of the right-hand digit)", ha="center", va="bottom", fontsize=9)
    return fig


def _fixed_pairs(r: P3Result) -> str:
    return join_words([f"{a} → {b}" for a, b in SHOWN_PAIRS[: r.cfg.num_shown_pairs]])


def paths_caption(r: P3Result) -> str:
    fixed = r.cfg.num_shown_pairs
    last = (
        f" Bottom pair, by a fixed rule: the first scored pair of training seed {r.cfg.gan_seeds[0]}, in the order drawn, "
        f"whose noise slerp path visits a third digit (pair {r.visit_index + 1} of {r.cfg.num_scored_pairs}), between "
        "its scored endpoints."
        if r.visit_index is not None
        else ""
    )
    return (
        f"Interpolation paths from $t = 0$ (left) to $t = 1$ (right). Per digit pair: the AE codes, then the noise of the "
        f"GAN of the {DESIGN_NAMES[r.shown_design]} (training seed {r.cfg.gan_seeds[0]}) by lerp and by slerp. "
        f"{'Top pairs' if fixed > 1 else 'Top pair'} ({_fixed_pairs(r)}): fixed before any run, between the endpoints "
        f"the judge finds most probable.{last} Right of each image: the judge's reading, red and bold when it is neither "
        "endpoint's digit."
    )


# --- the tables -------------------------------------------------------------------------------

TABLE_METHODS = METHODS + CONTROLS


def realism_headers() -> list[str]:
    return ["path", "endpoint $p$", "interior FD"]


def realism_rows(r: P3Result) -> list[list[str]]:
    """Endpoint quality and the realism of the interior points per path kind (mean ± sd over
    the GAN training seeds), then the reference image sets."""
    rows = [
        [
            METHOD_NAMES[m],
            _probability(r.seed_means(m, "end_prob")),
            _fd(r, m),
        ]
        for m in TABLE_METHODS
    ]
    for name, label in (("real", "real training images"), ("reconstructed", "AE reconstructions of them")):
        ref = r.references[name]
        rows.append([f"reference: {label}", "–", _num(ref["fd"], FD_DECIMALS)])
    return rows


def realism_caption(r: P3Result) -> str:
    return (
        f"Endpoint quality and realism per path kind: mean ± sample sd over the {r.num_seeds} GAN training seeds "
        f"({r.cfg.num_scored_pairs} digit pairs each; AE codes: over the {r.num_seeds} endpoint draws). Noise lerp, "
        "noise slerp: paths through the noise of the GAN of that design of Problem 2; endpoint codes lerp: the control, "
        "the straight line between the codes the generator makes of the same two noise vectors. Endpoint $p$: the "
        "judge's probability of the intended digit at the two ends. Interior FD (lower is more realistic): of the "
        "points with $0 < t < 1$. "
        f"Reference rows: {r.reference_size:,} real training images and the AE reconstructions of them, no path."
    )


SMOOTHNESS_COLUMNS = (  # (key, header, scale, decimals): one format per column
    ("third", "3rd digit (%)", 100.0, 1),
    ("third_second", "2nd judge (%)", 100.0, 1),
    ("step_share", "max step (%)", 100.0, 1),
    ("detour", "detour", 1.0, 2),
)
FD_DECIMALS = 1  # every interior FD of the realism table and the prose


def smoothness_headers() -> list[str]:
    return ["path"] + [header for _, header, _, _ in SMOOTHNESS_COLUMNS]


def smoothness_rows(r: P3Result) -> list[list[str]]:
    """The smoothness measures per path kind: mean ± sample sd over the GAN training seeds."""
    return [
        [METHOD_NAMES[m]] + [_msd(r.seed_means(m, key), dec, scale) for key, _, scale, dec in SMOOTHNESS_COLUMNS]
        for m in TABLE_METHODS
    ]


def smoothness_caption(r: P3Result) -> str:
    return (
        f"Smoothness per path kind (lower is smoother): mean ± sample sd over the {r.num_seeds} GAN training seeds "
        f"({r.cfg.num_scored_pairs} digit pairs each). 3rd digit: share of paths with an interior point that the judge "
        "reads as neither endpoint's digit; 2nd judge: the same under the second judge. Max step: the path's largest "
        f"pixel step as a share of its summed steps ({100 / (r.num_steps - 1):.0f}% = even change). Detour: length of "
        "the path in code space over the distance of its endpoint codes (1 = straight line)."
    )


DIFFERENCE_COLUMNS = (("third", "3rd digit (pp)", 100.0, 0), ("fd", "interior FD", 1.0, 0))  # (key, header, scale, decimals)


def comparisons() -> list[tuple[str, str, str]]:
    """(base, other, label) of the rows of the difference table."""
    rows = [(AE, m, f"{METHOD_NAMES[m]} − AE") for m in GAN_METHODS]
    rows += [(f"{d}/lerp", f"{d}/slerp", f"noise slerp − noise lerp, {SHORT_DESIGN[d]}") for d in DESIGNS]
    return rows + [(f"{d}/codes", f"{d}/slerp", f"noise slerp − endpoint codes lerp, {SHORT_DESIGN[d]}") for d in DESIGNS]


def difference_headers() -> list[str]:
    return ["paired difference"] + [header for _, header, _, _ in DIFFERENCE_COLUMNS]


def difference_rows(r: P3Result) -> list[list[str]]:
    return [
        [label] + [_difference_cell(difference(r, key, base, other), scale, dec) for key, _, scale, dec in DIFFERENCE_COLUMNS]
        for base, other, label in comparisons()
    ]


def difference_caption(r: P3Result) -> str:
    return (
        "Paired differences between path kinds (the same digit pairs and endpoint ranks; positive: the first has more; "
        f"pp: percentage points): mean ± sample sd over the {r.num_seeds} GAN training seeds; in brackets a 95% interval "
        f"(3rd digit: bootstrap over the GAN training seeds and the {r.cfg.num_scored_pairs} digit pairs; FD: Student's $t$ "
        "over the seeds)."
    )


# --- glued values ----------------------------------------------------------------------------


def _verdicts(r: P3Result) -> dict[str, str]:
    """The verdict, computed: smoother by the paired third-digit differences (every GAN noise
    path kind's interval on one side of zero), more realistic by the best GAN path kind's FD."""
    signs = {_sign(difference(r, "third", AE, m)) for m in GAN_METHODS}
    best = min(GAN_METHODS, key=lambda m: float(np.mean(r.fd[m])))
    fd_sign = _sign(difference(r, "fd", AE, best))
    if signs == {1}:
        smooth, preferred = "the AE paths are smoother than every GAN noise path kind", "the AE paths"
    elif signs == {-1}:
        smooth, preferred = "every GAN noise path kind is smoother than the AE paths", "the GAN noise paths"
    else:
        smooth = "neither side is smoother for every GAN noise path kind"
        preferred = {1: "the AE paths", -1: f"the GAN paths ({PROSE_NAMES[best]})", 0: "neither side"}[fd_sign]
    per_seed = difference(r, "fd", AE, best).per_seed
    lower = sum(value < 0 for value in per_seed)
    realism = {
        -1: f"the most realistic GAN path kind, {PROSE_NAMES[best]}, is more realistic than the AE paths",
        1: f"even the most realistic GAN path kind, {PROSE_NAMES[best]}, is less realistic than the AE paths",
        # an interval that contains zero does not show equal realism: say which way the seeds lean
        0: f"the most realistic GAN path kind, {PROSE_NAMES[best]}, is not shown to differ from the AE paths, "
        f"though its interior FD is the lower one in {lower} of {len(per_seed)} GAN training seeds",
    }[fd_sign]
    reason = (
        "ranking smoothness over realism: a path through a third digit does not morph one digit into the other, however "
        "realistic its images"
        if signs in ({1}, {-1})
        else "as neither side is smoother and realism decides"
    )
    return {"smooth_verdict": smooth, "realism_verdict": realism, "preferred": preferred, "preference_reason": reason,
            "best_gan": PROSE_NAMES[best], "best_gan_key": best}  # fmt: skip


def _with_interval(d: Difference, scale: float = 1.0, unit: str = "", interval: bool = True, bound_signs: bool = False) -> str:
    """ "+6 pp [+2, +11]": a paired difference with one significant digit of its spread and,
    if ``interval``, its 95% interval; ``bound_signs`` adds a decimal (up to two) wherever a
    bound would otherwise print as 0, so that its sign shows."""
    dec = _decimals(max(d.sd, (d.high - d.low) / 3.92) * scale)
    while bound_signs and dec < 2 and any(bound != 0 and round(abs(bound) * scale, dec) == 0 for bound in (d.low, d.high)):
        dec += 1
    bracket = f" [{_num(d.low * scale, dec, True)}, {_num(d.high * scale, dec, True)}]" if interval else ""
    return f"{_num(d.mean * scale, dec, True)}{unit}{bracket}"


def _diff_range(r: P3Result, key: str, pairs: list[tuple[str, str]], scale: float, unit: str = "") -> str:
    """The smallest and largest paired difference ``other - base`` over ``pairs``, each with its interval."""
    cells = []
    for base, other in pairs:
        d = difference(r, key, base, other)
        cells.append((d.mean, _with_interval(d, scale, unit)))
    return _range_text(cells)


def _per_design(r: P3Result, key: str, base: str, other: str, scale: float = 1.0, unit: str = "", interval: bool = True) -> str:
    """The paired difference ``other - base`` per design ("{d}" in the names), with its interval."""
    parts = []
    for d in DESIGNS:
        diff = difference(r, key, base.format(d=d), other.format(d=d))
        parts.append(f"{_with_interval(diff, scale, unit, interval)} ({DESIGN_NAMES[d]})")
    return " and ".join(parts)


def _fd(r: P3Result, method: str) -> str:
    return _msd(r.seed_means(method, "fd"), FD_DECIMALS)


BEND_WORDS = {  # (sign of control - AE, sign of noise slerp - control) in third-digit visits -> where the excess comes from
    (0, 1): "from the path through the noise; the endpoints' share, {control_vs_ae}, has an interval that includes zero",
    (1, 1): "from both the endpoints and the path through the noise",
    (1, 0): "from the endpoints; the path's own share, {path_vs_control}, has an interval that includes zero",
}


def _bend_attribution(r: P3Result) -> str:
    """Per design, where the noise paths' extra third-digit visits come from, by the control's paired differences."""
    parts = []
    for d in DESIGNS:
        control_vs_ae = difference(r, "third", AE, f"{d}/codes")
        path_vs_control = difference(r, "third", f"{d}/codes", f"{d}/slerp")
        key = (_sign(control_vs_ae), _sign(path_vs_control))
        # an unresolved share is given with its interval (pp), so the reader sees how close it is
        cells = {name: _with_interval(diff, 100, " pp", bound_signs=True)
                 for name, diff in (("control_vs_ae", control_vs_ae), ("path_vs_control", path_vs_control))}  # fmt: skip
        parts.append(f"for the {DESIGN_NAMES[d]}, {BEND_WORDS.get(key, 'from neither clearly').format(**cells)}")
    return "; ".join(parts)


def _length_text(r: P3Result) -> str:
    """Whether the length of the bend (detour) predicts third-digit visits, by the paired slerp - lerp
    differences per design: slerp bending more yet visiting less (all intervals) says it does not."""
    detour = {d: difference(r, "detour", f"{d}/lerp", f"{d}/slerp") for d in DESIGNS}
    third = {d: difference(r, "third", f"{d}/lerp", f"{d}/slerp") for d in DESIGNS}
    numbers = (
        f"slerp − lerp changes the detour by {join_words([_num(detour[d].mean, 2, True) for d in DESIGNS])} and third-digit "
        f"visits by {join_words([_num(third[d].mean * 100, 0, True) + ' pp' for d in DESIGNS])} "
        f"({' and '.join(SHORT_DESIGN[d] for d in DESIGNS)} design)"
    )
    opposite = all(_sign(detour[d]) == 1 and _sign(third[d]) == -1 for d in DESIGNS) or all(
        _sign(detour[d]) == -1 and _sign(third[d]) == 1 for d in DESIGNS
    )
    if opposite:
        return (
            f"The length of the bend does not predict the visits: {numbers}. What may matter is the direction of "
            "the bend, towards codes of a third digit, not its length; we have not tested this."
        )
    return f"How the length of the bend relates to the visits stays open: {numbers}."


def _slerp_effect(r: P3Result) -> str:
    """What slerp does against lerp, by the signs of the paired differences of both designs."""
    fd = {_sign(difference(r, "fd", f"{d}/lerp", f"{d}/slerp")) for d in DESIGNS}
    third = {_sign(difference(r, "third", f"{d}/lerp", f"{d}/slerp")) for d in DESIGNS}
    lowered = [name for name, signs in (("the interior FD", fd), ("the third-digit visits", third)) if signs == {-1}]
    if lowered:
        return f"lowers {' and '.join(lowered)} for both designs"
    return "lowers neither the interior FD nor the third-digit visits for both designs"


def _gan_third(r: P3Result) -> str:
    """The GAN noise path kinds' third-digit shares, the lowest and the highest, each mean ± sd over the seeds."""
    cells = sorted((float(r.per_path[m]["third"].mean()), _msd(r.seed_means(m, "third"), 1, 100, "%")) for m in GAN_METHODS)
    return cells[0][1] if cells[0][1] == cells[-1][1] else f"{cells[0][1]} to {cells[-1][1]}"


def _shown_text(r: P3Result) -> str:
    pairs = "pairs" if r.cfg.num_shown_pairs > 1 else "pair"
    text = f"{r.cfg.num_shown_pairs} digit {pairs} fixed before any run ({_fixed_pairs(r)})"
    if r.visit_index is None:
        return text + " (no scored slerp path of the first training seed visits a third digit, so none is added)"
    return (
        text + " and, at the bottom, one chosen by a fixed rule: the first scored pair of the first training seed, in "
        "the order drawn, whose noise slerp path visits a third digit"
    )


def summary(r: P3Result) -> dict[str, str]:
    """The values the prose glues."""
    n, v = r.norms, _verdicts(r)
    best = v["best_gan_key"]
    fd_best = difference(r, "fd", AE, best)
    dec = _decimals(fd_best.sd)
    end_probs = [(float(np.mean(r.seed_means(f"{d}/lerp", "end_prob"))), _probability(r.seed_means(f"{d}/lerp", "end_prob")))
                 for d in DESIGNS]  # fmt: skip
    return {
        **{k: val for k, val in v.items() if k != "best_gan_key"},
        "num_candidates": f"{r.cfg.num_candidates:,}",
        "endpoints_per_digit": str(r.cfg.endpoints_per_digit),
        "num_scored_pairs": str(r.cfg.num_scored_pairs),
        "num_seeds": str(r.num_seeds),
        "num_paths": f"{r.cfg.num_scored_pairs * r.num_seeds:,}",
        "num_steps": str(r.num_steps),
        "even_step": f"{100 / (r.num_steps - 1):.0f}%",
        "judge_accuracy": f"{100 * r.judge_accuracy:.1f}%",
        "second_accuracy": f"{100 * r.second_accuracy:.1f}%",
        "ae_end_prob": _probability(r.seed_means(AE, "end_prob")),
        "gan_end_prob": _range_text(end_probs),
        "shown_design": DESIGN_NAMES[r.shown_design],
        "num_shown": str(len(r.shown)),
        "shown_pairs": _shown_text(r),
        "typical_norm": f"{n['typical']:.2f}",
        "endpoint_norm": f"{n['endpoint_median']:.2f}",
        "lerp_mid_norm": f"{n['lerp_mid_median']:.2f}",
        "slerp_mid_norm": f"{n['slerp_mid_median']:.2f}",
        "lerp_mid_share": f"{100 * n['lerp_mid_share']:.1f}%",
        # smoothness
        "ae_third": _msd(r.seed_means(AE, "third"), 1, 100, "%"),
        "gan_third": _gan_third(r),
        "third_diff": _diff_range(r, "third", [(AE, m) for m in GAN_METHODS], 100, " pp"),
        "third_second_diff": _diff_range(r, "third_second", [(AE, m) for m in GAN_METHODS], 100, " pp"),
        "ae_step": _msd(r.seed_means(AE, "step_share"), 2, 100, "%"),  # its sd over seeds is a few hundredths
        "step_diff": _diff_range(r, "step_share", [(AE, m) for m in GAN_METHODS], 100, " pp"),
        # realism
        "ae_fd": _fd(r, AE),
        "gan_fd": _range_text([(float(np.mean(r.fd[m])), _fd(r, m)) for m in GAN_METHODS]),
        "fd_best_diff": f"{_num(fd_best.mean, dec, True)} ± {_num(fd_best.sd, dec)} "
        f"[{_num(fd_best.low, dec, True)}, {_num(fd_best.high, dec, True)}; Student's t over the seeds]",
        "recon_fd": _num(r.references["reconstructed"]["fd"], FD_DECIMALS),
        # why
        "control_vs_ae_third": _per_design(r, "third", AE, "{d}/codes", 100, " pp"),
        "bend_attribution": _bend_attribution(r),
        "control_fd_diff": _per_design(r, "fd", "{d}/codes", "{d}/slerp", interval=False),
        # lerp against slerp
        "length_text": _length_text(r),
        "slerp_effect": _slerp_effect(r),
    }


def metrics(r: P3Result) -> dict:
    """The notebook's numbers as JSON."""
    keys = [k for k in LOWER_IS_BETTER] + ["fd"]
    return {
        "settings": r.cfg.model_dump(),
        "judge_test_accuracy": r.judge_accuracy,
        "second_judge_test_accuracy": r.second_accuracy,
        "spread": f"per GAN training seed gan_seeds[r] (paired with test-image block r and noise seed {NOISE_SEED} + r); "
        f"intervals: 95% bootstrap over the GAN training seeds and the digit pairs ({BOOTSTRAP_DRAWS} draws, seed "
        f"{BOOTSTRAP_SEED}); FD: Student's t",
        "per_seed": {m: {key: [float(x) for x in r.seed_means(m, key)] for key in keys} for m in TABLE_METHODS},
        "mean_and_interval": {m: {key: list(_interval(r.per_path[m][key])) for key in LOWER_IS_BETTER} for m in TABLE_METHODS},
        "paired_differences": {
            label: {key: vars(difference(r, key, base, other)) for key in ("third", "third_second", "step_share", "jump", "fd")}
            for base, other, label in comparisons()
        },
        "references": r.references,
        "reference_size": r.reference_size,
        "noise_norms": r.norms,
        "verdicts": _verdicts(r),
        "shown_design": r.shown_design,
    }
