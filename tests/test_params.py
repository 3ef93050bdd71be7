"""Notebook parameters: the pydantic settings every assignment package declares
(lib/settings.py, lib/<assignment>/__init__.py).  A bad value stops the build with one line
naming the parameter and the fix."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field

from lib import build, cpsc663_ex2, idl_ex3, nn4i_ex2
from lib.params import ParameterError, check_overrides, settings_for
from lib.settings import NotebookSettings


def settings_namespace(settings, **values):
    """The globals of a notebook's parameters cell: every parameter None (= the profile's value)."""
    ns = {name: None for name in settings.parameter_names()}
    ns.update(profile="full", device="auto")
    ns.update(values)
    return ns


class FloatSettings(NotebookSettings):
    """nn4i_ex2 has no float parameter; its settings share this base, whose float rules these check
    (cpsc663_ex2's learning rates are checked on P5Settings below)."""

    learning_rate: float = 1e-3


# --- nn4i_ex2: pydantic settings -------------------------------------------------------


@pytest.mark.parametrize("assignment", [nn4i_ex2, cpsc663_ex2, idl_ex3], ids=["nn4i_ex2", "cpsc663_ex2", "idl_ex3"])
def test_every_notebook_has_a_settings_class(assignment):
    prefix = assignment.__name__.removeprefix("lib.")
    assert set(assignment.SETTINGS) == set(assignment.NOTEBOOKS)
    for name in assignment.NOTEBOOKS:
        assert settings_for(f"{prefix}/{name}") is assignment.SETTINGS[name]
    assert settings_for("no_such_assignment/p1") is None and settings_for("../x/p1") is None


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
    with pytest.raises(ParameterError, match="num_labels.*54210"):
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


# --- every settings class of every assignment ----------------------------------------

PYDANTIC_SETTINGS = {
    f"{assignment.__name__.removeprefix('lib.')}/{k}": v
    for assignment in (nn4i_ex2, cpsc663_ex2, idl_ex3)
    for k, v in assignment.SETTINGS.items()
}
FREE_FLOATS = {"cpsc663_ex2/00_theory"}  # a figure's inputs, weights and biases: any real numbers


def number_schemas(schema: dict, path: str, kinds=("integer", "number")):
    """(path, schema) of every number of ``kinds`` in a field's JSON schema, list items included."""
    if schema.get("type") in kinds:
        yield path, schema
    if "items" in schema:
        yield from number_schemas(schema["items"], f"{path}[]", kinds)
    for option in schema.get("anyOf", []):
        yield from number_schemas(option, path, kinds)


@pytest.mark.parametrize("notebook", PYDANTIC_SETTINGS)
def test_every_count_of_the_settings_has_a_ceiling(notebook):
    """A typo such as headline_seeds=10**9 or num_epochs=10**9 is an error, not a build that never ends."""
    kinds = ("integer",) if notebook in FREE_FLOATS else ("integer", "number")
    properties = PYDANTIC_SETTINGS[notebook].model_json_schema()["properties"]
    numbers = [(path, n) for field, schema in properties.items() for path, n in number_schemas(schema, field, kinds)]
    unbounded = [path for path, n in numbers if "maximum" not in n]
    assert not unbounded


def test_the_ceiling_check_finds_an_unbounded_count():
    class Unbounded(NotebookSettings):
        counts: list[int] = [1]
        steps: int = 1
        rate: Annotated[float, Field(gt=0, le=1)] = 0.5

    properties = Unbounded.model_json_schema()["properties"]
    found = [path for field, schema in properties.items() for path, n in number_schemas(schema, field) if "maximum" not in n]
    assert found == ["counts[]", "steps"]


@pytest.mark.parametrize("notebook", PYDANTIC_SETTINGS)
def test_every_profile_value_is_valid_and_names_a_field(notebook):
    settings = PYDANTIC_SETTINGS[notebook]
    for profile, values in settings.PROFILE_VALUES.items():
        assert set(values) <= set(settings.parameter_names()), profile
        assert settings.check(notebook, {"profile": profile}).model_dump()  # within the ranges
    for profile in ("full", "quick", "smoke"):
        settings.check(notebook, {"profile": profile})


# --- cpsc663_ex2: pydantic settings ------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"latnt_dim": 4}, "unknown parameter 'latnt_dim'"),
        ({"seed": 0}, "unknown parameter 'seed'"),  # the old scalar name: now a list of seeds
        ({"latent_dim": "ten"}, "parameter 'latent_dim' = 'ten'.*it is a string"),
        ({"num_epochs": "10"}, "parameter 'num_epochs' = '10'.*it is a string"),
        ({"learning_rate": "1e-3"}, "parameter 'learning_rate'.*it is a string"),
        ({"latent_dim": 0}, "parameter 'latent_dim' = 0.*greater than or equal to 1"),
        ({"num_epochs": -1}, "parameter 'num_epochs'.*greater than or equal to 1"),
        ({"linear_latent_dims": [2, "x"]}, "parameter 'linear_latent_dims'.*valid integer"),
        ({"latent_dim": True}, "parameter 'latent_dim' = True.*valid integer"),
        ({"profile": "fast"}, "'profile' = 'fast' is not one of"),
        ({"device": "tpu"}, "'device' = 'tpu'"),
        ({"device": "cuda:x"}, "'device' = 'cuda:x'"),
        ({"num_epochs": 10**9}, "parameter 'num_epochs'.*less than or equal to 1000"),
        ({"seeds": [10**30]}, "parameter 'seeds'.*less than or equal to 4294967295"),
        ({"train_size": 60001}, "parameter 'train_size'.*less than or equal to 60000"),
        ({"hidden_sizes": [256, 256]}, "parameter 'hidden_sizes'.*at least 3 items"),
        ({"linear_latent_dims": []}, "parameter 'linear_latent_dims' = \\[\\].*at least 1 item"),
        ({"linear_latent_dims": [4, 4]}, "parameter 'linear_latent_dims' = \\[4, 4\\]: repeats a value"),
        ({"learning_rate": float("inf")}, "parameter 'learning_rate'.*finite number"),
        ({"learning_rate": float("nan")}, "parameter 'learning_rate'.*finite number"),
        ({"learning_rate": 0}, "parameter 'learning_rate'.*greater than 0"),
    ],
)
def test_bad_cpsc_values_are_rejected_with_one_line(overrides, message):
    with pytest.raises(ParameterError, match=message) as info:
        check_overrides("cpsc663_ex2/p5_autoencoders", overrides)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("cpsc663_ex2/p5_autoencoders: ")
    assert "fix" in str(info.value)


