from __future__ import annotations

import pytest

from lib import build
from lib.params import SPECS, ParameterError, check_overrides, resolve


def namespace(notebook_id, **values):
    ns = {name: None for name in SPECS[notebook_id]}
    ns.update(profile="full", device="auto")
    ns.update(values)
    return ns


def test_profiles_fill_defaults():
    full = resolve("nn4i_ex2/q1_autoencoding", namespace("nn4i_ex2/q1_autoencoding"))
    smoke = resolve("nn4i_ex2/q1_autoencoding", namespace("nn4i_ex2/q1_autoencoding", profile="smoke"))
    assert full.latent_dim == 10 and full.num_epochs > smoke.num_epochs
    assert 10 in full.latent_dims and len(full.latent_dims) >= 7


def test_explicit_value_wins_and_int_is_accepted_for_float():
    cfg = resolve("nn4i_ex2/q1_autoencoding", namespace("nn4i_ex2/q1_autoencoding", num_epochs=2, learning_rate=1))
    assert cfg.num_epochs == 2 and cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"latnt_dim": 4}, "unknown parameter 'latnt_dim'"),
        ({"latent_dim": "ten"}, "parameter 'latent_dim' must be int"),
        ({"learning_rate": "1e-3"}, "it is a string"),
        ({"latent_dim": 0}, "below the minimum"),
        ({"num_epochs": -1}, "below the minimum"),
        ({"latent_dims": [2, "x"]}, "must be list[int]"),
        ({"latent_dim": True}, "must be int"),
        ({"profile": "fast"}, "'profile'"),
        ({"device": "tpu"}, "'device' = 'tpu'"),
        ({"device": "cuda:x"}, "'device'"),
        ({"num_epochs": 10**9}, "above the maximum 1000"),
        ({"seed": 10**30}, "above the maximum"),
        ({"latent_dims": []}, "empty list"),
        ({"latent_dims": [4, 4]}, "repeats a value"),
        ({"learning_rate": float("inf")}, "not a finite number"),
        ({"learning_rate": float("nan")}, "not a finite number"),
    ],
)
def test_bad_values_are_rejected_with_one_line(overrides, message):
    with pytest.raises(ParameterError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        check_overrides("nn4i_ex2/q1_autoencoding", overrides)
    assert "\n" not in str(info.value)
    assert "fix" in str(info.value) or "one of" in str(info.value)


def test_more_labels_than_images_is_rejected():
    with pytest.raises(ParameterError, match="num_labels"):
        check_overrides("nn4i_ex2/q4_transfer", {"num_labels": 70000})
    # a balanced set cannot take more than 10 x the 5,421 fives of the training split
    for notebook in ("nn4i_ex2/q4_transfer", "idl_ex3/p1_transfer"):
        with pytest.raises(ParameterError, match="maximum 54210"):
            check_overrides(notebook, {"num_labels": 54211})
        check_overrides(notebook, {"num_labels": 54210})
    with pytest.raises(ParameterError, match="label_counts"):
        check_overrides("nn4i_ex2/q4_transfer", {"label_counts": [10, 60000]})


def test_a_named_device_that_is_absent_is_a_one_line_error(monkeypatch):
    import torch

    from lib.utils import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match='device "cuda:1" is not available.*fix: device="auto"'):
        pick_device("cuda:1")
    assert pick_device("cpu") == torch.device("cpu")


def test_cli_rejects_zero_jobs(capsys):
    with pytest.raises(SystemExit):
        build.main(["report", "--profile", "smoke", "--jobs", "0"])
    assert "--jobs" in capsys.readouterr().err


def test_missing_parameter_in_cell_is_reported():
    ns = namespace("nn4i_ex2/q1_autoencoding")
    del ns["num_epochs"]
    with pytest.raises(ParameterError, match="does not define 'num_epochs'"):
        resolve("nn4i_ex2/q1_autoencoding", ns)


def test_cli_rejects_bad_parameter_before_running(capsys):
    code = build.main(["run", "nn4i_ex2/q1_autoencoding", "--profile", "smoke", "-p", "latent_dim=ten"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "latent_dim" in err[0]


def test_cli_parses_literals():
    assert build.parse_assignments(["a=1e-3", "b=[2, 4]", "c=ten", "d=True"]) == {"a": 0.001, "b": [2, 4], "c": "ten", "d": True}


def test_every_count_has_a_ceiling():
    """A typo such as num_epochs=10**9 is an error, not a build that never ends."""
    unbounded = [
        (notebook, name)
        for notebook, spec in SPECS.items()
        for name, param in spec.items()
        if param.kind in ("int", "list[int]") and param.maximum is None
    ]
    assert not unbounded


def test_repeated_values_are_fine_where_they_mean_something():
    check_overrides("cpsc663_ex2/00_theory", {"hidden_weights": [0.5, 0.5, 0.5, 0.5]})
    check_overrides("cpsc663_ex2/p5_autoencoders", {"hidden_sizes": [256, 256]})
    with pytest.raises(ParameterError, match="not a finite number"):
        check_overrides("cpsc663_ex2/00_theory", {"hidden_bias": float("inf")})
