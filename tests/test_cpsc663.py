"""AMTH/CPSC 663 Exercise II (lib/cpsc663_ex2): the hand-in scripts' models, checkpoints and
command lines, the scripts run alone (no ``lib``), the notebooks' settings and prose, PCA
geometry, the worked backprop example for other numbers, and the Gradescope folder."""

from __future__ import annotations

import ast
import inspect
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from torch import nn

from lib import analysis, build, cache, models, params, paths, submission
from lib import cpsc663_ex2 as cpsc
from lib.cpsc663_ex2 import experiments, hand_in, prob4_CNN, prob5_AE, prob6_CAE
from lib.cpsc663_ex2 import models as cpsc_models

PACKAGE_DIR = paths.LIB_DIR / "cpsc663_ex2"
CPU = torch.device("cpu")

# --- the models of the hand-in scripts ---------------------------------------------------


def test_filter_cnn_shapes():
    model = prob4_CNN.FilterCNN(num_filters=40)
    assert model.conv1.weight.shape == (40, 1, 5, 5)
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_mlp_autoencoder_has_four_linear_layers_each_way_and_a_linear_code():
    model = prob5_AE.MLPAutoencoder(latent_dim=2, hidden=(64, 32, 16))
    enc = [m for m in model.encoder if isinstance(m, nn.Linear)]
    dec = [m for m in model.decoder if isinstance(m, nn.Linear)]
    assert len(enc) == 4 and len(dec) == 4
    assert isinstance(model.encoder[-1], nn.Linear)  # no activation into the code
    assert isinstance(model.decoder[0], nn.Linear)  # none out of it either
    x = torch.rand(5, 1, 28, 28)
    assert model.encode(x).shape == (5, 2)
    out = model(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1


def test_linear_autoencoder_has_no_nonlinearity():
    model = prob5_AE.LinearAutoencoder(latent_dim=3)
    leaves = {type(m) for m in model.modules() if not list(m.children())}
    assert leaves == {nn.Flatten, nn.Linear, nn.Unflatten}
    x = torch.rand(4, 1, 28, 28)
    assert model.encode(x).shape == (4, 3) and model(x).shape == x.shape
    assert model.decoder[0].weight.shape == (784, 3)  # the columns the principal angles compare with PCA


@pytest.mark.parametrize("skip", [False, True])
def test_conv_autoencoder_matches_the_handout(skip):
    model = prob6_CAE.ConvAutoencoder(latent_dim=2, skip=skip)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 4), (4, 8), (8, 4), (4, 1)]
    assert all(c.kernel_size == (3, 3) and c.stride == (1, 1) and c.padding == (1, 1) for c in convs)
    linears = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears == [(392, 20), (20, 2), (2, 20), (20, 392)]
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 2 and all(p.kernel_size == 2 and p.stride == 2 for p in pools)
    ups = [m for m in model.modules() if isinstance(m, nn.Upsample)]
    assert len(ups) == 2 and all(u.mode == "nearest" and u.scale_factor == 2 for u in ups)
    x = torch.rand(4, 1, 28, 28)
    codes, skips = model.encoder(x)
    assert codes.shape == (4, 2) and [s.shape for s in skips] == [(4, 4, 14, 14), (4, 8, 7, 7)]
    assert model.encode(x).shape == (4, 2)
    out = model(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1


def test_skips_add_no_parameters_and_carry_information_past_the_code():
    torch.manual_seed(0)
    plain, skip = prob6_CAE.ConvAutoencoder(skip=False), prob6_CAE.ConvAutoencoder(skip=True)
    assert models.count_parameters(plain) == models.count_parameters(skip)
    skip.eval()
    x = torch.rand(2, 1, 28, 28)
    codes, maps = skip.encoder(x)
    same_code = codes[:1].repeat(2, 1)  # identical codes, different skip maps
    out = skip.decoder(same_code, maps)
    assert not torch.allclose(out[0], out[1])
    assert torch.allclose(plain.decoder(same_code)[0], plain.decoder(same_code)[1])


# --- checkpoints: settings beside the weights, never overwritten --------------------------


@pytest.mark.parametrize(
    ("module", "make"),
    [
        (prob4_CNN, lambda: prob4_CNN.FilterCNN(8)),
        (prob5_AE, lambda: prob5_AE.MLPAutoencoder(3, (32, 16, 8))),
        (prob5_AE, lambda: prob5_AE.LinearAutoencoder(4)),
        (prob6_CAE, lambda: prob6_CAE.ConvAutoencoder(skip=True)),
    ],
    ids=["cnn", "mlp", "linear", "cae-skip"],
)
def test_checkpoint_rebuilds_the_model_from_its_settings(tmp_path, module, make):
    torch.manual_seed(0)
    model = make()
    written = prob4_CNN.save_checkpoint(model, tmp_path / "model.pt")
    assert written == tmp_path / "model.pt" and not list(tmp_path.glob(".*"))  # no staging file left
    stored = torch.load(written, weights_only=True)
    assert stored["model"] == type(model).__name__ and stored["settings"] == model.settings
    loaded = module.load_checkpoint(written) if module is prob4_CNN else module.load(written)
    assert type(loaded) is type(model) and not loaded.training and loaded.settings == model.settings
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("saved_with_skip", [True, False])
def test_cae_load_refuses_the_other_skip_setting(tmp_path, saved_with_skip):
    path = prob4_CNN.save_checkpoint(prob6_CAE.ConvAutoencoder(skip=saved_with_skip), tmp_path / "cae.pt")
    assert prob6_CAE.load(path, skip=saved_with_skip).skip is saved_with_skip
    with pytest.raises(ValueError, match=r"skip=") as info:
        prob6_CAE.load(path, skip=not saved_with_skip)
    assert "fix" in str(info.value)


def test_load_refuses_a_file_of_another_model(tmp_path):
    mlp = prob4_CNN.save_checkpoint(prob5_AE.MLPAutoencoder(), tmp_path / "mnist_ae.pt")
    with pytest.raises(ValueError, match="MLPAutoencoder.*ConvAutoencoder.*fix"):
        prob6_CAE.load(mlp)
    cae = prob4_CNN.save_checkpoint(prob6_CAE.ConvAutoencoder(), tmp_path / "mnist_cae.pt")
    with pytest.raises(ValueError, match="ConvAutoencoder"):
        prob5_AE.load(cae)
    bare = tmp_path / "weights_only.pt"
    torch.save(prob6_CAE.ConvAutoencoder().state_dict(), bare)  # weights without settings
    with pytest.raises(ValueError, match="not a checkpoint"):
        prob6_CAE.load(bare)


def test_saving_never_overwrites_unless_asked(tmp_path):
    target = tmp_path / "mnist_ae.pt"
    assert prob4_CNN.free_path(target) == target
    target.write_bytes(b"handed in")
    assert prob4_CNN.free_path(target) == tmp_path / "mnist_ae-2.pt"
    (tmp_path / "mnist_ae-2.pt").write_bytes(b"second")
    assert prob4_CNN.free_path(target) == tmp_path / "mnist_ae-3.pt"
    assert prob4_CNN.free_path(target, overwrite=True) == target
    written = prob4_CNN.save_checkpoint(prob5_AE.LinearAutoencoder(), target)
    assert written == tmp_path / "mnist_ae-3.pt" and target.read_bytes() == b"handed in"
    assert prob4_CNN.save_checkpoint(prob5_AE.LinearAutoencoder(), target, overwrite=True) == target
    assert prob5_AE.load(target).settings == {"latent_dim": 2}


# --- the hand-in scripts stand alone ------------------------------------------------------

SCRIPT_MODULES = {"prob4_CNN.py": prob4_CNN, "prob5_AE.py": prob5_AE, "prob6_CAE.py": prob6_CAE}
THIRD_PARTY = {"torch", "torchvision", "numpy"}
SIBLINGS = {"prob4_CNN", "prob5_AE"}


def foreign_imports(source: str) -> list[str]:
    """Imports (anywhere in ``source``) of anything but torch, torchvision, numpy, the standard
    library and the sibling scripts (plain, or relative inside the package)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: only a sibling script, one level up
                if node.level != 1 or node.module not in SIBLINGS:
                    found.append("." * node.level + (node.module or ""))
                continue
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in THIRD_PARTY | SIBLINGS and top not in sys.stdlib_module_names:
                found.append(name)
    return found


def test_foreign_imports_are_found():
    assert foreign_imports("import os, torch.nn\nfrom numpy import array\nfrom .prob4_CNN import load_mnist") == []
    source = "from lib import data\ndef f():\n    import lib.paths\n    from ..lib import x\n    from .other import y\n"
    source += "import pandas"
    assert sorted(foreign_imports(source)) == ["..lib", ".other", "lib", "lib.paths", "pandas"]


@pytest.mark.parametrize("script", hand_in.SCRIPTS)
def test_script_imports_nothing_from_lib(script):
    assert script in SCRIPT_MODULES
    assert foreign_imports((PACKAGE_DIR / script).read_text()) == []


def copy_scripts(folder: Path) -> Path:
    """The three scripts alone in ``folder``, as a grader unpacks them."""
    folder.mkdir(parents=True, exist_ok=True)
    for script in hand_in.SCRIPTS:
        shutil.copy2(PACKAGE_DIR / script, folder / script)
    return folder


def run_script(folder: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    """``python SCRIPT ARGS`` in ``folder`` without PYTHONPATH; ``-X importtime`` lists every
    module imported, so a ``lib`` import shows even though the bundle is installed in the venv."""
    from tests.conftest import mnist_source

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MNIST_DIR"] = str(mnist_source())
    return subprocess.run(
        [sys.executable, "-X", "importtime", script, *args], cwd=folder, capture_output=True, text=True, env=env, timeout=300
    )


def lib_modules_imported(result: subprocess.CompletedProcess) -> list[str]:
    return re.findall(r"^import time:.*\|\s+(lib(?:\.\S+)?)\s*$", result.stderr, flags=re.M)


def errors(result: subprocess.CompletedProcess) -> str:
    return "\n".join(line for line in result.stderr.splitlines() if not line.startswith("import time:"))[-2000:]


QUICK = ("--epochs", "1", "--train-size", "256")


@pytest.fixture(scope="module")
def scripts_alone(tmp_path_factory) -> Path:
    return copy_scripts(tmp_path_factory.mktemp("handin-scripts"))


@pytest.mark.parametrize(
    ("script", "extra", "written", "load"),
    [
        ("prob4_CNN.py", [], "mnist_cnn.pt", prob4_CNN.load_checkpoint),
        ("prob5_AE.py", [], "mnist_ae.pt", prob5_AE.load),
        ("prob6_CAE.py", [], "mnist_cae.pt", lambda p: prob6_CAE.load(p, skip=False)),
        ("prob6_CAE.py", ["--skip"], "mnist-cae-skip.pt", lambda p: prob6_CAE.load(p, skip=True)),
        ("prob6_CAE.py", ["--noise-std", "0.3", "--skip"], "mnist-cae-skip_denoising.pt", lambda p: prob6_CAE.load(p, skip=True)),
    ],
    ids=["prob4", "prob5", "prob6", "prob6-skip", "prob6-skip-denoising"],
)
def test_script_runs_alone_and_load_rebuilds_its_model(scripts_alone, script, extra, written, load):
    """Copied alone into a folder (no lib), each script trains and writes the file the handout names."""
    result = run_script(scripts_alone, script, *QUICK, *extra)
    assert result.returncode == 0, errors(result)
    assert lib_modules_imported(result) == [], f"{script} imported {lib_modules_imported(result)}"
    assert f"wrote {written}" in result.stdout, result.stdout[-1000:]
    model = load(scripts_alone / written)
    x = torch.rand(2, 1, 28, 28)
    assert model(x).shape == ((2, 10) if script == "prob4_CNN.py" else x.shape)
    if script == "prob4_CNN.py":
        matrix = np.loadtxt(scripts_alone / "prob4_confusion.csv", delimiter=",", dtype=int)
        assert matrix.shape == (10, 10) and matrix.sum() == 10000
        assert (scripts_alone / "prob4_filters.png").read_bytes().startswith(b"\x89PNG")
    assert not list(scripts_alone.glob(".*.tmp")) and sorted(p.name for p in scripts_alone.glob("*.py")) == sorted(SCRIPT_MODULES)


@pytest.mark.parametrize(
    ("script", "extra", "kept", "second"),
    [
        ("prob5_AE.py", [], ["mnist_ae.pt"], ["mnist_ae-2.pt"]),
        ("prob6_CAE.py", [], ["mnist_cae.pt"], ["mnist_cae-2.pt"]),
        ("prob6_CAE.py", ["--skip"], ["mnist-cae-skip.pt"], ["mnist-cae-skip-2.pt"]),
        (
            "prob4_CNN.py",
            [],
            ["mnist_cnn.pt", "prob4_filters.png", "prob4_confusion.csv"],
            ["mnist_cnn-2.pt", "prob4_filters-2.png", "prob4_confusion-2.csv"],
        ),
    ],
    ids=["prob5", "prob6", "prob6-skip", "prob4"],
)
def test_script_keeps_an_existing_model(tmp_path, script, extra, kept, second):
    """Run with its defaults where its output already exists, a script leaves that file
    byte-identical and writes the next free name."""
    folder = copy_scripts(tmp_path / "handin")
    for name in kept:
        (folder / name).write_bytes(f"the handed-in {name}".encode())
    result = run_script(folder, script, *QUICK, *extra)
    assert result.returncode == 0, errors(result)
    for name in kept:
        assert (folder / name).read_bytes() == f"the handed-in {name}".encode(), f"{script} overwrote {name}"
    assert all((folder / name).is_file() for name in second), sorted(p.name for p in folder.iterdir())
    assert "exists and was kept" in result.stdout or script == "prob4_CNN.py"
    if script != "prob4_CNN.py":
        SCRIPT_MODULES[script].load(folder / second[0])


@pytest.mark.parametrize(
    ("module", "argv", "flag"),
    [
        (prob4_CNN, ["--epochs", "0"], "--epochs"),
        (prob4_CNN, ["--filters", "0"], "--filters"),
        (prob5_AE, ["--lr", "0"], "--lr"),
        (prob5_AE, ["--train-size", "-5"], "--train-size"),
        (prob5_AE, ["--latent-dim", "0"], "--latent-dim"),
        (prob5_AE, ["--hidden", "512", "256", "0"], "--hidden"),
        (prob6_CAE, ["--batch-size", "0"], "--batch-size"),
        (prob6_CAE, ["--noise-std", "-0.3"], "--noise-std"),
    ],
)
def test_script_rejects_bad_arguments(module, argv, flag, capsys):
    with pytest.raises(SystemExit) as info:
        module.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and flag in err and "fix" in err, err


def test_script_on_the_command_line_rejects_bad_arguments(scripts_alone):
    result = run_script(scripts_alone, "prob5_AE.py", "--epochs", "0")
    assert result.returncode == 2 and "--epochs" in result.stderr and "fix" in result.stderr


# --- models, recipes and the model cache --------------------------------------------------


def test_model_cache_key_covers_the_scripts():
    """A change to a hand-in script retrains the notebooks' models: the scripts are in the
    cache key's code (relative imports between them included)."""
    modules = set(cache.training_modules("lib.cpsc663_ex2.models"))
    scripts = {f"lib.cpsc663_ex2.{name}" for name in ("prob4_CNN", "prob5_AE", "prob6_CAE")}
    assert {"lib.cpsc663_ex2.models", *scripts} <= modules
    assert {"lib.cpsc663_ex2.prob4_CNN", "lib.cpsc663_ex2.prob5_AE"} <= set(cache.training_modules("lib.cpsc663_ex2.prob6_CAE"))


def test_recipes_build_the_scripts_models():
    recipe = cpsc_models.AERecipe("mlp", 0, 1, 128, 1e-3, 256, hidden=(32, 16, 8))
    assert type(recipe.build()) is prob5_AE.MLPAutoencoder and recipe.build().settings["hidden"] == [32, 16, 8]
    assert type(cpsc_models.AERecipe("linear", 0, 1, 128, 1e-3, 256, latent_dim=5).build()) is prob5_AE.LinearAutoencoder
    assert cpsc_models.AERecipe("conv_skip", 0, 1, 128, 1e-3, 256).build().skip
    assert not cpsc_models.AERecipe("conv", 0, 1, 128, 1e-3, 256).build().skip
    with pytest.raises(ValueError, match="unknown auto-encoder kind"):
        cpsc_models.autoencoder(cpsc_models.AERecipe("vae", 0, 1, 128, 1e-3, 256), CPU)


@pytest.mark.parametrize("profile", ["full", "quick", "smoke"])
def test_all_recipes_lists_every_model_once(profile):
    p4, p5, p6 = (s.check("t", {"profile": profile}) for s in (cpsc.P4Settings, cpsc.P5Settings, cpsc.P6Settings))
    recipes = experiments.all_recipes(profile)
    assert len(recipes) == len(set(recipes))
    cnns = [r for r in recipes if isinstance(r, cpsc_models.CNNRecipe)]
    assert [r.seed for r in cnns] == p4.seeds and all(r.num_filters == p4.num_filters for r in cnns)
    kinds = [r.kind for r in recipes if isinstance(r, cpsc_models.AERecipe)]
    assert kinds.count("mlp") == len(p5.seeds) and kinds.count("linear") == len(p5.linear_latent_dims)
    assert kinds.count("conv") == kinds.count("conv_skip") == 2 * len(p6.seeds)  # plain and denoising
    conv = cpsc_models.conv_recipes(p6)
    assert list(conv) == list(cpsc_models.CONV_VARIANTS) == ["6.1", "6.2", "6.3", "6.3 skips"]
    assert [bool(runs[0].noise_std) for runs in conv.values()] == [False, False, True, True]
    assert {r.train_size for r in recipes} == {p4.train_size} == {p5.train_size} == {p6.train_size}


def test_hand_in_models_are_the_scripts_files(tmp_path, monkeypatch):
    """export_hand_in_models writes the names the handout asks for, each loadable by its script
    with the right skip setting; a rebuild replaces them (no -2 copies).  Untrained models stand
    in for the cached ones."""
    monkeypatch.setattr(experiments, "autoencoder", lambda recipe, device: (recipe.build().eval(), {}))
    p5, p6 = (s.check("t", {"profile": "smoke"}) for s in (cpsc.P5Settings, cpsc.P6Settings))
    for _ in range(2):
        exported = experiments.export_hand_in_models(tmp_path, CPU, p5=p5, p6=p6)
    assert exported == list(hand_in.MODELS) and sorted(p.name for p in tmp_path.iterdir()) == sorted(hand_in.MODELS)
    assert set(hand_in.MODELS) == {"mnist_ae.pt", "mnist_cae.pt", "mnist-cae-skip.pt", *experiments.HAND_IN_NAMES}
    assert type(prob5_AE.load(tmp_path / "mnist_ae.pt", latent_dim=2)) is prob5_AE.MLPAutoencoder
    for name in experiments.HAND_IN_NAMES:
        prob6_CAE.load(tmp_path / name, skip="skip" in name)


def test_output_sizes_of_problem_4_1():
    rows = experiments.p4_output_sizes(50)
    assert [row[5] for row in rows] == ["49 × 49", "9 × 9", "23 × 23", "49 × 49"]
    assert all(row[5] == row[6] for row in rows)  # the formula agrees with the torch layer
    assert [row[5] for row in experiments.p4_output_sizes(28)] == ["27 × 27", "5 × 5", "12 × 12", "27 × 27"]


# --- PCA geometry and confusions -----------------------------------------------------------


def test_principal_angles():
    basis = torch.randn(20, 3)
    mixed = basis @ torch.randn(3, 3)  # same column space, another basis
    assert analysis.principal_angles(basis, mixed).max() < 1e-6
    e = torch.eye(6)
    angles = analysis.principal_angles(e[:, :2], e[:, 2:4])
    assert torch.allclose(angles, torch.full((2,), math.pi / 2, dtype=torch.float64), atol=1e-9)


def test_most_confused_pairs_reads_off_diagonal():
    matrix = np.diag([50] * 10)
    matrix[4, 9], matrix[7, 2], matrix[3, 5] = 9, 5, 2
    assert analysis.most_confused_pairs(matrix, top=2) == [(4, 9, 9), (7, 2, 5)]


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    matrix = prob4_CNN.confusion_matrix(np.array([0, 1, 1, 9]), np.array([0, 7, 1, 9]))
    assert matrix.shape == (10, 10) and matrix.sum() == 4 and matrix[1, 7] == 1 and np.trace(matrix) == 3


# --- settings -------------------------------------------------------------------------------

NOTEBOOK_DIR = paths.NOTEBOOK_DIR / "cpsc663_ex2"


def test_settings_cover_every_notebook():
    assert set(cpsc.SETTINGS) == set(cpsc.NOTEBOOKS) and cpsc.NOTEBOOKS == build.ASSIGNMENTS["cpsc663_ex2"].notebooks
    for name in cpsc.NOTEBOOKS:
        assert params.settings_for(f"cpsc663_ex2/{name}") is cpsc.SETTINGS[name]
        assert (NOTEBOOK_DIR / f"{name}.ipynb").is_file()


def parameters_cell(name: str) -> dict[str, object]:
    """Name -> value of the assignments in the notebook's cell tagged ``parameters`` (from its JSON)."""
    cells = json.loads((NOTEBOOK_DIR / f"{name}.ipynb").read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{name}: expected exactly one cell tagged 'parameters'"
    source = "".join(tagged[0]["source"]) if isinstance(tagged[0]["source"], list) else tagged[0]["source"]
    return {t.id: ast.literal_eval(node.value) for node in ast.parse(source).body for t in node.targets}


@pytest.mark.parametrize("name", cpsc.NOTEBOOKS)
def test_parameters_cell_lists_exactly_the_settings_fields(name):
    settings = cpsc.SETTINGS[name]
    values = parameters_cell(name)
    assert sorted(set(values) - {"profile", "device"}) == sorted(settings.parameter_names())
    assert all(values[field] is None for field in settings.parameter_names()), values  # the profile decides
    assert settings.resolve(f"cpsc663_ex2/{name}", values).profile == values["profile"] == "full"


def test_a_string_for_a_count_is_a_one_line_error():
    with pytest.raises(params.ParameterError, match=r"parameter 'num_epochs' = '10'.*it is a string") as info:
        params.check_overrides("cpsc663_ex2/p5_autoencoders", {"num_epochs": "10"})
    message = str(info.value)
    assert "\n" not in message and message.startswith("cpsc663_ex2/p5_autoencoders: ") and "fix" in message


def test_profiles_shrink_the_work():
    for settings in (cpsc.P4Settings, cpsc.P5Settings, cpsc.P6Settings):
        full, smoke = settings.check("t", {}), settings.check("t", {"profile": "smoke"})
        assert smoke.train_size < full.train_size and smoke.num_epochs <= full.num_epochs
        assert len(smoke.seeds) <= len(full.seeds)
    assert cpsc.P4Settings().num_filters == 40 and cpsc.P4Settings().num_epochs == 5  # the handout's
    assert cpsc.P5Settings().num_epochs >= 10 and cpsc.P5Settings().learning_rate == 1e-3 and cpsc.P5Settings().latent_dim == 2


# --- the notebooks' prose -------------------------------------------------------------------

NAME = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")
ANY_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
NUMBERED = re.compile(r"(fig|tab):([A-Za-z0-9][A-Za-z0-9_.-]*)")
GLUE = re.compile(r"report\.glue\(\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']")
SUMMARY_LOOP = re.compile(r"for name, value in experiments\.(\w+_summary)\(result\)\.items\(\):\s*report\.glue\(name, value\)")
DRIVERS = ("p4_cnn", "p5_autoencoders", "p6_conv_autoencoders")


def notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


def cells_of(nb, kind: str) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == kind)


def summary_keys(function: str) -> set[str]:
    """The keys of the dict literal that ``experiments.<function>`` returns, read from its
    source (the summaries need trained models; their keys do not)."""
    tree = ast.parse(inspect.getsource(getattr(experiments, function)))
    returns = [node.value for node in ast.walk(tree) if isinstance(node, ast.Return)]
    assert len(returns) == 1 and isinstance(returns[0], ast.Dict), f"{function} no longer returns one dict literal"
    keys = returns[0].keys
    assert all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in keys), f"{function} computes a key"
    return {k.value for k in keys}


