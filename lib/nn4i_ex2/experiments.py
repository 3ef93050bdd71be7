"""One function per question of nn4i_ex2: each trains or loads what it needs, measures,
and returns plain results (a dataclass); the notebooks draw and discuss them.

The models each question needs are declared by ``*_recipes`` functions, so that a build
can list (and train) every model before the notebooks run.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass, replace

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

from lib import analysis, data, judging, models, plots, train, zoo
from lib.analysis import format_mean_sd
from lib.nn4i_ex2 import Q1Settings, Q2Settings, Q3Settings, Q4Settings
from lib.nn4i_ex2.models import (
    TRANSFER_EPOCHS,
    AERecipe,
    ConvAutoencoder,
    autoencoder,
    matched_hidden_units,
    mnist,
    recipe,
)
from lib.nn4i_ex2.transfer import (
    BATCH_SIZE,
    BN_FIXED,
    CLASSIFIER_LR,
    ENCODER_LR,
    FINE_TUNED,
    FROZEN,
    HIDDEN_UNITS,
    SCRATCH,
    WEIGHT_DECAY,
    FewLabelRuns,
    few_label_runs,
    short_frozen_name,
)

# --- the models each question needs ---------------------------------------------------


def matched_depth_recipes(profile: str, conv_layer_counts: list[int]) -> list[AERecipe]:
    """Depth sweep with the parameter count held at the default model's: the fully
    connected width shrinks where fewer stride-2 layers leave a larger feature map."""
    base = recipe(profile)
    target = models.count_parameters(
        ConvAutoencoder(base.latent_dim, base.num_conv_layers, base.base_channels, base.hidden_units)
    )
    out = []
    for layers in conv_layer_counts:
        width = matched_hidden_units(layers, target, base.latent_dim, base.base_channels)
        if width != base.hidden_units:
            out.append(replace(base, num_conv_layers=layers, hidden_units=width))
    return out


def headline_recipes(profile: str, num_seeds: int) -> list[AERecipe]:
    base = recipe(profile)
    return [replace(base, seed=base.seed + i) for i in range(num_seeds)]


def long_recipe(profile: str) -> AERecipe:
    """The default model trained for Q4's longer schedule (also Q1's convergence check)."""
    return recipe(profile, num_epochs=TRANSFER_EPOCHS[profile])


def q1_recipes(s: Q1Settings) -> list[AERecipe]:
    p = s.profile
    return [
        *(recipe(p, latent_dim=d) for d in s.latent_dims),
        *(recipe(p, num_conv_layers=layers) for layers in s.conv_layer_counts),
        *matched_depth_recipes(p, s.conv_layer_counts),
        *headline_recipes(p, s.headline_seeds),
        long_recipe(p),
    ]


def q2_recipes(s: Q2Settings) -> list[AERecipe]:
    return [recipe(s.profile, latent_dim=d) for d in s.latent_dims]


def q3_recipes(s: Q3Settings) -> list[AERecipe]:
    base = recipe(s.profile)
    return [recipe(s.profile, latent_dim=d, seed=base.seed + i) for i in range(s.num_seeds) for d in s.latent_dims]


def q4_recipes(s: Q4Settings) -> list[AERecipe]:
    return [long_recipe(s.profile), recipe(s.profile)]


def all_recipes(profile: str) -> list[AERecipe]:
    """Every auto-encoder the four questions need under ``profile``, each once, longest first."""
    found = q1_recipes(Q1Settings.check("nn4i_ex2", {"profile": profile}))
    found += q2_recipes(Q2Settings.check("nn4i_ex2", {"profile": profile}))
    found += q3_recipes(Q3Settings.check("nn4i_ex2", {"profile": profile}))
    found += q4_recipes(Q4Settings.check("nn4i_ex2", {"profile": profile}))
    return sorted(dict.fromkeys(found), key=lambda r: -r.num_epochs)


# --- Q1: auto-encoding ----------------------------------------------------------------


@dataclass
class AEScore:
    """One trained auto-encoder and its reconstruction errors (per-pixel MSE, 28x28, eval mode)."""

    recipe: AERecipe
    parameters: int
    train_mse: float  # on the first 10,000 of its training images (fewer in the drafts)
    test_mse: float
    history: dict


@dataclass
class Q1Result:
    latent_sweep: list[AEScore]
    depth_sweep: list[AEScore]
    matched_depth_sweep: list[AEScore]  # parameter count held at the default model's
    pca_test_mse: dict[int, float]  # PCA with d components, same training images
    headline: list[AEScore]  # the default model, one per training seed
    long_run: AEScore  # the default model trained on Q4's longer schedule
    shown: torch.Tensor  # test digits of the reconstruction figure
    reconstructions: dict[int, torch.Tensor]  # d -> their reconstructions
    architecture: list[list]  # rows of the default model's layer table
    test_size: int


def _score(
    spec: AERecipe, train_eval_x: torch.Tensor, test_x: torch.Tensor, device: torch.device
) -> tuple[AEScore, ConvAutoencoder]:
    model, history = autoencoder(spec, device)
    parameters = models.count_parameters(model)
    train_mse = train.evaluate_mse_plain(model, train_eval_x, device)
    return AEScore(spec, parameters, train_mse, train.evaluate_mse_plain(model, test_x, device), history), model


def q1_autoencoding(s: Q1Settings, device: torch.device) -> Q1Result:
    """Both sweeps, the parameter-matched depth sweep, PCA at the same d, the headline
    spread over seeds and the convergence check against the longer schedule."""
    base = recipe(s.profile)
    test_x, _ = mnist("test", base.test_size)
    train_x, _ = mnist("train", base.train_size)
    train_eval_x = train_x[:10000]

    def score(spec):
        return _score(spec, train_eval_x, test_x, device)

    latent = {d: score(recipe(s.profile, latent_dim=d)) for d in s.latent_dims}
    depth = [score(recipe(s.profile, num_conv_layers=layers))[0] for layers in s.conv_layer_counts]
    matched = {r.num_conv_layers: score(r)[0] for r in matched_depth_recipes(s.profile, s.conv_layer_counts)}
    matched.update({r.recipe.num_conv_layers: r for r in depth if r.recipe.num_conv_layers not in matched})
    pca = analysis.PCA.fit(train_x, max(s.latent_dims))
    shown = test_x[: s.num_shown]
    default_model = score(base)[1]
    return Q1Result(
        latent_sweep=[latent[d][0] for d in s.latent_dims],
        depth_sweep=depth,
        matched_depth_sweep=[matched[layers] for layers in sorted(matched)],
        pca_test_mse={d: pca.reconstruction_mse(test_x, d) for d in s.latent_dims},
        headline=[score(r)[0] for r in headline_recipes(s.profile, s.headline_seeds)],
        long_run=score(long_recipe(s.profile))[0],
        shown=shown,
        reconstructions={d: train.predict(model, shown, device) for d, (_, model) in latent.items()},
        architecture=plots.architecture_rows(default_model, (1, 28, 28)),
        test_size=len(test_x),
    )


def _log_axis(ax, values, axis: str = "y", ticks=None) -> None:
    """Log scale with plain-number tick labels: ``ticks``, or round values inside the data's range."""
    lo, hi = min(values), max(values)
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    if ticks is None:  # 1-2-5 steps over more than a decade, finer steps over less (labels must not collide)
        steps = (1, 2, 5) if hi / lo > 10 else (1, 1.5, 2, 3, 5, 7)
        ticks = [m * 10.0**e for e in range(-6, 6) for m in steps if lo / 1.2 <= m * 10.0**e <= hi * 1.2]
    (ax.set_yticks if axis == "y" else ax.set_xticks)(ticks, [f"{t:g}" for t in ticks])
    (ax.yaxis if axis == "y" else ax.xaxis).set_minor_formatter(matplotlib.ticker.NullFormatter())


