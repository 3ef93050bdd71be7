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
