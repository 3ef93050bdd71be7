"""Notebook parameters: one spec per notebook, three profiles, strict validation.

A notebook's ``parameters`` cell declares ``profile``, ``device`` and every name of
its spec (``None`` meaning "the profile's value").  Its next cell calls
:func:`resolve`, which fills the ``None`` values from the profile and rejects wrong
types or out-of-range values with one line naming the parameter and the fix.
The build runner calls :func:`check_overrides` before starting a kernel, so unknown
names (which papermill would only warn about) are refused before any training.

Profiles: ``full`` (report quality, the default), ``quick`` (a draft in minutes),
``smoke`` (seconds per notebook, what the tests run).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

PROFILES = ("full", "quick", "smoke")
COMMON = ("profile", "device")  # parameters every notebook has


class ParameterError(ValueError):
    """A notebook parameter is unknown, ill-typed or out of range."""


@dataclass(frozen=True)
class Param:
    """One parameter: its kind, its value per profile and its allowed range.

    ``kind`` is one of ``int``, ``float``, ``str``, ``bool``, ``list[int]``,
    ``list[float]``.  ``quick`` and ``smoke`` default to the ``full`` value.
    """

    kind: str
    full: Any
    quick: Any = None
    smoke: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    help: str = ""
    distinct: bool = False  # a list of settings to sweep: each value once

    def value_for(self, profile: str) -> Any:
        chosen = {"full": self.full, "quick": self.quick, "smoke": self.smoke}[profile]
        return self.full if chosen is None else chosen


# A balanced labelled set takes as many images of every digit: MNIST's training split has
# 5,421 fives, its rarest digit, so at most 10 x 5,421 labels.
MAX_BALANCED_LABELS = 54210
QUICK_TEST_IMAGES = 2000  # the quick profile scores every model on this many test images
MAX_SEED = 2**32 - 1  # numpy's seed range (seed_everything seeds numpy too)
MAX_EPOCHS = 1000  # far above any setting here; stops a typo such as 10**9 from running for ever
MAX_STEPS = 1_000_000


def _test_images(help: str = "") -> Param:
    """The number of test images behind every score of a notebook (all 10,000 in full)."""
    return Param("int", 10000, quick=QUICK_TEST_IMAGES, smoke=1000, minimum=100, maximum=10000, help=help)


def _course_recipe(**overrides: Param) -> dict[str, Param]:
    """Settings of the idl_ex3 course auto-encoder, the judge and the latent GANs, shared
    by P1-P4 so the notebooks reuse the same cached models (same settings, same key).
    ``train_size`` and ``judge_epochs`` match nn4i_ex2/q2, so all of them share one judge."""
    recipe = {
        "seed": Param("int", 0, minimum=0, maximum=MAX_SEED, help="seed of the auto-encoder and of the GANs"),
        "latent_dim": Param("int", 64, minimum=1, maximum=512, help="code size (64 in the handout)"),
        "ae_epochs": Param(
            "int", 4, quick=1, smoke=1, minimum=1, maximum=MAX_EPOCHS, help="AE training epochs (15 in the handout)"
        ),
        "ae_batch_size": Param("int", 128, minimum=1, maximum=4096),
        "ae_learning_rate": Param("float", 2e-3, minimum=1e-6, maximum=1.0, help="Adam, cosine decay"),
        "noise_std": Param("float", 0.35, minimum=0.0, maximum=10.0, help="std of the Gaussian input noise"),
        "train_size": Param(
            "int", 60000, quick=10000, smoke=1024, minimum=64, maximum=60000, help="training images of the AE and the judge"
        ),
        "test_size": _test_images("test images used for every score"),
        "judge_epochs": Param(
            "int", 5, quick=1, smoke=1, minimum=1, maximum=MAX_EPOCHS, help="training epochs of the judge classifier"
        ),
    }
    recipe.update(overrides)
    return recipe


def _latent_gan_recipe(**overrides: Param) -> dict[str, Param]:
    """The unconditional latent GANs of idl_ex3 P2, reused by P3."""
    return _course_recipe(
        gan_hidden_units=Param("list[int]", [128, 128], minimum=1, maximum=4096, help="hidden layers of G and of D"),
        gan_epochs=Param("int", 8, quick=2, smoke=1, minimum=1, maximum=MAX_EPOCHS, help="passes over the training codes"),
        gan_batch_size=Param("int", 128, minimum=2, maximum=4096),
        gan_learning_rate=Param("float", 5e-4, minimum=1e-6, maximum=1.0, help="Adam, betas (0.5, 0.999), G and D"),
        **overrides,
    )


SPECS: dict[str, dict[str, Param]] = {
    "idl_ex3/00_theory": {},
    # --- idl_ex3 ---
    "idl_ex3/p1_transfer": _course_recipe(
        num_labels=Param("int", 50, minimum=10, maximum=MAX_BALANCED_LABELS, help="labelled training images (balanced)"),
        num_draws=Param("int", 10, quick=2, smoke=2, minimum=1, maximum=100, help="random draws of the labelled set"),
        hidden_units=Param("int", 128, minimum=1, maximum=4096, help="hidden layer of our MLP"),
        head_steps=Param(
            "int", 600, quick=200, smoke=10, minimum=1, maximum=MAX_STEPS, help="optimizer steps of every classifier on codes"
        ),
        head_learning_rate=Param("float", 1e-3, minimum=1e-6, maximum=1.0, help="AdamW, cosine decay"),
        linear_learning_rate=Param("float", 1e-2, minimum=1e-6, maximum=1.0, help="the minimal (one-layer) classifier"),
        augment_copies=Param("int", 20, quick=5, smoke=2, minimum=0, maximum=200, help="augmented copies per labelled image"),
        finetune_steps=Param(
            "int", 200, quick=50, smoke=5, minimum=1, maximum=MAX_STEPS, help="optimizer steps of encoder + MLP end to end"
        ),
        encoder_learning_rate=Param("float", 3e-4, minimum=0.0, maximum=1.0, help="encoder lr when trained end to end"),
        spreading_pool=Param(
            "int", 30000, quick=5000, smoke=1000, minimum=100, maximum=60000, help="unlabelled images in the spreading graph"
        ),
        num_neighbours=Param("int", 5, minimum=1, maximum=100, help="k of the k-nearest-neighbour graph"),
        spreading_iterations=Param("int", 40, smoke=10, minimum=1, maximum=1000),
    ),
    "idl_ex3/p2_latent_gan": _latent_gan_recipe(
        num_samples=Param("int", 10000, quick=2000, smoke=1000, minimum=100, maximum=100000, help="images per judged set"),
        sample_draws=Param("int", 3, quick=1, smoke=2, minimum=1, maximum=20, help="independent noise draws per generator"),
    ),
    "idl_ex3/p3_interpolation": _latent_gan_recipe(
        num_pairs=Param("int", 6, quick=4, smoke=4, minimum=4, maximum=20, help="digit pairs interpolated"),
        num_steps=Param("int", 11, minimum=3, maximum=41, help="points per path, endpoints included"),
        candidate_noises=Param(
            "int", 2000, quick=500, smoke=500, minimum=100, maximum=100000, help="noise vectors searched for GAN endpoints"
        ),
    ),
    "idl_ex3/p4_conditional_gan": _course_recipe(
        cgan_hidden_units=Param("list[int]", [128, 128], minimum=1, maximum=4096, help="hidden layers of G and of D"),
        cgan_epochs=Param("int", 8, quick=2, smoke=1, minimum=1, maximum=MAX_EPOCHS),
        cgan_batch_size=Param("int", 128, minimum=2, maximum=4096),
        cgan_learning_rate=Param("float", 5e-4, minimum=1e-6, maximum=1.0),
        aux_weight=Param("float", 1.0, minimum=0.0, maximum=100.0, help="weight of the auxiliary classification loss"),
        mismatch_weight=Param("float", 2.0, minimum=0.0, maximum=100.0, help="weight of the real-code/wrong-label loss of D"),
        samples_per_digit=Param("int", 1000, quick=200, smoke=50, minimum=10, maximum=100000, help="samples per digit (bar)"),
        chosen_digit=Param("int", 2, minimum=0, maximum=9, help="digit whose variability is shown"),
        num_variants=Param("int", 30, minimum=25, maximum=200, help="samples of the chosen digit shown"),
    ),
}


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind.startswith("list["):
        inner = kind[5:-1]
        return isinstance(value, (list, tuple)) and all(_kind_ok(inner, v) for v in value)
    raise ValueError(f"unknown parameter kind {kind!r}")


_EXAMPLES = {
    "int": "10",
    "float": "0.001",
    "str": '"text"',
    "bool": "True",
    "list[int]": "[2, 4, 8]",
    "list[float]": "[0.1, 0.5]",
}


def check_value(where: str, name: str, param: Param, value: Any) -> Any:
    """Return ``value`` (lists as lists, ints widened to float for float params) or raise."""
    if param.kind.startswith("list[") and isinstance(value, (list, tuple)) and not value:  # before the type check
        raise ParameterError(f"{where}: parameter '{name}' is an empty list; fix: give e.g. {name}={_EXAMPLES[param.kind]}")
    if not _kind_ok(param.kind, value):
        hint = ""
        if isinstance(value, str) and param.kind != "str":
            hint = " (it is a string: pass it unquoted, e.g. YAML reads 1e-3 as text; write 0.001)"
        raise ParameterError(
            f"{where}: parameter '{name}' must be {param.kind}, got {value!r} ({type(value).__name__}){hint}; "
            f"fix: give e.g. {name}={_EXAMPLES[param.kind]}"
        )
    items = list(value) if param.kind.startswith("list[") else [value]
    if param.kind in ("float", "list[float]") and not all(math.isfinite(item) for item in items):
        raise ParameterError(
            f"{where}: parameter '{name}' = {value!r} is not a finite number; fix: give e.g. {name}={_EXAMPLES[param.kind]}"
        )
    if param.distinct and len(set(items)) < len(items):
        raise ParameterError(f"{where}: parameter '{name}' = {value!r} repeats a value; fix: list each value once")
    for item in items:
        if param.minimum is not None and item < param.minimum:
            raise ParameterError(
                f"{where}: parameter '{name}' = {value!r} is below the minimum {param.minimum}; "
                f"fix: use a value >= {param.minimum}"
            )
        if param.maximum is not None and item > param.maximum:
            raise ParameterError(
                f"{where}: parameter '{name}' = {value!r} is above the maximum {param.maximum}; "
                f"fix: use a value <= {param.maximum}"
            )
    if param.choices and value not in param.choices:
        raise ParameterError(f"{where}: parameter '{name}' = {value!r} is not one of {list(param.choices)}")
    if param.kind == "float":
        return float(value)
    if param.kind.startswith("list["):
        return [float(v) if param.kind == "list[float]" else v for v in value]
    return value


def spec_for(notebook_id: str) -> dict[str, Param]:
    try:
        return SPECS[notebook_id]
    except KeyError:
        raise ParameterError(f"no parameter spec for notebook '{notebook_id}'; fix: add it to lib/params.py SPECS") from None


def check_common(where: str, profile: Any, device: Any) -> None:
    if profile not in PROFILES:
        raise ParameterError(
            f"{where}: parameter 'profile' = {profile!r} is not one of {list(PROFILES)}; fix: profile=\"quick\" for a draft"
        )
    if not isinstance(device, str) or not re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]+)?", device):
        raise ParameterError(
            f"{where}: parameter 'device' = {device!r} is not a device this bundle runs on; "
            'fix: device="auto" (GPU when present, else CPU), "cpu", "cuda", "cuda:1" or "mps"'
        )


def settings_for(notebook_id: str):
    """The pydantic settings class of a notebook whose assignment module declares one
    (an assignment moved onto the new core), else None."""
    assignment, _, name = notebook_id.partition("/")
    if assignment == "nn4i_ex2":
        from lib import nn4i_ex2

        return nn4i_ex2.SETTINGS.get(name)
    if assignment == "cpsc663_ex2":
        from lib import cpsc663_ex2

        return cpsc663_ex2.SETTINGS.get(name)
    return None


def check_overrides(notebook_id: str, overrides: dict[str, Any]) -> None:
    """Reject unknown names and wrong values before a notebook is started."""
    settings = settings_for(notebook_id)
    if settings is not None:
        settings.check(notebook_id, overrides)
        return
    spec = spec_for(notebook_id)
    for name, value in overrides.items():
        if name in COMMON:
            continue
        if name not in spec:
            known = ", ".join(sorted([*COMMON, *spec])) or "profile, device"
            raise ParameterError(f"{notebook_id}: unknown parameter '{name}'; fix: use one of {known}")
        if value is not None:
            check_value(notebook_id, name, spec[name], value)
    check_common(notebook_id, overrides.get("profile", "full"), overrides.get("device", "auto"))


class Resolved(SimpleNamespace):
    """Resolved parameters: attribute access (``cfg.latent_dim``) plus ``as_dict()``."""

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def __repr__(self) -> str:
        return "\n".join(f"{k} = {v!r}" for k, v in vars(self).items())


def resolve(notebook_id: str, namespace: dict[str, Any]) -> Resolved:
    """Read the spec's names from ``namespace`` (the notebook's globals), fill ``None``
    from the profile, validate everything, and return the resolved values."""
    spec = spec_for(notebook_id)
    profile = namespace.get("profile", "full")
    device = namespace.get("device", "auto")
    check_common(notebook_id, profile, device)
    values: dict[str, Any] = {"profile": profile, "device": device}
    for name, param in spec.items():
        if name not in namespace:
            raise ParameterError(f"{notebook_id}: the parameters cell does not define '{name}'; fix: add `{name} = None` to it")
        raw = namespace[name]
        value = param.value_for(profile) if raw is None else raw
        values[name] = check_value(notebook_id, name, param, value)
    return Resolved(**values)


def profile_defaults(notebook_id: str, profile: str) -> Resolved:
    """The values a notebook runs with under ``profile`` when nothing is overridden
    (lets one notebook reload the cached models of another, e.g. for a summary table)."""
    check_common(notebook_id, profile, "auto")
    values = {name: param.value_for(profile) for name, param in spec_for(notebook_id).items()}
    return Resolved(profile=profile, device="auto", **values)
