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
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal


class OptionError(ValueError):
    """An unknown option, or a value that does not fit the option's type; the message names what is accepted."""


@dataclasses.dataclass(frozen=True)
class Range:
    """The values a numeric option accepts: bounds, each open (``gt``/``lt``) or closed (``ge``/``le``)."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def holds(self, v: float) -> bool:
        return (
            (self.gt is None or v > self.gt)
            and (self.ge is None or v >= self.ge)
            and (self.lt is None or v < self.lt)
            and (self.le is None or v <= self.le)
        )

    def text(self) -> str:
        lo = f"> {self.gt:g}" if self.gt is not None else f">= {self.ge:g}" if self.ge is not None else ""
        hi = f"< {self.lt:g}" if self.lt is not None else f"<= {self.le:g}" if self.le is not None else ""
        return " and ".join(t for t in (lo, hi) if t)


POSITIVE, NON_NEGATIVE, COUNT = Range(gt=0), Range(ge=0), Range(ge=1)
# A model's layer, head and member counts: beyond this a model takes minutes to build before its size can be checked
# (``stitchkit.train.check_fits`` refuses what would not fit memory; this bounds what it must build to know)
STRUCTURE = Range(ge=1, le=1024)
PROBABILITY, FRACTION = Range(ge=0, le=1), Range(gt=0, le=1)
# The kit's option names keep one meaning everywhere (a learning rate is ``lr`` or ``*_lr`` in every learner), so
# their ranges are declared once, here, by name; a field whose name says nothing declares its own next to its type
# with ``Annotated[float, Range(...)]``, which wins. First match wins.
RANGES: tuple[tuple[str, Range], ...] = (
    (r"(.+_)?lr", POSITIVE),
    (r"tau", FRACTION),
    (r"discount|gamma", PROBABILITY),
    (r"expectile", Range(gt=0, lt=1)),
    (r"(.+_)?p_.+|real_ratio|dropout|top_fraction", PROBABILITY),
    (r"(.+_)?top", FRACTION),
    (
        r"ratio|near|swap_size|pessimism|max_action|rtg_scale|temperature|ddim_eta|idle_radius|sigma_.+|rho"
        r"|d_min|d_max",
        POSITIVE,
    ),
    (r"layers|heads|members|elites|n_actions", STRUCTURE),
    (
        r"max_steps|policy_freq|seq_len|episode_len|d|warmup|hops_min|hops_max|horizon"
        r"|samples|transitions|(.+_)?hidden|members|elites|candidates|fixed_steps|bridge_steps|sample_steps"
        r"|(.+_)?batch",
        COUNT,
    ),
    (r"(.+_)?steps", NON_NEGATIVE),
    (
        r"alpha|beta|eta|cql_alpha|latent_match|weight_decay|clip|noise_clip|policy_noise|delta|end_delta"
        r"|coverage_weight|uncertainty_.+|end_weight|return_guidance|dynamics_guidance|min_progress"
        r"|iterations|(.+_)?weight|penalty|s_churn|s_tmin|s_tmax|s_noise",
        NON_NEGATIVE,
    ),
)


def range_of(name: str, tp: Any) -> Range | None:
    """The range option ``name`` of type ``tp`` accepts: its own ``Annotated`` declaration, else the kit-wide rule
    for its name (:data:`RANGES`), else none (non-numeric options have none)."""
    for meta in getattr(tp, "__metadata__", ()):
        if isinstance(meta, Range):
            return meta
    base = _base(tp)
    if typing.get_origin(base) is tuple:  # a list option: the range holds for each element (``hidden`` widths)
        base = _base(typing.get_args(base)[0]) if typing.get_args(base) else None
    if base not in (int, float):
        return None
    return next((r for pattern, r in RANGES if re.fullmatch(pattern, name)), None)


def _base(tp: Any) -> Any:
    """``tp`` without ``Annotated`` and ``Optional``: the type a value converts to."""
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if _is_optional(tp):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def schema(owner: Any, skip: Iterable[str] = ()) -> dict[str, Any]:
    """``{option name: type}`` of a config dataclass (its fields) or a callable (its keyword parameters)."""
    skip = set(skip)
    if dataclasses.is_dataclass(owner):
        hints = typing.get_type_hints(owner, include_extras=True)
        return {f.name: hints[f.name] for f in dataclasses.fields(owner) if f.name not in skip}
    target = owner.__init__ if inspect.isclass(owner) else owner
    hints = typing.get_type_hints(target, include_extras=True)
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
    if typing.get_origin(tp) is typing.Annotated:
        return describe(typing.get_args(tp)[0])
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
    if typing.get_origin(tp) is typing.Annotated:
        return convert(value, typing.get_args(tp)[0])
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
            example = _EXAMPLES.get(_base(tp), "")
            raise OptionError(
                f"{owner_name} option {key}={value!r} is not a valid {describe(tp)}"
                + (f" (e.g. {key}={example})" if example else "")
            ) from None
        bounds = range_of(key, tp)
        if bounds is None:
            continue
        if isinstance(out[key], tuple):
            if not out[key]:
                raise OptionError(f"{owner_name} option {key} is empty: give one or more values, each {bounds.text()}")
            bad = [v for v in out[key] if not bounds.holds(v)]
            if bad:
                raise OptionError(
                    f"{owner_name} option {key}={value!r} is out of range: each value must be {bounds.text()}"
                )
        elif isinstance(out[key], (int, float)) and not bounds.holds(out[key]):
            raise OptionError(f"{owner_name} option {key}={out[key]!r} is out of range: it must be {bounds.text()}")
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


def defaults_of(owner: Any) -> dict[str, Any]:
    """The declared defaults of a config dataclass's fields or a callable's keyword parameters (what a user gets
    without ``--option``, before per-profile sizes and per-dataset defaults)."""
    if dataclasses.is_dataclass(owner):
        return {f.name: f.default for f in dataclasses.fields(owner) if f.default is not dataclasses.MISSING}
    target = getattr(owner, "func", owner)  # a functools.partial
    target = target.__init__ if inspect.isclass(target) else target
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return {}
    return {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}


def field_notes(owner: Any) -> dict[str, str]:
    """A config dataclass's one-line comments, field by field (``name: type = default  # what it is``)."""
    if not dataclasses.is_dataclass(owner):
        return {}
    try:
        source = inspect.getsource(owner)
    except (OSError, TypeError):
        return {}
    out = {}
    for line in source.splitlines():
        m = re.match(r"\s+(\w+):[^#]*#\s*(.+)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def help_table(
    owner_name: str,
    fields: Mapping[str, Any],
    defaults: Mapping[str, Any],
    notes: Mapping[str, str] | None = None,
    sized: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """What ``--option`` accepts for one learner or method, as ``--help`` prints it: each option's type, range,
    default (and the value each profile sizes it to, where a profile does) and its one line of meaning."""
    notes, sized = notes or {}, sized or {}
    lines = [f"{owner_name} options (--option KEY=VALUE):"]
    for key, tp in fields.items():
        bounds = range_of(key, tp)
        text = f"  {key:<22} {describe(tp)}"
        if bounds is not None:
            text += f", {'each ' if typing.get_origin(_base(tp)) is tuple else ''}{bounds.text()}"
        if key in defaults:
            text += f"; default {defaults[key]!r}"
        by_profile = {p: v[key] for p, v in sized.items() if key in v}
        if by_profile:
            text += " (" + ", ".join(f"{p}: {v!r}" for p, v in by_profile.items()) + ")"
        if key in notes:
            text += f" - {notes[key]}"
        lines.append(text)
    return "\n".join(lines)


def resolve(
    owner_name: str, fields: Mapping[str, Any], defaults: Mapping[str, Any], options: Mapping[str, Any]
) -> dict[str, Any]:
    """The defaults table's values overridden by the user's ``options``, all checked."""
    return {**check(owner_name, fields, defaults), **check(owner_name, fields, options)}


__all__ = [
    "COUNT",
    "FRACTION",
    "NON_NEGATIVE",
    "POSITIVE",
    "PROBABILITY",
    "RANGES",
    "OptionError",
    "Range",
    "check",
    "convert",
    "defaults_of",
    "describe",
    "field_notes",
    "help_table",
    "parse_items",
    "per_dataset",
    "positive",
    "range_of",
    "resolve",
    "schema",
]
