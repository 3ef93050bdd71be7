"""``make bench`` on a few hundred images: both loops run and the report is written."""

from __future__ import annotations

import json

from lib import bench, paths


def test_bench_runs_and_reports_its_efficiency(mnist_dir, capsys):
    assert bench.main(["--repeats", "1", "--train-size", "256"]) == 0
    result = json.loads((paths.report_dir() / "bench.json").read_text())
    assert result["runs"][0]["lib_images_per_s"] > 0 and result["runs"][0]["idiom_images_per_s"] > 0
    # forward + backward of the d=10 AE: about 3x its 2.75 M multiply-adds per image forward
    assert 12e6 < result["training_flops_per_image"] < 20e6
    assert 0 < result["lib_flops_per_s"] < result["matmul_flops_per_s"] * 1.5
    assert "GFLOP/s" in capsys.readouterr().out


def test_bench_rejects_bad_arguments(capsys):
    assert bench.main(["--repeats", "0"]) == 1
    assert "fix:" in capsys.readouterr().err