def glued_names(nb) -> set[str]:
    """Every name the notebook's code glues: literal report.glue names and the keys of each
    summary glued in a loop."""
    code = cells_of(nb, "code")
    names = set(GLUE.findall(code))
    for function in SUMMARY_LOOP.findall(code):
        names |= summary_keys(function)
    return names


def test_glued_names_are_read_from_code_and_summaries():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "for name, value in experiments.p4_summary(result).items():\n"
                '    report.glue(name, value)\nreport.glue("extra", 1)'
            )
        ]
    )
    assert glued_names(nb) == summary_keys("p4_summary") | {"extra"} and "accuracy" in glued_names(nb)
    assert NAME.findall("MSE {{best}}, Figure {{fig:p4-curve}}, {{ spaced }}") == ["best"]


@pytest.mark.parametrize("name", DRIVERS)
def test_drivers_glue_their_summary(name):
    assert SUMMARY_LOOP.findall(cells_of(notebook(name), "code")) == [f"{name[:2]}_summary"]


@pytest.mark.parametrize("name", cpsc.NOTEBOOKS)
def test_every_placeholder_of_the_prose_is_glued(name):
    """The build stops on a {{name}} the notebook did not glue: every one in the markdown must
    be glued by the notebook's code (a literal name or a key of its problem's ``*_summary``)."""
    nb = notebook(name)
    prose = cells_of(nb, "markdown")
    used = set(NAME.findall(prose))
    missing = used - glued_names(nb)
    assert not missing, f"{name}: the prose names {sorted(missing)}, which the notebook never glues"
    malformed = [p for p in ANY_PLACEHOLDER.findall(prose) if not NAME.fullmatch(f"{{{{{p}}}}}") and not NUMBERED.fullmatch(p)]
    assert not malformed, f"{name}: placeholders the build cannot fill: {malformed}"
    if name in DRIVERS:
        assert used, f"{name}: no glued placeholder found"


