"""Three profiles, one code path: ``smoke`` (CI), ``lab`` (a 2-core laptop, the default), ``full`` (one GPU).

A profile changes sizes and step counts only, never what the code does: every notebook and command reads
its sizes from here, so the smoke run in CI goes through exactly the lines a full GPU run does. The profile
comes from the argument, else ``STITCHKIT_PROFILE``, else ``lab``. The sections here are the ones every part
shares (the tour, the data, the learners' training, the goal-conditioned learners); a method or learner with
sizes of its own declares them in its module as a :class:`SizeTable` (``diffstitch.SIZES``, ``ser.SIZES``, ...).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

PROFILE_ENV = "STITCHKIT_PROFILE"
DEFAULT_PROFILE = "lab"


class ProfileError(ValueError):
    """An unknown profile name."""


@dataclass(frozen=True)
class TourSizes:
    """The toy stitching world of notebook 00."""

    n_fragments: int  # trajectory fragments scattered in the plane
    fragment_len: int  # steps per fragment
    n_worlds: int  # random worlds in the "how often does stitching help" measurement


@dataclass(frozen=True)
class DataSizes:
    """The offline datasets of notebook 01 and ``stitchkit data build``."""

    maze_episodes: int  # 200-step stitch episodes (OGBench: 5,000)
    locomotion_steps: int  # transitions per locomotion dataset (D4RL: 1M)
    ref_episodes: int  # episodes behind each reference score (Minari: 100)


@dataclass(frozen=True)
class TrainSizes:
    """The offline RL learners (notebook 04, ``stitchkit train``)."""

    seeds: int  # seeds per run, trained together (CORL: 4)
    steps: int  # gradient steps (CORL: 1M)
    eval_every: int  # steps between evaluations (CORL: 5,000)
    eval_episodes: int  # episodes per evaluation and seed (CORL: 10)
    batch_size: int  # (CORL: 256)
    hidden: tuple[int, ...] = (256, 256)  # MLP widths of BC, TD3+BC, IQL, POR, TELS (CORL); cost grows ~width²


@dataclass(frozen=True)
class GoalSizes:
    """Goal-conditioned learners on the maze (``stitchkit train gcbc|gcivl``). OGBench's values in comments; the
    `lab` sizes were picked by measurement (2x128, 10k steps: the original-data arm still fails the long tasks
    while chained data lifts it; with more steps or width the gap closes, see notebook 02's sweep)."""

    steps: int  # gradient steps (OGBench: 1M)
    batch_size: int  # (1024)
    hidden: tuple[int, ...]  # MLP widths of actor and value (3 x 512)
    eval_every: int  # steps between evaluations
    eval_episodes: int  # episodes per evaluation task and seed (50)
    horizon: int  # steps per evaluation episode (1000)


@dataclass(frozen=True)
class Profile:
    """The shared sizes of one profile. A method's or learner's own sizes are not here: they live in its module as a
    :class:`SizeTable` (``SIZES.of(profile)``), so adding a method touches no shared file. ``overrides`` holds
    replacements of such sections (a campaign's generator sizes, :func:`with_sizes`), as
    ``((section, ((field, value), ...)), ...)``."""

    name: str
    description: str
    tour: TourSizes
    data: DataSizes
    train: TrainSizes
    goals: GoalSizes
    overrides: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "overrides"}

    def overrides_for(self, section: str) -> dict[str, Any]:
        return dict(next((fields for name, fields in self.overrides if name == section), ()))


SHARED_SECTIONS: tuple[str, ...] = ("tour", "data", "train", "goals")
T = TypeVar("T")


