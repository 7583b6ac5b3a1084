"""Options are range-checked before any work (issue 30): each numeric option has a declared range - its own
``Annotated[..., Range(...)]`` or the kit-wide rule for its name - and every learner's and method's defaults lie
inside it."""

import dataclasses
import inspect
from typing import Annotated

import pytest

from stitchkit import options as opts
from stitchkit.plugins import LEARNERS, STITCHING_METHODS, load


def test_ranges_by_name_and_by_declaration():
    assert opts.range_of("lr", float) == opts.POSITIVE and opts.range_of("policy_lr", float) == opts.POSITIVE
    assert opts.range_of("actor_p_swap", float) == opts.PROBABILITY and opts.range_of("tau", float) == opts.FRACTION
    assert opts.range_of("max_steps", int) == opts.COUNT and opts.range_of("idm_steps", int) == opts.NON_NEGATIVE
    assert opts.range_of("lr", str) is None  # a non-numeric option has no range
    own = Annotated[float, opts.Range(ge=-1, le=1)]
    assert opts.range_of("lr", own) == opts.Range(ge=-1, le=1)  # a declaration next to the type wins
    fields = {"lr": float, "similarity": own, "expectile": float, "hops_min": int}
    assert opts.check("x", fields, {"lr": "3e-4", "similarity": "-0.5"}) == {"lr": 3e-4, "similarity": -0.5}
    for key, value, accepted in [
        ("lr", "-1", "> 0"),
        ("lr", "0", "> 0"),
        ("similarity", "2", ">= -1 and <= 1"),
        ("expectile", "1", "> 0 and < 1"),
        ("hops_min", "0", ">= 1"),
    ]:
        with pytest.raises(opts.OptionError, match=f"x option {key}=.* is out of range: it must be {accepted}"):
            opts.check("x", fields, {key: value})


def test_every_learner_and_method_default_lies_in_its_range():
    owners = [(n, load(LEARNERS, n, "learner")) for n in LEARNERS]
    owners += [(n, load(STITCHING_METHODS, n, "method")) for n in STITCHING_METHODS]
    checked = 0
    for name, owner in owners:
        fields = owner.fields()
        defaults = {}
        if hasattr(owner, "config"):
            defaults = {f.name: f.default for f in dataclasses.fields(owner.config) if f.name in fields}
        else:  # a learner: its build's (or the model's) keyword defaults
            target = owner.build.__init__ if inspect.isclass(owner.build) else owner.build
            defaults = {
                k: p.default
                for k, p in inspect.signature(target).parameters.items()
                if k in fields and p.default is not inspect.Parameter.empty and p.default is not None
            }
        for table in getattr(owner, "defaults", {}).values():
            defaults |= {k: v for k, v in table.items() if k in fields}
        defaults = {k: v for k, v in defaults.items() if not isinstance(v, dataclasses._MISSING_TYPE)}
        opts.check(name, fields, defaults)  # raises on a default out of its own range
        checked += sum(opts.range_of(k, fields[k]) is not None for k in defaults)
    assert checked > 50


def test_one_resolver_orders_profile_then_dataset_then_user():
    """Method.resolve settles every open (None) option: the profile's value, overridden by the dataset's (the most
    specific entry), overridden by what the user set. ASTRO's bridge window comes from the profile, its threshold
    from DiffStitch's per-dataset table."""
    from dataclasses import dataclass

    from stitchkit.augment import astro
    from stitchkit.augment.method import Method
    from stitchkit.profiles import get_profile

    @dataclass
    class Config:
        a: float | None = None
        b: float | None = None
        c: float | None = None
        seed: int = 0

    m = Method(
        "toy",
        Config,
        lambda job: ([], {}),
        saves="-",
        empty_hint="-",
        defaults={"*": {"b": 2.0, "c": 2.0}, "hopper/medium-replay": {"c": 2.5}},
        profile_defaults=lambda p: {"a": 1.0, "b": 1.0, "c": 1.0},
    )
    smoke = get_profile("smoke")
    hopper, maze = "stitchkit/hopper/medium-replay-v0", "stitchkit/pointmaze-medium/stitch-v0"
    assert m.resolve(Config(), maze, smoke) == Config(1.0, 2.0, 2.0)
    assert m.resolve(Config(), hopper, smoke) == Config(1.0, 2.0, 2.5)
    assert m.resolve(Config(c=3.0), hopper, smoke) == Config(1.0, 2.0, 3.0)
    cfg = astro.METHOD.resolve(astro.AstroConfig(d_max=5.0), maze, smoke)
    assert (cfg.d_min, cfg.d_max, cfg.end_delta, cfg.iterations) == (4.0, 5.0, 0.025, 4)
    assert astro.METHOD.resolve(astro.AstroConfig(), hopper, get_profile("lab")).end_delta == 0.8