def test_every_figure_and_table_the_prose_cites_is_made():
    """Figure and table keys are numbered across the whole PDF; each one cited is made once."""
    made, cited = [], {}
    for name in cpsc.NOTEBOOKS:
        nb = notebook(name)
        calls = re.findall(r"report\.(figure|table)\(.*?key=\"([^\"]+)\"", cells_of(nb, "code"), flags=re.S)
        made += [({"figure": "fig", "table": "tab"}[kind], key) for kind, key in calls]
        cited[name] = set(NUMBERED.findall(" ".join(ANY_PLACEHOLDER.findall(cells_of(nb, "markdown")))))
    assert len(made) == len(set(made)), "a figure or table key is used twice"
    for name in DRIVERS:
        assert cited[name] and not cited[name] - set(made), f"{name}: cites {sorted(cited[name] - set(made))}"
    assert not set().union(*cited.values()) - set(made)


# --- the theory notebook --------------------------------------------------------------------


def test_worked_backprop_matches_autograd_for_other_numbers(bundle_dirs, monkeypatch):
    """The theory notebook's hand-derived table must equal autograd (1e-6) for any figure's numbers."""
    monkeypatch.setenv("BUNDLE_REPORT_DIR", str(bundle_dirs["report"]))
    monkeypatch.setenv("BUNDLE_CACHE_DIR", str(bundle_dirs["cache"]))
    args = [
        "-p",
        "inputs=[0.3, -0.7]",
        "-p",
        "targets=[0.2, 0.9]",
        "-p",
        "hidden_weights=[0.5, -0.1, 0.3, 0.8]",
        "-p",
        "output_weights=[-0.4, 0.6, 0.2, 0.1]",
        "-p",
        "hidden_bias=-0.2",
        "-p",
        "output_bias=0.05",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "lib.build", "run", "cpsc663_ex2/00_theory", "--profile", "smoke", *args],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((bundle_dirs["report"] / "cpsc663_ex2" / "metrics" / "00_theory.json").read_text())
    assert metrics["p3_max_abs_diff_vs_autograd"] < 1e-6
    assert "P3.3 hand backprop = autograd" in metrics["checks"]