def test_cpsc_profiles_fill_defaults_and_explicit_value_wins():
    p5 = cpsc663_ex2.P5Settings
    full = p5.resolve("cpsc663_ex2/p5_autoencoders", settings_namespace(p5))
    smoke = p5.resolve("cpsc663_ex2/p5_autoencoders", settings_namespace(p5, profile="smoke"))
    assert full.num_epochs > smoke.num_epochs and full.train_size > smoke.train_size
    assert smoke.linear_latent_dims == p5.PROFILE_VALUES["smoke"]["linear_latent_dims"]
    cfg = p5.resolve("cpsc663_ex2/p5_autoencoders", settings_namespace(p5, profile="smoke", num_epochs=2, learning_rate=1))
    assert cfg.num_epochs == 2 and cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float)
    assert cfg.train_size == smoke.train_size  # the rest: smoke's


def test_cpsc_missing_parameter_in_cell_is_reported():
    ns = settings_namespace(cpsc663_ex2.P5Settings)
    del ns["num_epochs"]
    with pytest.raises(ParameterError, match="does not define 'num_epochs'.*fix: add `num_epochs = None`"):
        cpsc663_ex2.P5Settings.resolve("cpsc663_ex2/p5_autoencoders", ns)


def test_repeated_values_are_fine_where_they_mean_something():
    check_overrides("cpsc663_ex2/00_theory", {"hidden_weights": [0.5, 0.5, 0.5, 0.5]})
    check_overrides("cpsc663_ex2/p5_autoencoders", {"hidden_sizes": [256, 256, 256]})
    with pytest.raises(ParameterError, match="parameter 'hidden_bias'.*finite number"):
        check_overrides("cpsc663_ex2/00_theory", {"hidden_bias": float("inf")})
    with pytest.raises(ParameterError, match="parameter 'targets'"):
        check_overrides("cpsc663_ex2/00_theory", {"targets": [0.5, 1.5]})  # a sigmoid output reaches (0, 1) only


# --- the command line ------------------------------------------------


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