def q1_learning_figure(r: Q1Result) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    values = []
    for score in r.latent_sweep:
        curve = score.history["test_mse"]
        axes[0].plot(range(1, len(curve) + 1), curve, "-o", markersize=3, label=f"d = {score.recipe.latent_dim}")
        values += curve
    axes[0].set(title="(a) latent-size sweep", xlabel="epoch", ylabel="test MSE per pixel")
    axes[0].set_xticks(range(1, len(r.latent_sweep[0].history["test_mse"]) + 1))
    _log_axis(axes[0], values)
    axes[0].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    short, long = r.headline[0], r.long_run
    for score, style in ((short, "-o"), (long, "-s")):
        curve = score.history["test_mse"]
        epochs = score.recipe.num_epochs
        axes[1].plot(range(1, len(curve) + 1), curve, style, markersize=3, label=f"{epochs}-epoch schedule")
    axes[1].set(
        title=f"(b) d = {short.recipe.latent_dim}: sweep schedule against a longer one",
        xlabel="epoch",
        ylabel="test MSE per pixel",
    )
    _log_axis(axes[1], short.history["test_mse"] + long.history["test_mse"])
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def q1_sweep_figure(r: Q1Result) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    ds = [score.recipe.latent_dim for score in r.latent_sweep]
    ae, pca = [score.test_mse for score in r.latent_sweep], [r.pca_test_mse[d] for d in ds]
    axes[0].plot(ds, ae, "-o", label="conv auto-encoder")
    axes[0].plot(ds, pca, "-s", label="PCA, d components")
    _log_axis(axes[0], ds, "x", ticks=ds)
    _log_axis(axes[0], ae + pca)
    axes[0].set(title="(a) test error against latent size", xlabel="latent size d (log scale)", ylabel="test MSE per pixel")
    axes[0].legend(fontsize=7)
    for sweep, style, name in ((r.depth_sweep, "-o", "FC width 256"), (r.matched_depth_sweep, "--s", "parameters held fixed")):
        layers = [score.recipe.num_conv_layers for score in sweep]
        axes[1].plot(layers, [score.test_mse for score in sweep], style, label=name)
        for score in sweep if sweep is r.depth_sweep else []:  # the other sweep is all near the default's size
            axes[1].annotate(
                f"{score.parameters / 1e3:.0f}k",
                (score.recipe.num_conv_layers, score.test_mse),
                fontsize=7,
                textcoords="offset points",
                xytext=(6, -2),
            )
    axes[1].set(
        title=f"(b) test error against depth, d = {r.depth_sweep[0].recipe.latent_dim}",
        xlabel="stride-2 convolutions in the encoder",
        ylabel="test MSE per pixel",
    )
    axes[1].set_xticks(sorted({score.recipe.num_conv_layers for score in r.depth_sweep}))
    axes[1].margins(x=0.15, y=0.12)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def q1_reconstruction_figure(r: Q1Result) -> plt.Figure:
    rows = [list(r.shown)] + [list(images) for images in r.reconstructions.values()]
    return plots.image_rows(rows, ["test digit"] + [f"d = {d}" for d in r.reconstructions], "")


# --- Q2: interpolation ----------------------------------------------------------------

JUDGE_EPOCHS = {"full": 5, "quick": 1, "smoke": 1}  # the judge idl_ex3 uses too (one cached model)
SHOWN_PAIRS = [(4, 9), (0, 1), (3, 8), (2, 7), (5, 6), (1, 7), (0, 6), (3, 5), (8, 9), (2, 4)]
PIXEL_BLEND = "pixel cross-fade"


@dataclass
class Q2Result:
    latent_dims: list[int]
    alphas: np.ndarray  # weight of the first image at each point, 1 -> 0
    shown_pairs: list[tuple[int, int]]
    shown_paths: list[dict[str, torch.Tensor]]  # per shown pair: method -> (steps, 1, 28, 28)
    methods: list[str]  # the pixel cross-fade, then one auto-encoder per d
    confidence: dict[str, np.ndarray]  # (scored pairs, steps): the judge's largest class probability
    path_fd: dict[str, float]  # Frechet distance of all interior images to real test images
    bootstrap_sd: dict[str, dict[str, float]]  # method -> measure -> sd over resampled pairs
    reference_fd: dict[str, float]  # the same distance for real test images and for reconstructions
    abruptness: dict[str, np.ndarray]  # (scored pairs,): largest step / mean step along the path, pixels
    third_digit: dict[str, float]  # share of interior images the judge calls neither endpoint's digit
    endpoint_errors: dict[int, list[tuple[int, int]]]  # d -> (digit, decoded as) among the shown endpoints
    endpoint_error_rate: dict[int, float]  # d -> share of scored endpoints decoded as another digit
    judge_accuracy: float
    num_scored_pairs: int
    images_per_set: int


BOOTSTRAP_DRAWS = 50  # resamplings of the scored pairs behind each measurement's spread


def _method(d: int) -> str:
    return f"AE d = {d}"


