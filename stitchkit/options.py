"""Typed options, checked before any work: ``--option KEY=VALUE`` strings and Python keyword values alike are
checked against the field types of a method's config dataclass or the keyword arguments of a learner.

Why before any work: a typo in an option used to surface after ten minutes of model training, or never (a value
silently kept as text). Now ``delta=abc`` fails at once with the field, its type and an example. Per-dataset
defaults (CORL-style tables keyed by environment and dataset kind) are merged here too, so the CLI, the grids and
the notebooks all get the same settings without passing them.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal


class OptionError(ValueError):
    """An unknown option, or a value that does not fit the option's type; the message names what is accepted."""


def schema(owner: Any, skip: Iterable[str] = ()) -> dict[str, Any]:
    """``{option name: type}`` of a config dataclass (its fields) or a callable (its keyword parameters)."""
    skip = set(skip)
    if dataclasses.is_dataclass(owner):
        hints = typing.get_type_hints(owner)
        return {f.name: hints[f.name] for f in dataclasses.fields(owner) if f.name not in skip}
    target = owner.__init__ if inspect.isclass(owner) else owner
    hints = typing.get_type_hints(target)
    return {
        name: hints.get(name, Any)
        for name, p in inspect.signature(target).parameters.items()
        if name not in skip and name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def parse_items(items: Iterable[str]) -> dict[str, str]:
    """Repeated ``KEY=VALUE`` strings -> ``{key: raw text}`` (dashes in keys read as underscores)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"--option takes KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def describe(tp: Any) -> str:
    """A type as a user reads it: 'float', 'int or none', 'one of full, strided'."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(map(str, args))
    if _is_optional(tp):
        return describe(next(a for a in args if a is not type(None))) + " or none"
    if typing.get_origin(tp) is tuple:
        return "comma-separated " + describe(args[0]) + "s"
    return getattr(tp, "__name__", str(tp))


def _is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def convert(value: Any, tp: Any) -> Any:
    """``value`` (text from the command line, or a Python value) as type ``tp``; ValueError if it does not fit."""
    if tp is Any:
        return value
    if _is_optional(tp):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return convert(value, next(a for a in typing.get_args(tp) if a is not type(None)))
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        for choice in args:
            if value == choice or (isinstance(value, str) and str(choice) == value):
                return choice
        raise ValueError
    if origin is tuple:
        parts = value.split(",") if isinstance(value, str) else list(value)
        inner = args[0] if args else Any
        return tuple(convert(p.strip() if isinstance(p, str) else p, inner) for p in parts if p != "")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ValueError
    if tp is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return int(value)
    if tp is float:
        if isinstance(value, bool):
            raise ValueError
        out = float(value)
        if out != out:  # NaN
            raise ValueError
        return out
    if tp is str:
        if not isinstance(value, str):
            raise ValueError
        return value
    return value


_EXAMPLES = {bool: "true", int: "3", float: "1.5", str: "text"}


def check(owner_name: str, fields: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` converted to their fields' types; an :class:`OptionError` naming the first bad one."""
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise OptionError(f"unknown {owner_name} option {unknown[0]!r}; accepted: {', '.join(sorted(fields))}")
    out = {}
    for key, value in options.items():
        tp = fields[key]
        try:
            out[key] = convert(value, tp)
        except (ValueError, TypeError):
            base = next((a for a in typing.get_args(tp) if a is not type(None)), tp) if _is_optional(tp) else tp
            example = _EXAMPLES.get(base, "")
            raise OptionError(
                f"{owner_name} option {key}={value!r} is not a valid {describe(tp)}"
                + (f" (e.g. {key}={example})" if example else "")
            ) from None
    return out


def per_dataset(table: Mapping[str, Mapping[str, Any]], keys: Iterable[str]) -> dict[str, Any]:
    """Merge a per-dataset defaults table along ``keys``, most general first (``registry.dataset_keys``), so the
    most specific entry wins: ``{"maze": {...}, "hopper/medium-replay": {...}}``."""
    out: dict[str, Any] = {}
    for key in keys:
        out.update(table.get(key, {}))
    return out


def positive(name: str, value: float, allow_zero: bool = False) -> float:
    """A numeric setting that must be > 0 (or >= 0); the error names the setting and the value."""
    if value != value or value < 0 or (value == 0 and not allow_zero):
        raise OptionError(f"{name} must be {'>= 0' if allow_zero else 'positive'}, got {value}")
    return value


def resolve(
    owner_name: str, fields: Mapping[str, Any], defaults: Mapping[str, Any], options: Mapping[str, Any]
) -> dict[str, Any]:
    """The defaults table's values overridden by the user's ``options``, all checked."""
    return {**check(owner_name, fields, defaults), **check(owner_name, fields, options)}


__all__ = [
    "OptionError",
    "check",
    "convert",
    "describe",
    "parse_items",
    "per_dataset",
    "positive",
    "resolve",
    "schema",
]
