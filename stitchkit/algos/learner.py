"""How a learner declares itself: one :class:`Learner` at the bottom of its module, listed in
:data:`stitchkit.plugins.LEARNERS`. ``stitchkit train``, the benchmark and the notebooks all read it, so the
step budget, batch size and per-dataset settings of a learner are written once.

A learner's options are its model's keyword arguments (their type hints are the option types, checked by
:mod:`stitchkit.options` before any work). Per-dataset defaults are data, keyed like CORL's per-dataset configs
by the dataset's kind, environment and name (:func:`stitchkit.data.registry.dataset_keys`), most specific last.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from stitchkit import options as opts
from stitchkit.profiles import Profile, SizeTable

#: constructor arguments that are not options: the data's sizes, the seeds, wiring between learners
NOT_OPTIONS = ("obs_dim", "act_dim", "seeds", "inner", "inner_kwargs", "max_steps")


def train_widths(profile: Profile) -> dict[str, Any]:
    """BC, TD3+BC, IQL, POR and TELS's MLP widths, sized by the profile (``profile.train.hidden``, CORL's 256x256
    unless a profile says otherwise): a laptop's cost lever, since the update's cost grows with the width squared."""
    return {"hidden": profile.train.hidden}


@dataclass(frozen=True)
class Learner:
    name: str
    build: Callable[..., torch.nn.Module]  # (obs_dim, act_dim, seeds, **options) -> the seed-batched model
    summary: str  # one line for ``stitchkit train --help``
    steps: str = "steps"  # the field holding its gradient steps: of the profile's ``section``, or "<own>.<field>"
    batch: str = "batch_size"  # ... and its batch size (``cql.steps``: the field of its own ``sizes`` table ``cql``)
    sequence: bool = False  # trains on windows of whole trajectories (Decision Transformer), not transitions
    profile_options: Callable[[Profile], dict[str, Any]] | None = None  # options the profile sizes (TS-IDM)
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # dataset key -> options
    option_types: Mapping[str, Any] | None = None  # the options, when ``build`` passes some on (**kwargs)
    section: str = "train"  # the profile section holding its sizes (``goals`` for goal-conditioned learners)
    sizes: tuple[SizeTable, ...] = ()  # sizes of its own per profile (TELS's TS-IDM), declared in its module
    goal_conditioned: bool = False  # trains on (s, a, s', goal) batches, evaluated on reaching goals

    def fields(self) -> dict[str, Any]:
        """``{option: type}``: what ``--option`` accepts."""
        return dict(self.option_types) if self.option_types is not None else opts.schema(self.build, NOT_OPTIONS)

    def check(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The user's options, typed; an OptionError before any work for an unknown key or a bad value."""
        return opts.check(self.name, self.fields(), options)

    def user_options(self, profile: Profile, options: Mapping[str, Any]) -> dict[str, Any]:
        """What identifies a run beyond the dataset: the profile-sized options and the user's (checked)."""
        sized = self.profile_options(profile) if self.profile_options else {}
        return {**opts.check(self.name, self.fields(), sized), **self.check(options)}

    def dataset_defaults(self, dataset_id: str) -> dict[str, Any]:
        """The per-dataset defaults table read for ``dataset_id`` (most specific entry winning), typed."""
        from stitchkit.data.registry import dataset_keys

        return opts.check(self.name, self.fields(), opts.per_dataset(self.defaults, dataset_keys(dataset_id)))

    def resolved(self, dataset_id: str, profile: Profile, options: Mapping[str, Any]) -> dict[str, Any]:
        """Every option the model is built with: per-dataset defaults, then the profile's, then the user's."""
        return {**self.dataset_defaults(dataset_id), **self.user_options(profile, options)}

    def __post_init__(self) -> None:
        own = {t.section for t in self.sizes}
        for name in (self.steps, self.batch):
            if "." in name and name.split(".")[0] not in own:
                raise ValueError(f"learner {self.name}: {name!r} names no size table it declares ({sorted(own)})")

    def size(self, profile: Profile, name: str) -> int:
        """A budget field at ``profile``: ``"steps"`` from the profile's ``section``, ``"cql.steps"`` from the
        learner's own size table ``cql`` (a campaign's ``[sizes.cql]`` replaces it there)."""
        if "." in name:
            section, field_name = name.split(".", 1)
            table = next(t for t in self.sizes if t.section == section)
            return getattr(table.of(profile), field_name)
        return getattr(getattr(profile, self.section), name)

    def budget(self, profile: Profile, options: Mapping[str, Any]) -> tuple[int, int]:
        """(gradient steps, batch size) at ``profile``; a pre-training stage (``idm_steps``) comes on top."""
        steps = self.size(profile, self.steps) + int(options.get("idm_steps") or 0)
        return steps, self.size(profile, self.batch)

    def make(
        self, obs_dim: int, act_dim: int, seeds: list[int], steps: int, options: Mapping[str, Any]
    ) -> torch.nn.Module:
        """The model; learners with a schedule over the run (``max_steps``) get the run's length."""
        kwargs = dict(options)
        if "max_steps" in inspect.signature(self.build).parameters:
            kwargs.setdefault("max_steps", steps)
        return self.build(obs_dim, act_dim, seeds, **kwargs)