def _paths(models: dict[int, ConvAutoencoder], first: torch.Tensor, second: torch.Tensor, alphas: torch.Tensor, device) -> dict:
    """Every method's path between ``first[i]`` and ``second[i]``: (pairs, steps, 1, 28, 28)."""
    weights = alphas.view(1, -1, 1, 1, 1)
    out = {PIXEL_BLEND: weights * first[:, None] + (1 - weights) * second[:, None]}
    for d, model in models.items():
        z1, z2 = train.predict(model.encoder, first, device), train.predict(model.encoder, second, device)
        codes = alphas.view(1, -1, 1) * z1[:, None] + (1 - alphas.view(1, -1, 1)) * z2[:, None]  # (pairs, steps, d)
        out[_method(d)] = train.predict(model.decoder, codes.flatten(0, 1), device).view(len(first), len(alphas), 1, 28, 28)
    return out


def q2_interpolation(s: Q2Settings, device: torch.device) -> Q2Result:
    """Paths between test digits of different classes for each d and the pixel cross-fade,
    scored by the judge: Frechet distance of the interior images to real digits (the
    realism measure: real images score best, blur worse), confidence, abruptness."""
    base = recipe(s.profile)
    test_x, test_y = mnist("test", base.test_size)
    judge = zoo.judge(device, num_epochs=JUDGE_EPOCHS[s.profile], train_size=base.train_size)
    models = {d: autoencoder(recipe(s.profile, latent_dim=d), device)[0] for d in s.latent_dims}
    alphas = torch.linspace(1.0, 0.0, s.num_steps)
    # Endpoints come from the first half of the test images, the real reference from the second.
    half = len(test_x) // 2
    pool_x, pool_y, reference_x = test_x[:half], test_y[:half], test_x[half:]
    _, reference_features = judging.judge_outputs(judge, reference_x, device)
    generator = torch.Generator().manual_seed(0)
    first, second = (
        torch.randint(half, (s.num_scored_pairs,), generator=generator),
        torch.randint(half, (s.num_scored_pairs,), generator=generator),
    )
    keep = pool_y[first] != pool_y[second]
    first, second = first[keep], second[keep]
    paths = _paths(models, pool_x[first], pool_x[second], alphas, device)
    interior = slice(1, s.num_steps - 1)
    images_per_set = min(len(first) * (s.num_steps - 2), half)
    confidence, path_fd, abruptness, third_digit, bootstrap_sd = {}, {}, {}, {}, {}
    resamples = torch.randint(len(first), (BOOTSTRAP_DRAWS, len(first)), generator=torch.Generator().manual_seed(1))
    for method, images in paths.items():
        probs, features = judging.judge_outputs(judge, images.flatten(0, 1), device)
        probs, features = probs.view(len(first), s.num_steps, 10), features.view(len(first), s.num_steps, -1)
        confidence[method] = probs.max(-1).values.numpy()
        path_fd[method] = judging.frechet_distance(features[:, interior].flatten(0, 1)[:images_per_set], reference_features)
        steps = (images[:, 1:] - images[:, :-1]).flatten(2).norm(dim=2)  # (pairs, steps - 1)
        abruptness[method] = (steps.max(1).values / steps.mean(1).clamp_min(1e-12)).numpy()
        called = probs[:, interior].argmax(-1)
        neither = (called != pool_y[first, None]) & (called != pool_y[second, None])
        third_digit[method] = neither.float().mean().item()
        interior_features = features[:, interior]
        draws = {"fd": [], "abruptness": [], "detours": [], "midpoint": []}
        for pick in resamples:  # the spread of each measurement over the choice of pairs
            draws["fd"].append(
                judging.frechet_distance(interior_features[pick].flatten(0, 1)[:images_per_set], reference_features)
            )
            draws["abruptness"].append(abruptness[method][pick.numpy()].mean())
            draws["detours"].append(neither[pick].float().mean().item())
            draws["midpoint"].append(confidence[method][pick.numpy(), s.num_steps // 2].mean())
        bootstrap_sd[method] = {name: float(np.std(values, ddof=1)) for name, values in draws.items()}
    real = pool_x[:images_per_set]
    reference_fd = {
        "real test images": judging.frechet_distance(judging.judge_outputs(judge, real, device)[1], reference_features)
    }
    endpoint_errors, endpoint_error_rate = {}, {}
    first_of_class = {c: int(torch.nonzero(test_y == c)[0]) for c in range(10)}
    shown_pairs = SHOWN_PAIRS[: s.num_shown_pairs]
    shown_digits = sorted({c for pair in shown_pairs for c in pair})
    for d, model in models.items():
        reconstruction = train.predict(model, real, device)
        reference_fd[f"reconstructions, d = {d}"] = judging.frechet_distance(
            judging.judge_outputs(judge, reconstruction, device)[1], reference_features
        )
        decoded = train.predict(
            judge, train.predict(model, test_x[[first_of_class[c] for c in shown_digits]], device), device
        ).argmax(1)
        endpoint_errors[d] = [(c, int(k)) for c, k in zip(shown_digits, decoded, strict=True) if c != int(k)]
        ends = torch.cat([pool_x[first], pool_x[second]])
        truth = torch.cat([pool_y[first], pool_y[second]])
        endpoint_error_rate[d] = (
            (train.predict(judge, train.predict(model, ends, device), device).argmax(1) != truth).float().mean().item()
        )
    shown_paths = []
    for c1, c2 in shown_pairs:
        one = _paths(models, test_x[[first_of_class[c1]]], test_x[[first_of_class[c2]]], alphas, device)
        shown_paths.append({method: images[0] for method, images in one.items()})
    return Q2Result(
        latent_dims=list(s.latent_dims),
        alphas=alphas.numpy(),
        shown_pairs=shown_pairs,
        shown_paths=shown_paths,
        methods=list(paths),
        confidence=confidence,
        path_fd=path_fd,
        bootstrap_sd=bootstrap_sd,
        reference_fd=reference_fd,
        abruptness=abruptness,
        third_digit=third_digit,
        endpoint_errors=endpoint_errors,
        endpoint_error_rate=endpoint_error_rate,
        judge_accuracy=train.evaluate_accuracy(judge, test_x, test_y, device),
        num_scored_pairs=len(first),
        images_per_set=images_per_set,
    )


def q2_paths_figure(r: Q2Result, pair_indices: list[int]) -> plt.Figure:
    """Rows of decoded paths for several shown pairs: per pair, the cross-fade and each d."""
    rows, labels = [], []
    for i in pair_indices:
        c1, c2 = r.shown_pairs[i]
        for k, (method, images) in enumerate(r.shown_paths[i].items()):
            rows.append(list(images))
            labels.append(f"{c1}$\\to${c2}: {method}" if k == 0 else method.removeprefix("AE "))
    return plots.image_rows(rows, labels, "", column_labels=[f"{a:.1f}" for a in r.alphas], cell_inches=0.55, label_size=10)


def q2_scores_figure(r: Q2Result) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 3.0))
    for method in r.methods:
        mean, sd = r.confidence[method].mean(0), r.confidence[method].std(0, ddof=1)
        (line,) = ax.plot(r.alphas, mean, "-o", markersize=3, label=method)
        ax.fill_between(r.alphas, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1), color=line.get_color(), alpha=0.12)
    ax.set(xlabel=r"$\alpha$ (weight of the left image)", ylabel="judge confidence")
    ax.set_xlim(1.02, -0.02)  # left to right as in the path figures: from the first image to the second
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


