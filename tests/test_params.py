"""Notebook parameters: nn4i_ex2's pydantic settings (lib/settings.py, lib/nn4i_ex2) and the
SPECS the other two assignments still use (lib/params.py).  Either way a bad value stops the
build with one line naming the parameter and the fix."""

from __future__ import annotations

import pytest

from lib import build, nn4i_ex2
from lib.params import SPECS, ParameterError, check_overrides, resolve, settings_for
from lib.settings import NotebookSettings


def namespace(notebook_id, **values):
    ns = {name: None for name in SPECS[notebook_id]}
    ns.update(profile="full", device="auto")
    ns.update(values)
    return ns


def settings_namespace(settings, **values):
    """The globals of a notebook's parameters cell: every parameter None (= the profile's value)."""
    ns = {name: None for name in settings.parameter_names()}
    ns.update(profile="full", device="auto")
    ns.update(values)
    return ns


class FloatSettings(NotebookSettings):
    """nn4i_ex2 has no float parameter; its settings share this base, whose float rules these check."""

    learning_rate: float = 1e-3


# --- nn4i_ex2: pydantic settings -------------------------------------------------------


def test_nn4i_notebooks_use_the_pydantic_settings_not_specs():
    assert not [notebook for notebook in SPECS if notebook.startswith("nn4i_ex2/")]
    for name in nn4i_ex2.NOTEBOOKS:
        assert settings_for(f"nn4i_ex2/{name}") is nn4i_ex2.SETTINGS[name]
    assert settings_for("idl_ex3/p1_transfer") is None


def test_profiles_fill_defaults():
    full = nn4i_ex2.Q1Settings.resolve("nn4i_ex2/q1_autoencoding", settings_namespace(nn4i_ex2.Q1Settings))
    smoke = nn4i_ex2.Q1Settings.resolve("nn4i_ex2/q1_autoencoding", settings_namespace(nn4i_ex2.Q1Settings, profile="smoke"))
    assert full.profile == "full" and smoke.profile == "smoke"
    assert 10 in full.latent_dims and len(full.latent_dims) >= 7
    assert smoke.latent_dims == nn4i_ex2.Q1Settings.PROFILE_VALUES["smoke"]["latent_dims"]
    assert len(smoke.latent_dims) < len(full.latent_dims) and smoke.headline_seeds < full.headline_seeds
    q4 = nn4i_ex2.Q4Settings.check("nn4i_ex2/q4_transfer", {"profile": "smoke"})
    assert q4.classifier_steps < nn4i_ex2.Q4Settings().classifier_steps


def test_explicit_value_wins():
    cfg = nn4i_ex2.Q1Settings.check("nn4i_ex2/q1_autoencoding", {"profile": "smoke", "latent_dims": [3, 5], "num_shown": 4})
    assert cfg.latent_dims == [3, 5] and cfg.num_shown == 4
    assert cfg.conv_layer_counts == nn4i_ex2.Q1Settings.PROFILE_VALUES["smoke"]["conv_layer_counts"]  # the rest: smoke's


def test_int_is_accepted_for_float():
    cfg = FloatSettings.check("t", {"learning_rate": 1})
    assert cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float)


@pytest.mark.parametrize(
    ("notebook", "overrides", "message"),
    [
        ("q1_autoencoding", {"latnt_dims": [4]}, "unknown parameter 'latnt_dims'"),
        ("q1_autoencoding", {"latent_dim": 10}, "unknown parameter 'latent_dim'"),  # the old scalar name
        ("q1_autoencoding", {"latent_dims": "ten"}, "parameter 'latent_dims' = 'ten'.*valid list.*it is a string"),
        ("q1_autoencoding", {"num_shown": "10"}, "parameter 'num_shown' = '10'.*it is a string"),
        ("q1_autoencoding", {"latent_dims": [2, "x"]}, "parameter 'latent_dims'.*valid integer"),
        ("q1_autoencoding", {"latent_dims": 10}, "parameter 'latent_dims'.*valid list"),
        ("q1_autoencoding", {"headline_seeds": True}, "parameter 'headline_seeds' = True.*valid integer"),
        ("q1_autoencoding", {"num_shown": 2.5}, "parameter 'num_shown'.*valid integer"),
        ("q1_autoencoding", {"num_shown": 0}, "parameter 'num_shown' = 0.*greater than or equal to 1"),
        ("q1_autoencoding", {"latent_dims": [0]}, "parameter 'latent_dims'.*greater than or equal to 1"),
        ("q1_autoencoding", {"conv_layer_counts": [5]}, "parameter 'conv_layer_counts'.*less than or equal to 4"),
        ("q1_autoencoding", {"headline_seeds": 10**9}, "parameter 'headline_seeds'.*less than or equal to 10"),
        ("q4_transfer", {"first_draw": 10**30}, "parameter 'first_draw'.*less than or equal to 4294967295"),
        ("q4_transfer", {"classifier_steps": 10**9}, "parameter 'classifier_steps'.*less than or equal"),
        ("q1_autoencoding", {"latent_dims": []}, "parameter 'latent_dims' = \\[\\].*at least 1 item"),
        ("q3_decorrelation", {"latent_dims": [4, 4]}, "parameter 'latent_dims' = \\[4, 4\\]: repeats a value"),
        ("q4_transfer", {"label_counts": [10, 10]}, "parameter 'label_counts'.*repeats a value"),
        ("q1_autoencoding", {"profile": "fast"}, "'profile' = 'fast' is not one of"),
        ("q1_autoencoding", {"device": "tpu"}, "'device' = 'tpu'"),
        ("q1_autoencoding", {"device": "cuda:x"}, "'device' = 'cuda:x'"),
        ("00_theory", {"latent_dims": [2]}, "unknown parameter 'latent_dims'"),
    ],
)
def test_bad_values_are_rejected_with_one_line(notebook, overrides, message):
    with pytest.raises(ParameterError, match=message) as info:
        check_overrides(f"nn4i_ex2/{notebook}", overrides)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"nn4i_ex2/{notebook}: ")
    assert "fix" in str(info.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("inf"), "finite number"),
        (float("nan"), "finite number"),
        ("1e-3", "it is a string"),
        (True, "valid number"),
    ],
)
def test_bad_floats_are_rejected_with_one_line(value, message):
    with pytest.raises(ParameterError, match=f"parameter 'learning_rate'.*{message}.*fix: give e.g. learning_rate=0.001") as info:
        FloatSettings.check("t", {"learning_rate": value})
    assert "\n" not in str(info.value)


