"""A notebook's parameters as a pydantic model: types and ranges declared once, values per
profile beside them, and a one-line error naming the parameter and the fix.

An assignment module declares one :class:`NotebookSettings` subclass per notebook; the
notebook's ``parameters`` cell lists exactly its fields (``None`` = the profile's value)
and calls :meth:`NotebookSettings.resolve`.  The build calls :meth:`check` before any
kernel starts, since papermill passes values through unvalidated.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from lib.params import ParameterError

PROFILES = ("full", "quick", "smoke")
MAX_EPOCHS = 1000  # far above any setting here; stops a typo such as 10**9 from running for ever
MAX_SEED = 2**32 - 1  # numpy's seed range
# A balanced labelled set takes as many images of every digit: MNIST's training split has
# 5,421 fives, its rarest digit, so at most 10 x 5,421 labels.
MAX_BALANCED_LABELS = 54210


def _distinct(values: list) -> list:
    if len(set(values)) < len(values):
        raise ValueError("repeats a value")
    return values


def sweep(item_minimum: int, item_maximum: int) -> Any:
    """Type of a list of settings to sweep: non-empty, each value once, each in range."""
    return Annotated[
        list[Annotated[int, Field(ge=item_minimum, le=item_maximum)]], Field(min_length=1), AfterValidator(_distinct)
    ]


def _check_device(device: str) -> str:
    if not re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]+)?", device):
        raise ValueError('is not a device this bundle runs on; fix: device="auto" (GPU when present, else CPU), "cpu" or "cuda"')
    return device


class NotebookSettings(BaseModel):
    """Base of every notebook's settings: ``profile``, ``device`` and strict validation
    (no string for a number, no bool for a count, finite floats, no unknown names)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    profile: Literal["full", "quick", "smoke"] = "full"
    device: Annotated[str, AfterValidator(_check_device)] = "auto"

    # Per-profile values that differ from the field defaults (the defaults are ``full``'s).
    PROFILE_VALUES: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def parameter_names(cls) -> list[str]:
        return [name for name in cls.model_fields if name not in ("profile", "device")]

    @classmethod
    def check(cls, where: str, values: dict[str, Any]) -> NotebookSettings:
        """Validate ``values`` (``None`` = the profile's value); raise :class:`ParameterError`."""
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            raise ParameterError(f"{where}: unknown parameter '{unknown[0]}'; fix: use one of {', '.join(cls.model_fields)}")
        profile = values.get("profile") or "full"
        if profile not in PROFILES:
            raise ParameterError(
                f"{where}: parameter 'profile' = {profile!r} is not one of {list(PROFILES)}; fix: profile=\"quick\""
            )
        given = {name: value for name, value in values.items() if value is not None}
        try:
            return cls(**{**cls.PROFILE_VALUES.get(profile, {}), **given})
        except ValidationError as err:
            raise ParameterError(_one_line(where, cls, err)) from None

    @classmethod
    def resolve(cls, where: str, namespace: dict[str, Any]) -> NotebookSettings:
        """The settings a notebook's ``parameters`` cell (its globals) describes."""
        missing = [name for name in cls.parameter_names() if name not in namespace]
        if missing:
            raise ParameterError(
                f"{where}: the parameters cell does not define '{missing[0]}'; fix: add `{missing[0]} = None` to it"
            )
        return cls.check(where, {name: namespace.get(name) for name in cls.model_fields})


def _one_line(where: str, cls: type[NotebookSettings], err: ValidationError) -> str:
    first = err.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "?"
    value = first.get("input")
    message = first["msg"].removeprefix("Value error, ")
    example = cls.model_fields[name].default if name in cls.model_fields else None
    if "; fix:" in message:
        return f"{where}: parameter '{name}' = {value!r} {message}"
    hint = " (it is a string: pass the value unquoted)" if isinstance(value, str) and name != "device" else ""
    return f"{where}: parameter '{name}' = {value!r}: {message}{hint}; fix: give e.g. {name}={example!r}"