# --- Q3: decorrelation ----------------------------------------------------------------


@dataclass
class Q3Result:
    latent_dims: list[int]
    seeds: list[int]
    summaries: dict[tuple[int, int], analysis.CorrelationSummary]  # (d, seed)
    floors: dict[tuple[int, int], analysis.CorrelationSummary]  # the same codes shuffled: independent coordinates
    pca_mean_abs: dict[int, float]
    num_encoded: int

    def per_seed(self, d: int, field: str = "mean_abs_offdiag", shuffled: bool = False) -> list[float]:
        source = self.floors if shuffled else self.summaries
        return [getattr(source[d, seed], field) for seed in self.seeds]


def q3_decorrelation(s: Q3Settings, device: torch.device) -> Q3Result:
    """Pearson correlations between the latent coordinates of test codes for every d and
    training seed, with PCA codes and shuffled codes as references."""
    base = recipe(s.profile)
    encoded_x = mnist("test", base.test_size)[0][: s.num_encoded]
    seeds = [base.seed + i for i in range(s.num_seeds)]
    summaries, floors = {}, {}
    # Last seed first: in a parallel build Q1 trains the seed-0 models meanwhile.
    for seed in reversed(seeds):
        for d in s.latent_dims:
            model, _ = autoencoder(recipe(s.profile, latent_dim=d, seed=seed), device)
            codes = train.predict(model.encoder, encoded_x, device)
            summaries[d, seed] = analysis.latent_correlation(codes)
            floors[d, seed] = analysis.shuffled_correlation(codes, seed=seed)
    pca = analysis.PCA.fit(mnist("train", base.train_size)[0], max(s.latent_dims))
    pca_mean_abs = {d: analysis.latent_correlation(pca.encode(encoded_x, d)).mean_abs_offdiag for d in s.latent_dims}
    return Q3Result(list(s.latent_dims), seeds, summaries, floors, pca_mean_abs, len(encoded_x))


def q3_trend_figure(r: Q3Result) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.0))
    ds = r.latent_dims
    for ax, field, name in ((axes[0], "mean_abs_offdiag", "mean"), (axes[1], "max_abs_offdiag", "largest")):
        stats = [analysis.mean_std(r.per_seed(d, field)) for d in ds]
        ax.errorbar(ds, [m for m, _ in stats], yerr=[sd for _, sd in stats], marker="o", capsize=3, label="auto-encoder codes")
        for d in ds:
            ax.plot([d] * len(r.seeds), r.per_seed(d, field), "x", color="grey", markersize=4)
        ax.plot(ds, [np.mean(r.per_seed(d, field, shuffled=True)) for d in ds], "k:", marker=".", label="shuffled codes")
        ax.set(
            title=f"({'ab'[field.startswith('max')]}) {name} |r| over coordinate pairs",
            xlabel="latent size d",
            ylabel=f"{name} |Pearson r|",
        )
        _log_axis(ax, ds, "x", ticks=ds)
    axes[0].plot(ds, [r.pca_mean_abs[d] for d in ds], "s--", label="PCA codes")
    _log_axis(axes[0], [v for d in ds for v in r.per_seed(d)] + list(r.pca_mean_abs.values()) + r.per_seed(ds[0], shuffled=True))
    axes[1].set_ylim(0, 1)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def q3_heatmap_figure(r: Q3Result) -> plt.Figure:
    fig, axes = plt.subplots(1, len(r.latent_dims), figsize=(1.6 * len(r.latent_dims) + 0.8, 2.0))
    for ax, d in zip(np.atleast_1d(axes), r.latent_dims, strict=True):
        image = plots.heatmap(r.summaries[d, r.seeds[0]].matrix, f"d = {d}", ax, colorbar=False)
        ticks = [0, d - 1] if d > 2 else [0, 1]
        ax.set_xticks(ticks, [str(t + 1) for t in ticks])
        ax.set_yticks(ticks, [str(t + 1) for t in ticks])
        ax.set(xlabel="coordinate", ylabel="coordinate" if d == r.latent_dims[0] else "")
    fig.colorbar(image, ax=axes, fraction=0.02, pad=0.02, label="Pearson r")
    return fig


# --- Q4: transfer learning with few labels --------------------------------------------


@dataclass
class SchemeRuns:
    train_acc: list[float]
    test_acc: list[float]
    per_class: np.ndarray  # (draws, 10) test accuracy per digit
    trainable_parameters: int


@dataclass
class Q4Result:
    schemes: dict[str, SchemeRuns]  # the three schemes, then the two ablations
    curve: dict[str, dict[int, list[float]]]  # scheme -> labels -> test accuracy per draw
    pretrained: AEScore  # the encoder's auto-encoder (longer schedule)
    short: AEScore  # Q1's auto-encoder of the same size
    num_labels: int
    test_size: int
    classifier_steps: int


def q4_headline_runs(s: Q4Settings) -> list[FewLabelRuns]:
    """The schemes at the headline labelled-set size: the three of the question, then the
    two ablations (the last only where Q1's model differs from the longer-trained one)."""
    long_spec, short_spec = long_recipe(s.profile), recipe(s.profile)
    draws = tuple(range(s.first_draw, s.first_draw + s.num_draws))
    schemes = [(scheme, long_spec) for scheme in (FROZEN, FINE_TUNED, SCRATCH, BN_FIXED)]
    if short_spec != long_spec:
        schemes.append((short_frozen_name(short_spec.num_epochs), short_spec))
    return [FewLabelRuns(scheme, s.num_labels, draws, s.classifier_steps, spec) for scheme, spec in schemes]


def q4_curve_runs(s: Q4Settings) -> list[FewLabelRuns]:
    """The other points of the accuracy-vs-labels curve (the headline size is reused)."""
    draws = tuple(range(s.first_draw, s.first_draw + s.curve_draws))
    spec = long_recipe(s.profile)
    return [
        FewLabelRuns(scheme, n, draws, s.classifier_steps, spec)
        for n in s.label_counts
        if n != s.num_labels
        for scheme in (FROZEN, FINE_TUNED)
    ]