@dataclass(frozen=True)
class SizeTable(Generic[T]):
    """A method's or learner's own sizes, one frozen dataclass per profile, declared in its module and named by
    ``section`` (what ``[sizes.<section>]`` in a campaign file replaces). ``of(profile)`` is what its code reads."""

    section: str
    smoke: T
    lab: T
    full: T

    def __post_init__(self) -> None:
        if self.section in SHARED_SECTIONS:
            raise ProfileError(f"size section {self.section!r} is the profile's own; pick another name")
        kinds = {type(getattr(self, n)) for n in PROFILE_NAMES}
        if len(kinds) != 1 or not dataclasses.is_dataclass(next(iter(kinds))):
            raise ProfileError(f"size section {self.section!r}: smoke, lab and full must be one dataclass")

    @property
    def kind(self) -> type:
        return type(self.lab)

    def of(self, profile: Profile) -> T:
        """The sizes at ``profile``, with the profile's overrides of this section applied."""
        return _replace_checked(self.section, getattr(self, profile.name), profile.overrides_for(self.section))


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="CI: seconds per step; proves every line runs, results mean nothing",
        tour=TourSizes(n_fragments=60, fragment_len=20, n_worlds=5),
        data=DataSizes(maze_episodes=25, locomotion_steps=2_000, ref_episodes=2),
        train=TrainSizes(
            seeds=2,
            steps=200,
            eval_every=100,
            eval_episodes=2,
            batch_size=64,
            hidden=(32, 32),
        ),
        goals=GoalSizes(steps=200, batch_size=64, hidden=(32, 32), eval_every=100, eval_episodes=1, horizon=200),
    ),
    "lab": Profile(
        name="lab",
        description="default: a 2-core laptop CPU, minutes per notebook, results that already show the effect",
        tour=TourSizes(n_fragments=60, fragment_len=20, n_worlds=100),
        data=DataSizes(maze_episodes=500, locomotion_steps=100_000, ref_episodes=100),
        train=TrainSizes(
            seeds=3,
            # 10k, then 7.5k, before the 90-minute `make report` budget (learners are 3/4 of its CPU). Measured on the
            # lab hopper-mr (fresh clone, 3 seeds): TD3+BC and IQL stand level from 2.5k to 7.5k (11-13 normalised),
            # 10%-BC rises from 74 at 5k to 103 at 7.5k; the locomotion comparisons live in the campaigns' records
            steps=5_000,
            eval_every=1_250,
            eval_episodes=5,
            batch_size=256,
            # measured on hopper medium-replay (benchmarks/lab_sizes.py, 3 seeds, 10k steps): TD3+BC 21.7 at 128 vs
            # 17.3 at 256, IQL 11.2 vs 18.9 (CIs overlap), a third of the update's cost (notebooks 01 and 04)
            hidden=(128, 128),
        ),
        goals=GoalSizes(
            steps=10_000, batch_size=256, hidden=(128, 128), eval_every=5_000, eval_episodes=5, horizon=1000
        ),
    ),
    "full": Profile(
        name="full",
        description="one GPU: the papers' settings",
        tour=TourSizes(n_fragments=60, fragment_len=20, n_worlds=1000),
        data=DataSizes(maze_episodes=5_000, locomotion_steps=1_000_000, ref_episodes=100),
        train=TrainSizes(
            seeds=4,
            steps=1_000_000,
            eval_every=5_000,
            eval_episodes=10,
            batch_size=256,
        ),
        goals=GoalSizes(
            steps=1_000_000, batch_size=1024, hidden=(512, 512, 512), eval_every=100_000, eval_episodes=50, horizon=1000
        ),
    ),
}
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)


def get_profile(name: str | Profile | None = None) -> Profile:
    """Return the named profile, or the one ``STITCHKIT_PROFILE`` names, or ``lab``."""
    if isinstance(name, Profile):
        return name
    source = "profile"
    if name is None:
        name, source = os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE, PROFILE_ENV
    key = name.strip().lower()
    if key not in PROFILES:
        raise ProfileError(f"unknown {source} {name!r}; valid profiles: {', '.join(PROFILE_NAMES)}")
    return PROFILES[key]


def _replace_checked(section: str, current: Any, values: Mapping[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(current)}
    unknown = set(values) - names
    if unknown:
        raise ProfileError(f"unknown {section} size(s) {sorted(unknown)}; accepted: {', '.join(sorted(names))}")
    return dataclasses.replace(current, **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def with_sizes(profile: Profile, sizes: Mapping[str, Mapping[str, Any]], tables: Iterable[SizeTable] = ()) -> Profile:
    """``profile`` with some sizes replaced, ``{section: {field: value}}`` (a campaign's generator sizes over its
    base profile's): a shared section (``train``, ...) or a section of one of ``tables`` (the declarations of the
    methods and learners that will read it). The result keeps the base's name, because it reads the same datasets
    (``data`` is the base's unless replaced too); whatever it trains is keyed by the sizes themselves, never by the
    name. An unknown section or field is an error that lists the accepted ones."""
    owned = {t.section: t for t in tables}
    changes: dict[str, Any] = {}
    overrides = {name: dict(fields) for name, fields in profile.overrides}
    for section, values in sizes.items():
        if section in SHARED_SECTIONS:
            changes[section] = _replace_checked(section, getattr(profile, section), values)
        elif section in owned:
            _replace_checked(section, owned[section].lab, values)  # checks the names now, not at first use
            overrides[section] = {**overrides.get(section, {}), **values}
        else:
            accepted = ", ".join(sorted([*SHARED_SECTIONS, *owned]))
            raise ProfileError(f"unknown size section {section!r}; accepted: {accepted}")
    frozen = tuple((k, tuple(sorted(v.items()))) for k, v in sorted(overrides.items()))
    return dataclasses.replace(profile, **changes, overrides=frozen)


def report_mode() -> bool:
    """True while ``make report`` executes a notebook: widgets then fall back to self-contained HTML."""
    return os.environ.get("STITCHKIT_REPORT", "") not in ("", "0", "false")
