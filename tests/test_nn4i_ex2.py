"""nn4i_ex2's question functions on tiny data: each runs, returns sane results, and gives its
notebook every value its prose names.

The smoke recipe is shrunk to 256 training and 1,000 test images (2 steps per epoch) and the
settings to one or two models per sweep; the models are cached in a folder of this module.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, replace
from types import SimpleNamespace

import matplotlib
import nbformat
import pytest
import torch

from lib import cache, metrics, paths, precision
from lib.nn4i_ex2 import Q1Settings, Q2Settings, Q3Settings, Q4Settings, experiments, transfer
from lib.nn4i_ex2 import models as nn4i_models

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CPU = torch.device("cpu")
TRAIN_SIZE, TEST_SIZE = 256, 1000

Q1 = Q1Settings.check(
    "t", {"profile": "smoke", "latent_dims": [2, 10], "conv_layer_counts": [1], "headline_seeds": 2, "num_shown": 3}
)
Q2 = Q2Settings.check(
    "t", {"profile": "smoke", "latent_dims": [10, 2], "num_shown_pairs": 2, "num_scored_pairs": 20, "num_steps": 5}
)
Q3 = Q3Settings.check("t", {"profile": "smoke", "latent_dims": [2, 4], "num_seeds": 2, "num_encoded": 300})
Q4 = Q4Settings.check(
    "t", {"profile": "smoke", "num_labels": 20, "num_draws": 2, "label_counts": [10, 20], "curve_draws": 1, "classifier_steps": 3}
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, bundle_dirs):
    """The tiny smoke recipe, a model cache of this module's own, MNIST from MNIST_DIR."""
    from tests.conftest import mnist_source

    cache_dir = tmp_path_factory.mktemp("nn4i-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MNIST_DIR", str(mnist_source()))
        mp.setenv("BUNDLE_DATA_DIR", str(bundle_dirs["data"]))
        mp.setenv("BUNDLE_CACHE_DIR", str(cache_dir))
        mp.setenv("BUNDLE_OFFLINE", "1")
        smoke = nn4i_models.PROFILE_RECIPES["smoke"]
        mp.setitem(nn4i_models.PROFILE_RECIPES, "smoke", replace(smoke, train_size=TRAIN_SIZE, test_size=TEST_SIZE))
        yield cache_dir


@pytest.fixture(scope="module")
def q1(tiny):
    return experiments.q1_autoencoding(Q1, CPU)


@pytest.fixture(scope="module")
def q2(tiny, q1):  # after q1: its d = 2 and d = 10 models are loaded, not trained again
    return experiments.q2_interpolation(Q2, CPU)


@pytest.fixture(scope="module")
def q3(tiny, q1):
    return experiments.q3_decorrelation(Q3, CPU)


@pytest.fixture(scope="module")
def q4(tiny, q1):
    return experiments.q4_transfer(Q4, CPU)


def finite(*values) -> bool:
    return all(math.isfinite(float(v)) for v in values)


def json_ready(value) -> bool:
    json.dumps(metrics._plain(value), allow_nan=False)
    return True


# --- Q1 -------------------------------------------------------------------------------