def q4_transfer(s: Q4Settings, device: torch.device) -> Q4Result:
    """Few-label classifiers on the pre-trained encoder (frozen, or trained with its head),
    against the same network from a random start; ablations: batch-norm statistics kept
    fixed while fine-tuning, and the frozen scheme on Q1's shorter-trained encoder.  The
    classifiers are cached (:mod:`lib.nn4i_ex2.transfer`)."""
    long_spec, short_spec = long_recipe(s.profile), recipe(s.profile)
    test_x, test_y = mnist("test", long_spec.test_size)
    train_x, _ = mnist("train", long_spec.train_size)
    long_score, _ = _score(long_spec, train_x[:10000], test_x, device)
    short_score, _ = _score(short_spec, train_x[:10000], test_x, device)
    schemes = {}
    for runs in q4_headline_runs(s):
        found = few_label_runs(runs, device)
        train_acc, test_acc = [x["train"] for x in found], [x["test"] for x in found]
        schemes[runs.scheme] = SchemeRuns(train_acc, test_acc, np.array([x["per_class"] for x in found]), found[0]["trainable"])
    curve = {scheme: {} for scheme in (FROZEN, FINE_TUNED)}
    others = {(runs.num_labels, runs.scheme): runs for runs in q4_curve_runs(s)}
    for n in s.label_counts:
        for scheme in curve:
            if n == s.num_labels:
                curve[scheme][n] = schemes[scheme].test_acc
            else:
                curve[scheme][n] = [x["test"] for x in few_label_runs(others[n, scheme], device)]
    return Q4Result(schemes, curve, long_score, short_score, s.num_labels, len(test_y), s.classifier_steps)


def q4_per_class_figure(r: Q4Result) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(8, 3.0))
    main = (FROZEN, FINE_TUNED, SCRATCH)
    width = 0.27
    for i, scheme in enumerate(main):
        per_class = r.schemes[scheme].per_class
        ax.bar(
            np.arange(10) + (i - 1) * width,
            100 * per_class.mean(0),
            width,
            yerr=100 * per_class.std(0, ddof=1) if len(per_class) > 1 else None,
            capsize=2,
            label=scheme,
        )
    ax.set(xlabel="digit", ylabel="test accuracy (%)", xticks=range(10))
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    fig.tight_layout()
    return fig


