"""AMTH/CPSC 663 Exercise II: model shapes, PCA geometry, the worked backprop example for
other numbers, the submission folder and the stand-alone hand-in scripts."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import nbformat
import pytest
import torch
from torch import nn

from lib import analysis, build, models, paths, submission


def test_filter_cnn_shapes():
    model = models.FilterCNN(num_filters=40)
    assert model.conv1.weight.shape == (40, 1, 5, 5)
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_mlp_autoencoder_has_four_linear_layers_each_way_and_a_linear_code():
    model = models.MLPAutoencoder(latent_dim=2, hidden=(64, 32, 16))
    enc = [m for m in model.encoder.net if isinstance(m, nn.Linear)]
    dec = [m for m in model.decoder.net if isinstance(m, nn.Linear)]
    assert len(enc) == 4 and len(dec) == 4
    assert isinstance(model.encoder.net[-1], nn.Linear)  # no activation into the code
    assert isinstance(model.decoder.net[0], nn.Linear)  # none out of it either
    x = torch.rand(5, 1, 28, 28)
    assert model.encoder(x).shape == (5, 2)
    out = model(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("skip", [False, True])
def test_conv_autoencoder_matches_the_handout(skip):
    model = models.SmallConvAutoencoder(latent_dim=2, skip=skip)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 4), (4, 8), (8, 4), (4, 1)]
    assert all(c.kernel_size == (3, 3) and c.stride == (1, 1) and c.padding == (1, 1) for c in convs[:2])
    linears = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears == [(392, 20), (20, 2), (2, 20), (20, 392)]
    ups = [m for m in model.modules() if isinstance(m, nn.Upsample)]
    assert len(ups) == 2 and all(u.mode == "nearest" and u.scale_factor == 2 for u in ups)
    x = torch.rand(4, 1, 28, 28)
    codes, skips = model.encoder(x)
    assert codes.shape == (4, 2) and [s.shape for s in skips] == [(4, 4, 14, 14), (4, 8, 7, 7)]
    out = model(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1


def test_skips_add_no_parameters_and_carry_information_past_the_code():
    torch.manual_seed(0)
    plain, skip = models.SmallConvAutoencoder(skip=False), models.SmallConvAutoencoder(skip=True)
    assert models.count_parameters(plain) == models.count_parameters(skip)
    skip.eval()
    x = torch.rand(2, 1, 28, 28)
    codes, maps = skip.encoder(x)
    same_code = codes[:1].repeat(2, 1)  # identical codes, different skip maps
    out = skip.decoder(same_code, maps)
    assert not torch.allclose(out[0], out[1])
    assert torch.allclose(plain.decoder(same_code)[0], plain.decoder(same_code)[1])


def test_principal_angles():
    basis = torch.randn(20, 3)
    mixed = basis @ torch.randn(3, 3)  # same column space, another basis
    assert analysis.principal_angles(basis, mixed).max() < 1e-6
    e = torch.eye(6)
    angles = analysis.principal_angles(e[:, :2], e[:, 2:4])
    assert torch.allclose(angles, torch.full((2,), math.pi / 2, dtype=torch.float64), atol=1e-9)


def test_most_confused_pairs_reads_off_diagonal():
    import numpy as np

    matrix = np.diag([50] * 10)
    matrix[4, 9], matrix[7, 2], matrix[3, 5] = 9, 5, 2
    assert analysis.most_confused_pairs(matrix, top=2) == [(4, 9, 9), (7, 2, 5)]


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


@pytest.fixture()
def fake_cpsc_report(tmp_path, monkeypatch):
    """What `make report` leaves behind, with placeholder content."""
    report = tmp_path / "report"
    monkeypatch.setenv("BUNDLE_REPORT_DIR", str(report))
    monkeypatch.setenv("BUNDLE_DIST_DIR", str(tmp_path / "dist"))
    (report / "cpsc663_ex2" / "models").mkdir(parents=True)
    (report / "cpsc663_ex2.pdf").write_bytes(b"%PDF-1.5 placeholder")
    nbformat.write(nbformat.v4.new_notebook(), report / "cpsc663_ex2.ipynb")
    for name in submission.CPSC663_MODELS:
        (report / "cpsc663_ex2" / "models" / name).write_bytes(b"weights")
    return tmp_path


def test_cpsc663_submission_layout(fake_cpsc_report, capsys):
    target = submission.cpsc663_ex2()
    student = build.load_student()
    handle = (student["last_name"] + student["initials"]).lower()
    names = {p.name for p in target.iterdir()}
    expected = {
        f"452_{handle}_assignment2.pdf",
        f"{handle}_assignment2.ipynb",
        "prob4_CNN.py",
        "prob5_AE.py",
        "prob6_CAE.py",
        "mnist_ae.pt",
        "mnist_cae.pt",
        "mnist-cae-skip.pt",
        "lib",
    }
    assert expected <= names, expected - names
    assert (target / "lib" / "models.py").is_file() and not list(target.rglob("__pycache__"))
    assert "placeholder" in capsys.readouterr().err
    submission.cpsc663_ex2()  # rebuilding replaces the folder cleanly
    assert {p.name for p in target.iterdir()} == names


def test_cpsc663_submission_needs_the_models(fake_cpsc_report):
    (paths.exported_models_dir("cpsc663_ex2") / "mnist_cae.pt").unlink()
    with pytest.raises(build.BuildError, match="mnist_cae.pt.*make report"):
        submission.cpsc663_ex2()


@pytest.mark.parametrize(
    ("script", "extra", "written", "model"),
    [
        ("prob5_AE.py", [], "mnist_ae.pt", lambda: models.MLPAutoencoder(2, (512, 256, 128))),
        ("prob6_CAE.py", ["--skip"], "mnist-cae-skip.pt", lambda: models.SmallConvAutoencoder(skip=True)),
        ("prob4_CNN.py", [], "mnist_cnn.pt", lambda: models.FilterCNN(40)),
    ],
)
def test_handin_scripts_run_standalone(fake_cpsc_report, script, extra, written, model):
    """Copied to the submission folder, each script trains from there with the bundled lib."""
    from tests.conftest import mnist_source

    target = submission.cpsc663_ex2()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({"MNIST_DIR": str(mnist_source()), "BUNDLE_OFFLINE": "1", "BUNDLE_DATA_DIR": str(fake_cpsc_report / "data")})
    (target / written).unlink(missing_ok=True)
    result = subprocess.run(
        [sys.executable, script, "--epochs", "1", "--train-size", "256", *extra],
        cwd=target,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    net = model()
    net.load_state_dict(torch.load(target / written, weights_only=True))


def test_handin_script_rejects_bad_arguments(fake_cpsc_report):
    target = submission.cpsc663_ex2()
    result = subprocess.run(
        [sys.executable, "prob5_AE.py", "--epochs", "0"], cwd=target, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "--epochs" in result.stderr and "fix" in result.stderr