def test_theory_rejects_a_target_outside_0_1(capsys):
    assert build.main(["run", "cpsc663_ex2/00_theory", "--profile", "smoke", "-p", "targets=[0.2, 1.5]"]) == 1
    err = capsys.readouterr().err.strip()
    assert "targets" in err and "fix" in err and "\n" not in err


# --- the Gradescope folder ------------------------------------------------------------------


@pytest.fixture()
def fake_cpsc_report(tmp_path, monkeypatch):
    """What `make report` leaves behind, with placeholder content."""
    report = tmp_path / "report"
    monkeypatch.setenv("BUNDLE_REPORT_DIR", str(report))
    monkeypatch.setenv("BUNDLE_DIST_DIR", str(tmp_path / "dist"))
    model_dir = paths.exported_models_dir("cpsc663_ex2")
    model_dir.mkdir(parents=True)
    (report / "cpsc663_ex2.pdf").write_bytes(b"%PDF-1.5 placeholder")
    nbformat.write(nbformat.v4.new_notebook(), report / "cpsc663_ex2.ipynb")
    for name in hand_in.MODELS:
        (model_dir / name).write_bytes(f"weights of {name}".encode())
    return tmp_path


def test_cpsc663_submission_layout(fake_cpsc_report, capsys):
    target = submission.cpsc663_ex2()
    assert target == fake_cpsc_report / "dist" / "cpsc663_ex2"
    student = build.load_student()
    handle = (student["last_name"] + student["initials"]).lower()
    expected = {
        f"452_{handle}_assignment2.pdf",
        f"{handle}_assignment2.ipynb",
        "prob4_CNN.py",
        "prob5_AE.py",
        "prob6_CAE.py",
        "mnist_ae.pt",
        "mnist_cae.pt",
        "mnist-cae-skip.pt",
        "mnist_cae_denoising.pt",
        "mnist-cae-skip_denoising.pt",
    }
    assert {p.name for p in target.iterdir()} == expected
    assert all(p.is_file() for p in target.iterdir())  # no lib/, no __pycache__, no folder at all
    assert not (target / "lib").exists() and not list(target.rglob("__pycache__"))
    for script in hand_in.SCRIPTS:
        assert (target / script).read_bytes() == (PACKAGE_DIR / script).read_bytes()
    for name in hand_in.MODELS:
        assert (target / name).read_bytes() == f"weights of {name}".encode()
    assert "placeholder" in capsys.readouterr().err
    submission.cpsc663_ex2()  # rebuilding replaces the folder cleanly
    assert {p.name for p in target.iterdir()} == expected
    assert [p.name for p in target.parent.iterdir()] == ["cpsc663_ex2"]  # no staging or old copy left
    assert not hasattr(submission, "CPSC663_MODELS")