def test_more_labels_than_images_is_rejected():
    with pytest.raises(ParameterError, match="num_labels"):
        check_overrides("nn4i_ex2/q4_transfer", {"num_labels": 70000})
    # a balanced set cannot take more than 10 x the 5,421 fives of the training split
    with pytest.raises(ParameterError, match="num_labels.*54210"):
        check_overrides("nn4i_ex2/q4_transfer", {"num_labels": 54211})
    check_overrides("nn4i_ex2/q4_transfer", {"num_labels": 54210})
    with pytest.raises(ParameterError, match="maximum 54210"):
        check_overrides("idl_ex3/p1_transfer", {"num_labels": 54211})
    check_overrides("idl_ex3/p1_transfer", {"num_labels": 54210})
    with pytest.raises(ParameterError, match="label_counts"):
        check_overrides("nn4i_ex2/q4_transfer", {"label_counts": [10, 60000]})


def test_missing_parameter_in_cell_is_reported():
    ns = settings_namespace(nn4i_ex2.Q1Settings)
    del ns["num_shown"]
    with pytest.raises(ParameterError, match="does not define 'num_shown'.*fix: add `num_shown = None`"):
        nn4i_ex2.Q1Settings.resolve("nn4i_ex2/q1_autoencoding", ns)


def test_cli_rejects_bad_parameter_before_running(capsys):
    code = build.main(["run", "nn4i_ex2/q1_autoencoding", "--profile", "smoke", "-p", "latent_dims=ten"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "latent_dims" in err[0] and "fix" in err[0]


def test_every_nn4i_count_has_a_ceiling():
    """A typo such as headline_seeds=10**9 is an error, not a build that never ends."""
    unbounded = []
    for name, settings in nn4i_ex2.SETTINGS.items():
        for field, schema in settings.model_json_schema()["properties"].items():
            bounded = schema.get("items", schema) if schema.get("type") == "array" else schema
            if bounded.get("type") in ("integer", "number") and "maximum" not in bounded:
                unbounded.append(f"{name}.{field}")
    assert not unbounded


def test_every_profile_value_is_valid_and_names_a_field():
    for name, settings in nn4i_ex2.SETTINGS.items():
        for profile, values in settings.PROFILE_VALUES.items():
            assert set(values) <= set(settings.parameter_names()), (name, profile)
            assert settings.check(name, {"profile": profile}).model_dump()  # within the ranges
        for profile in ("full", "quick", "smoke"):
            settings.check(name, {"profile": profile})


# --- idl_ex3 and cpsc663_ex2: SPECS ------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"latnt_dim": 4}, "unknown parameter 'latnt_dim'"),
        ({"latent_dim": "ten"}, "parameter 'latent_dim' must be int"),
        ({"learning_rate": "1e-3"}, "it is a string"),
        ({"latent_dim": 0}, "below the minimum"),
        ({"num_epochs": -1}, "below the minimum"),
        ({"linear_latent_dims": [2, "x"]}, "must be list[int]"),
        ({"latent_dim": True}, "must be int"),
        ({"profile": "fast"}, "'profile'"),
        ({"device": "tpu"}, "'device' = 'tpu'"),
        ({"device": "cuda:x"}, "'device'"),
        ({"num_epochs": 10**9}, "above the maximum 1000"),
        ({"seed": 10**30}, "above the maximum"),
        ({"linear_latent_dims": []}, "empty list"),
        ({"linear_latent_dims": [4, 4]}, "repeats a value"),
        ({"learning_rate": float("inf")}, "not a finite number"),
        ({"learning_rate": float("nan")}, "not a finite number"),
    ],
)
def test_bad_spec_values_are_rejected_with_one_line(overrides, message):
    with pytest.raises(ParameterError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        check_overrides("cpsc663_ex2/p5_autoencoders", overrides)
    assert "\n" not in str(info.value)
    assert "fix" in str(info.value) or "one of" in str(info.value)


def test_spec_profiles_fill_defaults_and_explicit_value_wins():
    full = resolve("cpsc663_ex2/p5_autoencoders", namespace("cpsc663_ex2/p5_autoencoders"))
    smoke = resolve("cpsc663_ex2/p5_autoencoders", namespace("cpsc663_ex2/p5_autoencoders", profile="smoke"))
    assert full.num_epochs > smoke.num_epochs and full.train_size > smoke.train_size
    cfg = resolve("cpsc663_ex2/p5_autoencoders", namespace("cpsc663_ex2/p5_autoencoders", num_epochs=2, learning_rate=1))
    assert cfg.num_epochs == 2 and cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float)


def test_spec_missing_parameter_in_cell_is_reported():
    ns = namespace("cpsc663_ex2/p5_autoencoders")
    del ns["num_epochs"]
    with pytest.raises(ParameterError, match="does not define 'num_epochs'"):
        resolve("cpsc663_ex2/p5_autoencoders", ns)


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