def test_q1_sweeps_headline_and_reconstructions(q1):
    assert [x.recipe.latent_dim for x in q1.latent_sweep] == Q1.latent_dims
    assert [x.recipe.num_conv_layers for x in q1.depth_sweep] == Q1.conv_layer_counts
    assert sorted(x.recipe.num_conv_layers for x in q1.matched_depth_sweep) == sorted(Q1.conv_layer_counts)
    assert len(q1.headline) == Q1.headline_seeds and all(isinstance(x, experiments.AEScore) for x in q1.headline)
    assert [x.recipe.seed for x in q1.headline] == list(range(Q1.headline_seeds))
    assert set(q1.pca_test_mse) == set(Q1.latent_dims) and all(0 < v < 1 for v in q1.pca_test_mse.values())
    assert q1.pca_test_mse[10] < q1.pca_test_mse[2]  # more components, smaller error
    for score in [*q1.latent_sweep, *q1.depth_sweep, *q1.matched_depth_sweep, *q1.headline, q1.long_run]:
        assert 0 < score.test_mse < 1 and 0 < score.train_mse < 1 and score.parameters > 0
        assert len(score.history["test_mse"]) == score.recipe.num_epochs
        assert score.recipe.train_size == TRAIN_SIZE
    assert q1.long_run.recipe.num_epochs == nn4i_models.TRANSFER_EPOCHS["smoke"] > q1.headline[0].recipe.num_epochs
    assert q1.shown.shape == (Q1.num_shown, 1, 28, 28)
    assert set(q1.reconstructions) == set(Q1.latent_dims)
    for images in q1.reconstructions.values():
        assert images.shape == (Q1.num_shown, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert q1.test_size == TEST_SIZE and q1.architecture


def test_q1_matched_depth_holds_the_parameter_count(q1):
    default = q1.headline[0]  # d = 10, three convolutions, FC width 256
    assert (default.recipe.latent_dim, default.recipe.num_conv_layers) == (10, 3)
    for score in q1.matched_depth_sweep:
        assert abs(score.parameters - default.parameters) <= 0.02 * default.parameters


def test_q1_summary_metrics_rows_and_figures(q1):
    summary = experiments.q1_summary(q1)
    assert summary and all(isinstance(k, str) and isinstance(v, str) for k, v in summary.items())
    assert summary["d_min"] == "2" and summary["d_max"] == "10"
    result = experiments.q1_metrics(q1, Q1)
    assert json_ready(result) and result["settings"] == Q1.model_dump() and "bars" not in result
    assert len(result["headline"]["test_mse"]) == Q1.headline_seeds
    rows = experiments.q1_rows(q1)
    assert len(rows) == len(q1.latent_sweep) + len(q1.depth_sweep) + len(q1.matched_depth_sweep)
    assert all(isinstance(cell, str) for row in rows for cell in row)
    for figure in (experiments.q1_learning_figure, experiments.q1_sweep_figure, experiments.q1_reconstruction_figure):
        assert isinstance(figure(q1), plt.Figure)
        plt.close("all")


def test_q1_depth_step_is_called_clear_only_beyond_the_noise_of_two_single_seed_runs():
    """The step between the two deepest models is judged against 2 * sqrt(2) seed-to-seed sd
    (noise 0.000283 for sd 0.0001), from the values as the table prints them."""

    def scores(*mse):
        return [SimpleNamespace(test_mse=value) for value in mse]

    gap, verdict = experiments._depth_step(scores(0.0120, 0.01148, 0.01113), seed_sd=0.0001)
    assert gap == "0.0004" and "beyond the training noise" in verdict and "still lowers the error" in verdict
    assert "0.0003" in verdict and "sample sd 0.0001" in verdict
    gap, verdict = experiments._depth_step(scores(0.01148, 0.01128), seed_sd=0.0001)  # printed 0.0115 - 0.0113
    assert gap == "0.0002" and "within the training noise" in verdict and "only the gain from the shallower" in verdict
    assert "raises the error" in experiments._depth_step(scores(0.0110, 0.0120), seed_sd=0.0001)[1]
    assert experiments._depth_step(scores(0.0110), seed_sd=0.0001) == ("-", "could not be compared")


# --- Q2 -------------------------------------------------------------------------------


def test_q2_paths_and_scores(q2):
    assert q2.methods == [experiments.PIXEL_BLEND, *(f"AE d = {d}" for d in Q2.latent_dims)]
    assert q2.alphas[0] == 1 and q2.alphas[-1] == 0 and len(q2.alphas) == Q2.num_steps
    assert len(q2.shown_pairs) == len(q2.shown_paths) == Q2.num_shown_pairs
    for path in q2.shown_paths:
        assert list(path) == q2.methods
        assert all(images.shape == (Q2.num_steps, 1, 28, 28) for images in path.values())
    assert 0 < q2.num_scored_pairs <= Q2.num_scored_pairs  # pairs of one digit are dropped
    for method in q2.methods:
        assert q2.confidence[method].shape == (q2.num_scored_pairs, Q2.num_steps)
        assert ((0 <= q2.confidence[method]) & (q2.confidence[method] <= 1)).all()
        assert finite(q2.path_fd[method]) and q2.path_fd[method] >= 0
        assert q2.abruptness[method].shape == (q2.num_scored_pairs,) and (q2.abruptness[method] >= 1 - 1e-5).all()
        assert 0 <= q2.third_digit[method] <= 1
    assert 0 <= q2.judge_accuracy <= 1 and set(q2.endpoint_error_rate) == set(Q2.latent_dims)


def test_q2_real_images_score_better_than_reconstructions_of_a_barely_trained_model(q2):
    """The realism measure ranks real digits first: its reference FD of real test images is
    finite and below that of the (blurry) reconstructions of a 2-step model."""
    real = q2.reference_fd["real test images"]
    reconstructions = [q2.reference_fd[f"reconstructions, d = {d}"] for d in Q2.latent_dims]
    assert finite(real, *reconstructions) and real >= 0
    assert real < min(reconstructions), q2.reference_fd


def test_q2_summary_metrics_rows_and_figures(q2):
    summary = experiments.q2_summary(q2)
    assert summary and all(isinstance(v, str) for v in summary.values())
    assert summary["real_ranks_first"] == "below"
    assert json_ready(experiments.q2_metrics(q2, Q2))
    rows = experiments.q2_rows(q2)
    assert len(rows) == len(q2.methods) + len(q2.reference_fd) and all(isinstance(c, str) for r in rows for c in r)
    assert isinstance(experiments.q2_paths_figure(q2, [0, 1]), plt.Figure)
    assert isinstance(experiments.q2_scores_figure(q2), plt.Figure)
    plt.close("all")


# --- Q3 -------------------------------------------------------------------------------


def test_q3_correlations_per_size_and_seed(q3):
    assert q3.latent_dims == Q3.latent_dims and q3.seeds == list(range(Q3.num_seeds))
    assert set(q3.summaries) == {(d, seed) for d in Q3.latent_dims for seed in q3.seeds} == set(q3.floors)
    for (d, _), summary in q3.summaries.items():
        assert summary.matrix.shape == (d, d)
        if len(summary.constant) < d - 1:
            assert 0 <= summary.mean_abs_offdiag <= summary.max_abs_offdiag <= 1 + 1e-9
    assert set(q3.pca_mean_abs) == set(Q3.latent_dims) and all(0 <= v < 0.5 for v in q3.pca_mean_abs.values())
    for floor in q3.floors.values():  # the same codes shuffled: independent coordinates, r near 0
        assert 0 <= floor.mean_abs_offdiag <= floor.max_abs_offdiag < 0.5 and floor.mean_abs_offdiag < 0.2
    assert q3.per_seed(4, shuffled=True) == [q3.floors[4, s].mean_abs_offdiag for s in q3.seeds]
    assert q3.num_encoded == Q3.num_encoded and q3.per_seed(2) == [q3.summaries[2, s].mean_abs_offdiag for s in q3.seeds]


def test_q3_summary_metrics_rows_and_figures(q3):
    summary = experiments.q3_summary(q3)
    assert summary and all(isinstance(v, str) for v in summary.values())
    assert summary["models"] == str(len(Q3.latent_dims) * Q3.num_seeds)
    assert json_ready(experiments.q3_metrics(q3, Q3))
    assert len(experiments.q3_rows(q3)) == len(Q3.latent_dims)
    assert isinstance(experiments.q3_trend_figure(q3), plt.Figure)
    assert isinstance(experiments.q3_heatmap_figure(q3), plt.Figure)
    plt.close("all")


# --- Q4 -------------------------------------------------------------------------------


def test_q4_schemes_ablations_and_curve(q4):
    short_name = experiments.short_frozen_name(q4.short.recipe.num_epochs)
    main = [experiments.FROZEN, experiments.FINE_TUNED, experiments.SCRATCH]
    assert list(q4.schemes) == [*main, experiments.BN_FIXED, short_name]
    for runs in q4.schemes.values():
        assert len(runs.test_acc) == len(runs.train_acc) == Q4.num_draws
        assert all(0 <= acc <= 1 for acc in [*runs.test_acc, *runs.train_acc])
        assert runs.per_class.shape == (Q4.num_draws, 10) and ((0 <= runs.per_class) & (runs.per_class <= 1)).all()
    frozen, scratch = q4.schemes[experiments.FROZEN], q4.schemes[experiments.SCRATCH]
    assert 0 < frozen.trainable_parameters < scratch.trainable_parameters
    assert set(q4.curve) == {experiments.FROZEN, experiments.FINE_TUNED}
    for points in q4.curve.values():
        assert sorted(points) == Q4.label_counts and all(0 <= a <= 1 for accs in points.values() for a in accs)
    assert q4.curve[experiments.FROZEN][Q4.num_labels] == frozen.test_acc  # the headline point is the headline's draws
    assert q4.pretrained.recipe.num_epochs > q4.short.recipe.num_epochs and q4.test_size == TEST_SIZE


def test_q4_classifiers_are_cached_groups_and_each_draw_trains_as_if_alone(tiny, q4, monkeypatch):
    monkeypatch.setenv("BUNDLE_CACHE_DIR", str(tiny))  # the module's cache, where q4 stored them
    groups = experiments.q4_headline_runs(Q4) + experiments.q4_curve_runs(Q4)
    assert len(list(tiny.glob("nn4i_few_label_classifiers/*.json"))) == len(groups)  # one entry per scheme and size
    runs = groups[1]  # the fine-tuned scheme: its encoder trains too
    assert runs.scheme == experiments.FINE_TUNED and runs.draws == (0, 1)
    trained_before = cache.stats()["trained"]
    cached = transfer.few_label_runs(runs, CPU)
    assert cache.stats()["trained"] == trained_before  # loaded, not trained again
    assert [x["test"] for x in cached] == q4.schemes[runs.scheme].test_acc
    # the second draw alone, in the precision the cache trained it in, gives the same result
    encoder = nn4i_models.autoencoder(runs.encoder, CPU)[0].encoder
    data_xy = nn4i_models.mnist("train", runs.encoder.train_size), nn4i_models.mnist("test", runs.encoder.test_size)
    with precision.training(cache.resolve_precision("auto", CPU)):
        alone = transfer._train_one(transfer.classifier(runs.scheme, runs.encoder, encoder), runs, 1, *data_xy, CPU)
    assert alone == cached[1]


def test_q4_summary_metrics_rows_and_figures(q4):
    summary = experiments.q4_summary(q4)
    assert summary and all(isinstance(v, str) for v in summary.values())
    assert summary["labels"] == str(Q4.num_labels) and summary["short_frozen"] != "(same model)"
    assert json_ready(experiments.q4_metrics(q4, Q4))
    assert len(experiments.q4_rows(q4)) == len(q4.schemes)
    assert len(experiments.q4_curve_rows(q4)) == len(Q4.label_counts)
    assert isinstance(experiments.q4_per_class_figure(q4), plt.Figure)
    assert isinstance(experiments.q4_curve_figure(q4), plt.Figure)
    plt.close("all")


# --- the models each question declares ------------------------------------------------


def test_questions_train_only_the_models_they_declare(tiny, q1, q2, q3, q4):
    """The build can list every model before the notebooks run: each auto-encoder the four
    questions trained is one their ``*_recipes`` functions declared."""
    declared = [
        *experiments.q1_recipes(Q1),
        *experiments.q2_recipes(Q2),
        *experiments.q3_recipes(Q3),
        *experiments.q4_recipes(Q4),
    ]
    entries = sorted(tiny.glob("nn4i_conv_autoencoder/*.json"))  # the models this module trained
    trained = [json.loads(entry.read_text())["config"] for entry in entries]
    assert trained and all(config in [asdict(r) for r in declared] for config in trained)
    assert len(trained) == len(set(declared))  # and every declared model was used


@pytest.mark.parametrize("profile", ["full", "quick", "smoke"])
def test_all_recipes_lists_every_model_once_longest_first(profile):
    recipes = experiments.all_recipes(profile)
    assert len(recipes) == len(set(recipes))
    assert [r.num_epochs for r in recipes] == sorted((r.num_epochs for r in recipes), reverse=True)
    settings = [s.check("t", {"profile": profile}) for s in (Q1Settings, Q2Settings, Q3Settings, Q4Settings)]
    needed = [*experiments.q1_recipes(settings[0]), *experiments.q2_recipes(settings[1])]
    needed += [*experiments.q3_recipes(settings[2]), *experiments.q4_recipes(settings[3])]
    assert set(needed) == set(recipes) and experiments.long_recipe(profile) in recipes


# --- the notebooks' prose ------------------------------------------------------------

NAME = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")
ANY_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
NUMBERED = re.compile(r"(fig|tab):([A-Za-z0-9][A-Za-z0-9_.-]*)")
QUESTIONS = {"q1_autoencoding": "q1", "q2_interpolation": "q2", "q3_decorrelation": "q3", "q4_transfer": "q4"}


def notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(paths.NOTEBOOK_DIR / "nn4i_ex2" / f"{name}.ipynb", as_version=4)


def markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_placeholder_pattern():
    text = "MSE {{best_mse}} in Figure {{fig:q1-sweeps}}, Table {{tab:q1-summary}}, {{ spaced }}"
    assert NAME.findall(text) == ["best_mse"]
    assert ANY_PLACEHOLDER.findall(text) == ["best_mse", "fig:q1-sweeps", "tab:q1-summary", " spaced "]


@pytest.mark.parametrize("name", QUESTIONS)
def test_every_placeholder_of_the_prose_is_glued(name, request):
    """The build stops on a {{name}} that the notebook did not glue: every one in the
    notebook's markdown must be a key of its question's ``*_summary``."""
    question = QUESTIONS[name]
    result = request.getfixturevalue(question)
    summary = getattr(experiments, f"{question}_summary")(result)
    prose = markdown(notebook(name))
    used = set(NAME.findall(prose))
    assert used, f"{name}: no glued placeholder found"
    assert not used - set(summary), f"{name}: the prose names {sorted(used - set(summary))}, which {question}_summary lacks"
    malformed = [p for p in ANY_PLACEHOLDER.findall(prose) if not NAME.fullmatch(f"{{{{{p}}}}}") and not NUMBERED.fullmatch(p)]
    assert not malformed, f"{name}: placeholders the build cannot fill: {malformed}"


@pytest.mark.parametrize("name", QUESTIONS)
def test_every_figure_and_table_the_prose_cites_is_made(name):
    nb = notebook(name)
    cited = {(kind, key) for kind, key in NUMBERED.findall(" ".join(ANY_PLACEHOLDER.findall(markdown(nb))))}
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    calls = re.findall(r"report\.(figure|table)\(.*?key=\"([^\"]+)\"", code, flags=re.S)
    made = {({"figure": "fig", "table": "tab"}[kind], key) for kind, key in calls}
    assert cited and not cited - made, f"{name}: cites {sorted(cited - made)}, which no report.figure/table makes"