@pytest.mark.parametrize("name", hand_in.MODELS)
def test_cpsc663_submission_needs_every_model(fake_cpsc_report, name):
    (paths.exported_models_dir("cpsc663_ex2") / name).unlink()
    with pytest.raises(build.BuildError, match=rf"{re.escape(name)}.*make report"):
        submission.cpsc663_ex2()
    assert not (fake_cpsc_report / "dist" / "cpsc663_ex2").exists()


def test_cpsc663_submission_needs_the_merged_notebook_and_pdf(fake_cpsc_report):
    (paths.report_dir() / "cpsc663_ex2.ipynb").unlink()
    with pytest.raises(build.BuildError, match=r"cpsc663_ex2\.ipynb.*make report"):
        submission.cpsc663_ex2()
    (paths.report_dir() / "cpsc663_ex2.pdf").unlink()
    with pytest.raises(build.BuildError, match=r"cpsc663_ex2\.pdf.*make report"):
        submission.cpsc663_ex2()


def test_p6_prose_values_are_measured():
    """The P5/P6 phrases that name digits and epochs come from the measurements: each named
    digit carries its 5-NN accuracy, the closest digit is named when none is separated, the
    epoch that beats a level is found per seed, and the read-as digits of the top misreadings."""
    accuracy = np.array([0.97, 0.5, 0.2, 0.95, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7])
    assert experiments._digits([0, 3], accuracy) == "digits 0 at 97% and 3 at 95%"
    assert experiments._digits([2], accuracy) == "digit 2 at 20%"
    assert experiments._digits([], accuracy) == "none"
    # a 5-NN confusion matrix per digit: digit 3 at 95%, all others at 50%
    knn = np.diag([50] * 10) + np.roll(np.diag([50] * 10), 1, axis=1)
    knn[3] = 0
    knn[3, 3], knn[3, 4] = 95, 5
    runs = {0: type("Run", (), {"knn_matrix": knn})()}
    assert experiments.separation(runs) == ("digit 3 at 95%", "digits 0 at 50%, 1 at 50%, 2 at 50%, 4 at 50%, 5 at 50%, "
                                            "6 at 50%, 7 at 50%, 8 at 50% and 9 at 50%")  # fmt: skip
    knn[3, 3], knn[3, 4] = 80, 20
    assert experiments.separation(runs)[0] == "none; the closest is digit 3 at 80%"
    history = type("Run", (), {})
    runs = {s: history() for s in range(3)}
    for run, curve in zip(runs.values(), ([0.06, 0.05, 0.04], [0.06, 0.052, 0.051], [0.06, 0.06, 0.06]), strict=True):
        run.history = {"test_mse": curve}
    assert experiments.passing_epochs(runs, 0.0529) == "2 / 2 / none"
    reading = np.diag([100] * 10)
    reading[4, 9], reading[7, 9], reading[3, 8], reading[2, 1] = 90, 60, 40, 5
    assert experiments._misread_as(reading) == "8 or 9"
    assert experiments._misread_as(reading, top=4) == "1, 8 or 9"
    assert experiments._misread_as(reading, top=2) == "9"
