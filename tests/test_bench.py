"""``make bench`` on a few hundred images: the three loops run (lib's in the precisions it
claims), the table and the ratios are printed, and the report is written."""

from __future__ import annotations

import json

import pytest

from lib import bench, paths, precision, train


def test_bench_runs_three_loops_and_reports_ratios_and_efficiency(mnist_dir, capsys, monkeypatch):
    # record the training precision every lib epoch really ran in (the auto row must not
    # silently run in float32 on a CPU with native bfloat16)
    seen_precisions = []
    real_train_epoch = train.train_epoch

    def recording_train_epoch(*args, **kwargs):
        seen_precisions.append(precision.active())
        return real_train_epoch(*args, **kwargs)

    monkeypatch.setattr(train, "train_epoch", recording_train_epoch)
    monkeypatch.delenv("BUNDLE_PRECISION", raising=False)
    auto, reason = bench.auto_precision()

    assert bench.main(["--repeats", "1", "--train-size", "512"]) == 0
    out = capsys.readouterr().out
    result = json.loads((paths.report_dir() / "bench.json").read_text())

    assert set(seen_precisions) == {"float32", auto}
    if precision.cpu_has_native_bf16():
        assert auto == "bfloat16" and "bf16" in reason
    assert result["auto_precision"] == auto and f"automatic precision on this CPU: {auto} ({reason})" in out
    (run,) = result["runs"]
    for key in ("lib", "lib_auto", "idiom"):
        assert run[f"{key}_images_per_s"] > 0
        assert result["median_images_per_s"][key] == pytest.approx(run[f"{key}_images_per_s"])
    assert set(result["median_ratios"]) == {"lib_auto/idiom", "lib_float32/idiom", "lib_auto/lib_float32"}
    assert all(ratio > 0 for ratio in result["median_ratios"].values())
    assert result["median_ratios"]["lib_auto/lib_float32"] == pytest.approx(
        run["lib_auto_images_per_s"] / run["lib_images_per_s"]
    )
    assert result["median_ratio"] == result["median_ratios"]["lib_float32/idiom"]
    # forward + backward of the d=10 AE: about 3x its 2.75 M multiply-adds per image forward
    assert 12e6 < result["training_flops_per_image"] < 20e6
    # the ceilings are the fastest matrix products timed in the rounds (here, the one round)
    assert result["matmul_flops_per_s"] == run["matmul_flops_per_s"]["float32"]
    assert result["matmul_auto_flops_per_s"] == run["matmul_flops_per_s"][auto]
    assert 0 < result["lib_flops_per_s"] < result["matmul_flops_per_s"] * 1.5
    assert 0 < result["lib_auto_flops_per_s"] < result["matmul_auto_flops_per_s"] * 1.5
    if auto == "bfloat16":  # native bfloat16 products are faster than float32 ones (about 4x here)
        assert result["matmul_auto_flops_per_s"] > result["matmul_flops_per_s"]

    table_rows = [line for line in out.splitlines() if line.endswith(("in float32", f"in {auto}"))]
    assert [row.split("  ")[0] for row in table_rows] == [
        "lib, float32",
        f"lib, auto = {auto}",
        "torchvision + DataLoader, float32",
    ]
    ratio_lines = [line for line in out.splitlines() if line.startswith("  lib ") and "x" in line.split()[-1]]
    assert len(ratio_lines) == 3, out
    assert all(float(token.rstrip("x")) > 0 for line in ratio_lines for token in line.split() if token.endswith("x")), out


def test_auto_precision_names_why(monkeypatch):
    monkeypatch.setenv("BUNDLE_PRECISION", "float32")
    assert bench.auto_precision() == ("float32", "BUNDLE_PRECISION=float32 turns automatic precision off")
    monkeypatch.setenv("BUNDLE_PRECISION", "auto")
    resolved, reason = bench.auto_precision()
    assert resolved == ("bfloat16" if precision.cpu_has_native_bf16() else "float32")
    assert "/proc/cpuinfo" in reason


def test_bench_rejects_bad_arguments(capsys, monkeypatch):
    assert bench.main(["--repeats", "0"]) == 1
    assert "fix:" in capsys.readouterr().err
    monkeypatch.setenv("BUNDLE_PRECISION", "half")
    assert bench.main(["--repeats", "1"]) == 1
    assert "fix:" in capsys.readouterr().err