def q4_curve_figure(r: Q4Result) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for scheme, points in r.curve.items():
        ns = sorted(points)
        stats = [analysis.mean_std(points[n]) for n in ns]
        ax.errorbar(ns, [100 * m for m, _ in stats], yerr=[100 * sd for _, sd in stats], marker="o", capsize=3, label=scheme)
    _log_axis(ax, sorted(r.curve[FROZEN]), "x", ticks=sorted(r.curve[FROZEN]))
    ax.set(xlabel="labelled training images (balanced, log scale)", ylabel="test accuracy (%)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


# --- what the notebooks glue into their prose, and the metrics files -------------------


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _by_depth(sweep: list[AEScore]) -> str:
    """ "0.0146, 0.0126 and 0.0114 for 1, 2 and 3 convolutions"."""
    ordered = sorted(sweep, key=lambda x: x.recipe.num_conv_layers)
    mse = [f"{x.test_mse:.4f}" for x in ordered]
    layers = [str(x.recipe.num_conv_layers) for x in ordered]
    return f"{analysis.join_words(mse)} for {analysis.join_words(layers)} {'convolution' if layers == ['1'] else 'convolutions'}"


def _depth_step(matched: list, seed_sd: float) -> tuple[str, str]:
    """The test-MSE step between the two deepest size-matched models, from the values as Table 2
    prints them (4 decimals), and what it means.  Each sweep model is one training seed, so the
    step is a difference of two single-seed runs: its noise is about sqrt(2) times the default
    model's seed-to-seed sd, and a step beyond two of those is called clear."""
    if len(matched) < 2:
        return "-", "could not be compared"
    shallower, deeper = (round(score.test_mse, 4) for score in matched[-2:])
    step, noise = deeper - shallower, 2 * np.sqrt(2) * seed_sd
    rule = (
        f"two standard deviations of a difference of two single-seed runs, {noise:.4f}, "
        f"from the default model's sample sd {seed_sd:.4f}"
    )
    if abs(step) <= noise:
        verdict = f"is within the training noise ({rule}), so only the gain from the shallower networks is clear"
    else:
        effect = "still lowers the error" if step < 0 else "raises the error"
        verdict = f"is beyond the training noise ({rule}), so at this size the last added convolution {effect}"
    return f"{abs(step):.4f}", verdict


def q1_summary(r: Q1Result) -> dict[str, str]:
    """Run-dependent values of Q1's prose, formatted."""
    base = r.headline[0].recipe
    sweep = {score.recipe.latent_dim: score for score in r.latent_sweep}
    below_pca = {d: 1 - sweep[d].test_mse / r.pca_test_mse[d] for d in sweep}
    large = [d for d in sweep if d >= 4] or list(sweep)
    depth = {score.recipe.num_conv_layers: score for score in r.depth_sweep}
    matched = r.matched_depth_sweep
    headline_mean, headline_sd = analysis.mean_std([score.test_mse for score in r.headline])
    deepest_gap, deepest_verdict = _depth_step(matched, headline_sd)
    best = min(r.latent_sweep + r.depth_sweep + r.matched_depth_sweep, key=lambda score: score.test_mse)
    return {
        "epochs": plots.count(base.num_epochs, "epoch"),
        "long_epochs": plots.count(r.long_run.recipe.num_epochs, "epoch"),
        "train_images": f"{base.train_size:,}",
        "test_images": f"{r.test_size:,}",
        "headline_d": str(base.latent_dim),
        "headline": format_mean_sd([score.test_mse for score in r.headline]),
        "headline_seeds": plots.count(len(r.headline), "training seed"),
        "long_mse": f"{r.long_run.test_mse:.4f}",
        "long_gain": _pct(1 - r.long_run.test_mse / headline_mean),
        "best_mse": f"{best.test_mse:.4f}",
        "best_model": f"d = {best.recipe.latent_dim}, {plots.count(best.recipe.num_conv_layers, 'convolution')}",
        "d_min": str(min(sweep)),
        "d_max": str(max(sweep)),
        "mse_at_d_min": f"{sweep[min(sweep)].test_mse:.4f}",
        "mse_at_d_max": f"{sweep[max(sweep)].test_mse:.4f}",
        "pca_gain_range": f"{_pct(min(below_pca[d] for d in large))} to {_pct(max(below_pca[d] for d in large))}",
        "pca_gain_dmin": _pct(below_pca[min(sweep)]),
        "large_d_list": ", ".join(str(d) for d in large),
        "depth_params_range": f"{max(x.parameters for x in r.depth_sweep) / 1e6:.2f} M to "
        f"{min(x.parameters for x in r.depth_sweep) / 1e3:.0f} k",
        "depth_mse_range": f"{min(s.test_mse for s in r.depth_sweep):.4f} to {max(s.test_mse for s in r.depth_sweep):.4f}",
        "best_depth": plots.count(min(r.depth_sweep, key=lambda s: s.test_mse).recipe.num_conv_layers, "convolution"),
        "matched_params": f"{min(s.parameters for s in matched) / 1e3:.0f} k to {max(s.parameters for s in matched) / 1e3:.0f} k",
        "matched_mse_range": f"{min(s.test_mse for s in matched):.4f} to {max(s.test_mse for s in matched):.4f}",
        "matched_best_depth": plots.count(min(matched, key=lambda s: s.test_mse).recipe.num_conv_layers, "convolution"),
        "shallowest": str(min(depth)),
        "shallow_matched_width": str(min(matched, key=lambda s: s.recipe.num_conv_layers).recipe.hidden_units),
        # from the values as Table 2 prints them, so that the reader's subtraction agrees
        "max_gap": f"{max(round(s.test_mse, 4) - round(s.train_mse, 4) for s in r.latent_sweep + r.depth_sweep):+.4f}",
        "depth_by_layers": _by_depth(r.depth_sweep),
        "matched_by_layers": _by_depth(r.matched_depth_sweep),
        "deepest_gap": deepest_gap,
        "deepest_verdict": deepest_verdict,
        "deepest_pair": " and ".join(str(x.recipe.num_conv_layers) for x in matched[-2:]),
        "headline_mean": f"{headline_mean:.4f}",
    }


def q1_metrics(r: Q1Result, s: Q1Settings) -> dict:
    def row(score):
        return {
            "recipe": asdict(score.recipe),
            "parameters": score.parameters,
            "train_mse": score.train_mse,
            "test_mse": score.test_mse,
        }

    mse = [score.test_mse for score in r.headline]
    return {
        "settings": s.model_dump(),
        "latent_sweep": [row(x) for x in r.latent_sweep],
        "depth_sweep": [row(x) for x in r.depth_sweep],
        "matched_depth_sweep": [row(x) for x in r.matched_depth_sweep],
        "pca_test_mse": r.pca_test_mse,
        "ae_over_pca_ratio": {x.recipe.latent_dim: x.test_mse / r.pca_test_mse[x.recipe.latent_dim] for x in r.latent_sweep},
        "headline": {
            "seeds": [x.recipe.seed for x in r.headline],
            "test_mse": mse,
            "mean": float(np.mean(mse)),
            "sd": analysis.mean_std(mse)[1],
            "sd_kind": "sample (n - 1)",
        },
        "long_run": row(r.long_run),
    }


def q2_summary(r: Q2Result) -> dict[str, str]:
    ranking = sorted(r.methods, key=r.path_fd.get)
    main, high = _method(r.latent_dims[0]), _method(r.latent_dims[1]) if len(r.latent_dims) > 1 else _method(r.latent_dims[0])
    middle = len(r.alphas) // 2
    reconstruction_fd = {d: r.reference_fd[f"reconstructions, d = {d}"] for d in r.latent_dims}
    errors = "; ".join(
        f"d = {d}: " + (", ".join(f"{a} as {b}" for a, b in errs) or "none") for d, errs in r.endpoint_errors.items()
    )

    def measure(method: str, name: str, value: float, scale: float = 1.0, unit: str = "") -> str:
        return _with_sd(value, r.bootstrap_sd[method][name], scale, unit)

    return {
        "pairs": str(r.num_scored_pairs),
        "images_per_set": f"{r.images_per_set:,}",
        "judge_accuracy": _pct(r.judge_accuracy),
        "bootstrap_draws": str(BOOTSTRAP_DRAWS),
        "fd_ranking": "; ".join(f"{m} {r.path_fd[m]:.0f}" for m in ranking),
        "real_fd": f"{r.reference_fd['real test images']:.1f}",
        "recon_fd": "; ".join(f"d = {d}: {fd:.1f}" for d, fd in reconstruction_fd.items()),
        "real_ranks_first": "below" if r.reference_fd["real test images"] < min(reconstruction_fd.values()) else "not below",
        "endpoint_errors": errors,
        "endpoint_rates": "; ".join(f"d = {d}: {_pct(rate)}" for d, rate in r.endpoint_error_rate.items()),
        "main_d": str(r.latent_dims[0]),
        "high_d": str(r.latent_dims[1]) if len(r.latent_dims) > 1 else str(r.latent_dims[0]),
        "main_fd": measure(main, "fd", r.path_fd[main]),
        "high_fd": measure(high, "fd", r.path_fd[high]),
        "main_detours": measure(main, "detours", r.third_digit[main], 100, "%"),
        "high_detours": measure(high, "detours", r.third_digit[high], 100, "%"),
        "main_abrupt": measure(main, "abruptness", r.abruptness[main].mean()),
        "high_abrupt": measure(high, "abruptness", r.abruptness[high].mean()),
        "main_midpoint": measure(main, "midpoint", r.confidence[main][:, middle].mean()),
        "high_midpoint": measure(high, "midpoint", r.confidence[high][:, middle].mean()),
        "blend_midpoint": measure(PIXEL_BLEND, "midpoint", r.confidence[PIXEL_BLEND][:, middle].mean()),
        "main_excess": _excess(r, main),
        "high_excess": _excess(r, high),
        "main_endpoint_rate": _pct(r.endpoint_error_rate[r.latent_dims[0]]),
        "high_endpoint_rate": _pct(r.endpoint_error_rate[int(high.removeprefix("AE d = "))]),
        "blend_fd": f"{r.path_fd[PIXEL_BLEND]:.0f}",
    }


def q2_metrics(r: Q2Result, s: Q2Settings) -> dict:
    return {
        "settings": s.model_dump(),
        "judge_test_accuracy": r.judge_accuracy,
        "interior_frechet_distance": r.path_fd,
        "reference_frechet_distance": r.reference_fd,
        "interior_mean_confidence": {m: float(r.confidence[m][:, 1:-1].mean()) for m in r.methods},
        "mean_abruptness": {m: float(r.abruptness[m].mean()) for m in r.methods},
        "third_digit_share": r.third_digit,
        "endpoint_errors_shown": {str(d): e for d, e in r.endpoint_errors.items()},
        "endpoint_error_rate": {str(d): e for d, e in r.endpoint_error_rate.items()},
        "scored_pairs": r.num_scored_pairs,
        "images_per_set": r.images_per_set,
    }


def q3_summary(r: Q3Result) -> dict[str, str]:
    ds = r.latent_dims
    means = {d: analysis.mean_std(r.per_seed(d))[0] for d in ds}
    floor = float(np.mean([x.mean_abs_offdiag for x in r.floors.values()]))
    floor_means = [float(np.mean(r.per_seed(d, "mean_abs_offdiag", shuffled=True))) for d in ds]  # as Table 4 prints them
    mean_text = {d: analysis.round_to_spread(*analysis.mean_std(r.per_seed(d)))[0] for d in ds}
    max_text = {d: analysis.round_to_spread(*analysis.mean_std(r.per_seed(d, "max_abs_offdiag")))[0] for d in ds}
    return {
        "seeds": plots.count(len(r.seeds), "training seed"),
        "encoded": f"{r.num_encoded:,}",
        "d_min": str(ds[0]),
        "d_min_values": ", ".join(f"{v:.2f}" for v in r.per_seed(ds[0])),
        "d_min_pairs": str(ds[0] * (ds[0] - 1) // 2),
        "mean_range": f"{min(means.values()):.2f} to {max(means.values()):.2f}",
        "mean_trend": ", ".join(mean_text[d] for d in ds),
        "max_trend": ", ".join(max_text[d] for d in ds),
        "shuffled_max": f"{min(np.mean(r.per_seed(d, 'max_abs_offdiag', True)) for d in ds):.3f} to "
        f"{max(np.mean(r.per_seed(d, 'max_abs_offdiag', True)) for d in ds):.3f}",
        "mean_at_small": ", ".join(f"{mean_text[d]} at $d = {d}$" for d in ds[:2]),
        "pca_range": f"{min(r.pca_mean_abs.values()):.3f} to {max(r.pca_mean_abs.values()):.3f}",
        "floor": f"{floor:.3f}",
        "floor_range": f"{min(floor_means):.3f} to {max(floor_means):.3f}",
        "floor_expected": f"{np.sqrt(2 / (np.pi * r.num_encoded)):.3f}",
        "constant": str(sum(len(x.constant) for x in r.summaries.values())),
        "models": str(len(r.summaries)),
        "d_list": ", ".join(str(d) for d in ds),
    }


def q3_metrics(r: Q3Result, s: Q3Settings) -> dict:
    return {
        "settings": s.model_dump(),
        "summary_value": "mean |Pearson r| over off-diagonal pairs of non-constant coordinates, test images",
        "mean_abs_r": {str(d): r.per_seed(d) for d in r.latent_dims},
        "max_abs_r": {str(d): r.per_seed(d, "max_abs_offdiag") for d in r.latent_dims},
        "pca_mean_abs_r": r.pca_mean_abs,
        "noise_floor": float(np.mean([x.mean_abs_offdiag for x in r.floors.values()])),
        "shuffled_max_abs_r": {str(d): r.per_seed(d, "max_abs_offdiag", True) for d in r.latent_dims},
        "constant_coordinates": {f"d{d}_seed{seed}": x.constant for (d, seed), x in r.summaries.items()},
    }


def q4_rows(r: Q4Result) -> list[list[str]]:
    return [
        [
            name,
            format_mean_sd(runs.train_acc, 100),
            format_mean_sd(runs.test_acc, 100),
            f"{100 * min(runs.test_acc):.1f}",
            f"{100 * max(runs.test_acc):.1f}",
            f"{runs.trainable_parameters:,}",
        ]
        for name, runs in r.schemes.items()
    ]


def q4_curve_rows(r: Q4Result) -> list[list[str]]:
    ns = sorted(r.curve[FROZEN])
    return [[str(n)] + [f"{format_mean_sd(r.curve[s][n], 100)} ({len(r.curve[s][n])})" for s in r.curve] for n in ns]


def _wins(first: list[float], second: list[float]) -> str:
    """ "k of n": on how many of the same labelled sets ``first`` scored higher (paired)."""
    return f"{sum(a > b for a, b in zip(first, second, strict=True))} of {len(first)}"


def _shown_mean(values: list[float]) -> tuple[float, int]:
    """The mean in percent as the tables print it (rounded to its spread), and its decimals."""
    text = analysis.round_to_spread(*analysis.mean_std(values), 100)[0]
    return float(text), len(text.partition(".")[2])


def _points(first: list[float], second: list[float]) -> str:
    """Difference of two printed means in percentage points, so that text and tables agree."""
    (a, da), (b, db) = _shown_mean(first), _shown_mean(second)
    return f"{a - b:+.{max(da, db)}f}"


def _above(first: list[float], second: list[float]) -> str:
    """ "3.7 points above" / "0.4 points below": ``first``'s printed mean against ``second``'s."""
    gap = _points(first, second)
    return f"{gap[1:]} points {'below' if gap.startswith('-') else 'above'}"


def _augmentation() -> str:
    defaults = {k: v.default for k, v in inspect.signature(data.random_affine).parameters.items()}
    low, high = defaults["scale_range"]
    shift, degrees = defaults["max_shift"], defaults["max_degrees"]
    return f"shifts up to {shift:g} pixels, rotations up to {degrees:g} degrees and zoom {low:g}-{high:g}"


def q4_summary(r: Q4Result) -> dict[str, str]:
    runs = {name: x.test_acc for name, x in r.schemes.items()}
    counts = sorted(r.curve[FROZEN])
    short_name = short_frozen_name(r.short.recipe.num_epochs)
    bn = float(_points(runs[BN_FIXED], runs[FINE_TUNED]))
    out = {
        "labels": str(r.num_labels),
        "per_class": str(r.num_labels // 10),
        "draws": plots.count(len(runs[FROZEN]), "draw"),
        "test_images": f"{r.test_size:,}",
        "pre_epochs": plots.count(r.pretrained.recipe.num_epochs, "epoch"),
        "pre_mse": f"{r.pretrained.test_mse:.4f}",
        "short_epochs": plots.count(r.short.recipe.num_epochs, "epoch"),
        "short_mse": f"{r.short.test_mse:.4f}",
        "frozen": format_mean_sd(runs[FROZEN], 100, "%"),
        "fine_tuned": format_mean_sd(runs[FINE_TUNED], 100, "%"),
        "scratch": format_mean_sd(runs[SCRATCH], 100, "%"),
        "bn_fixed": format_mean_sd(runs[BN_FIXED], 100, "%"),
        "frozen_vs_scratch": _points(runs[FROZEN], runs[SCRATCH]),
        "fine_vs_frozen": _above(runs[FINE_TUNED], runs[FROZEN]),
        "fine_vs_scratch": _above(runs[FINE_TUNED], runs[SCRATCH]),
        "fine_beats_frozen": _wins(runs[FINE_TUNED], runs[FROZEN]),
        "fine_beats_scratch": _wins(runs[FINE_TUNED], runs[SCRATCH]),
        "frozen_beats_scratch": _wins(runs[FROZEN], runs[SCRATCH]),
        "bn_effect": f"{'lowers' if bn < 0 else 'raises'} its accuracy by {abs(bn):g} points",
        "min_train": _pct(min(min(x.train_acc) for x in r.schemes.values())),
        "frozen_params": f"{r.schemes[FROZEN].trainable_parameters:,}",
        "whole_params": f"{r.schemes[SCRATCH].trainable_parameters:,}",
        "sd_frozen": f"{100 * analysis.mean_std(runs[FROZEN])[1]:.1f}",
        "sd_scratch": f"{100 * analysis.mean_std(runs[SCRATCH])[1]:.1f}",
        "steps": f"{r.classifier_steps:,}",
        "batch": str(BATCH_SIZE),
        "learning_rates": f"learning rate {CLASSIFIER_LR:g} for the head and "
        + ("for" if ENCODER_LR == CLASSIFIER_LR else f"{ENCODER_LR:g} for")
        + " the encoder when it is trained",
        "weight_decay": f"{WEIGHT_DECAY:g}",
        "hidden_units": str(HIDDEN_UNITS),
        "augmentation": _augmentation(),
        "curve_first": str(counts[0]),
        "curve_last": f"{counts[-1]:,}",
        "gaps": "; ".join(f"{n:,} labels: {_points(r.curve[FINE_TUNED][n], r.curve[FROZEN][n])}" for n in counts),
        "curve_draws": str(len(r.curve[FROZEN][counts[-1]])),
    }
    out["short_frozen"] = format_mean_sd(runs[short_name], 100, "%") if short_name in runs else "(the same model)"
    out["longer_gain"] = _above(runs[FROZEN], runs[short_name]) if short_name in runs else "0 points above"
    out["longer_beats_short"] = _wins(runs[FROZEN], runs[short_name]) if short_name in runs else "-"
    return out


def q4_metrics(r: Q4Result, s: Q4Settings) -> dict:
    return {
        "settings": s.model_dump(),
        "headline": {
            name: {
                "test_acc": runs.test_acc,
                "train_acc": runs.train_acc,
                "mean_test_acc": float(np.mean(runs.test_acc)),
                "sd_test_acc": analysis.mean_std(runs.test_acc)[1],
                "per_class_mean": runs.per_class.mean(0),
            }
            for name, runs in r.schemes.items()
        },
        "sd_kind": "sample (n - 1) over labelled-set draws",
        "curve": {name: {str(n): v for n, v in points.items()} for name, points in r.curve.items()},
        "pretrained_encoder": {
            "num_epochs": r.pretrained.recipe.num_epochs,
            "test_mse": r.pretrained.test_mse,
            "q1_encoder_num_epochs": r.short.recipe.num_epochs,
            "q1_encoder_test_mse": r.short.test_mse,
        },
    }


def q1_rows(r: Q1Result) -> list[list[str]]:
    """Every model of Q1 once: sweep, d, depth, FC width, parameters, train/test MSE, PCA at the same d."""
    rows, seen = [], set()
    for name, sweep in (
        ("latent size", r.latent_sweep),
        ("depth", r.depth_sweep),
        ("depth, parameters fixed", r.matched_depth_sweep),
    ):
        for x in sweep:
            if x.recipe in seen:  # the default model belongs to all three sweeps
                continue
            seen.add(x.recipe)
            pca = r.pca_test_mse.get(x.recipe.latent_dim)
            rows.append(
                [
                    name,
                    str(x.recipe.latent_dim),
                    str(x.recipe.num_conv_layers),
                    str(x.recipe.hidden_units),
                    f"{x.parameters:,}",
                    f"{x.train_mse:.4f}",
                    f"{x.test_mse:.4f}",
                    "-" if pca is None else f"{pca:.4f}",
                ]
            )
    return rows


def _excess(r: Q2Result, method: str) -> str:
    """How much a method's interior images add to the FD of its endpoints' kind of image:
    the model's own reconstructions, or real images for the cross-fade."""
    base = "real test images" if method == PIXEL_BLEND else f"reconstructions, d = {method.removeprefix('AE d = ')}"
    return f"{r.path_fd[method] - r.reference_fd[base]:.1f}"


def _with_sd(value: float, sd: float, scale: float = 1.0, unit: str = "") -> str:
    mean, spread = analysis.round_to_spread(value, sd, scale)
    return f"{mean}{unit} ± {spread}{unit}"


def q2_rows(r: Q2Result) -> list[list[str]]:
    """Path measurements per method (± sd over resampled pairs), then the real-data and
    reconstruction references (FD only)."""
    rows = []
    for m in r.methods:
        sd = r.bootstrap_sd[m]
        rows.append(
            [
                m,
                _with_sd(r.path_fd[m], sd["fd"]),
                _excess(r, m),
                _with_sd(r.confidence[m][:, len(r.alphas) // 2].mean(), sd["midpoint"]),
                _with_sd(r.abruptness[m].mean(), sd["abruptness"]),
                _with_sd(r.third_digit[m], sd["detours"], 100, "%"),
            ]
        )
    rows += [[name, f"{fd:.1f}", "", "", "", ""] for name, fd in r.reference_fd.items()]
    return rows


def q3_rows(r: Q3Result) -> list[list[str]]:
    return [
        [
            str(d),
            format_mean_sd(r.per_seed(d)),
            ", ".join(f"{v:.2f}" for v in r.per_seed(d)),
            format_mean_sd(r.per_seed(d, "max_abs_offdiag")),
            f"{r.pca_mean_abs[d]:.3f}",
            f"{np.mean(r.per_seed(d, shuffled=True)):.3f}",
            f"{np.mean(r.per_seed(d, 'max_abs_offdiag', True)):.3f}",
        ]
        for d in r.latent_dims
    ]
