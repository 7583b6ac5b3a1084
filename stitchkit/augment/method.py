"""How a stitching method declares itself: one :class:`Method` at the bottom of its module, listed in
:data:`stitchkit.plugins.STITCHING_METHODS`. :func:`stitchkit.augment.run` does the rest for every method alike:
loads the parent, checks the options against the config's fields, generates, saves with provenance.

The method's options are its config dataclass's fields (``seed`` aside), typed and checked before any work
(:mod:`stitchkit.options`). Per-dataset defaults are data (``defaults``), keyed by the dataset's kind, environment
and name (:func:`stitchkit.data.registry.dataset_keys`), so the CLI, the benchmark grids and the notebooks all get
the same settings without passing them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from stitchkit import options as opts
from stitchkit.data.episodes import Episode
from stitchkit.profiles import Profile, SizeTable, with_sizes
from stitchkit.progress import seconds_per_step


def model_key(dataset_id: str, *parts: Any) -> str:
    """The folder name a method's trained models are cached under: the dataset id, then 8 hex digits of all the
    models depend on: ``parts`` (the profile's sizes, the seed, ...) and the dataset's contents
    (:func:`~stitchkit.data.registry.fingerprint`), so a dataset rebuilt from new behaviour policies retrains."""
    from stitchkit.data import registry

    text = json.dumps([dataset_id, registry.fingerprint(dataset_id), *parts], sort_keys=True, default=str)
    return f"{dataset_id.replace('/', '__')}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def estimate_by_shortening(
    train_models: Callable[..., Any],
    episodes: list[Episode],
    profile: Profile,
    table: SizeTable,
    steps: str,
    checkpoint_dir: Path | None = None,
    device: str = "cpu",
    probe: int = 20,
) -> float:
    """Seconds a method's ``train_models(episodes, profile)`` will take here, said before it starts: the profile's
    step count ``steps`` (a field of the method's ``table``, e.g. SER's ``train_steps``) shortened to ``probe``
    steps and timed on this machine (:func:`~stitchkit.progress.seconds_per_step`), scaled back up; 0 when
    ``checkpoint_dir`` already holds the finished models. For a method whose models all train for one count."""
    if checkpoint_dir is not None and (checkpoint_dir / "models.pt").exists():
        return 0.0

    def run(n: int) -> None:
        short = with_sizes(profile, {table.section: {steps: n}}, [table])
        train_models(episodes, short, device=device, log=lambda *_: None)

    return seconds_per_step(run, probe) * getattr(table.of(profile), steps)


@dataclass
class Job:
    """One generation run, as a method's ``generate`` receives it."""

    method: str
    dataset_id: str
    episodes: list[Episode]
    profile: Profile
    config: Any  # the method's config dataclass, options and seed resolved
    log: Callable[[str], None]
    device: str

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def env(self) -> str:
        from stitchkit.envs import env_name_of

        return env_name_of(self.dataset_id)

    def checkpoint_dir(self, method: str, key: str) -> Path:
        """Where a method caches its trained models (``data/checkpoints/<method>/<key>``)."""
        from stitchkit.paths import data_dir

        return data_dir() / "checkpoints" / method / key

    def models_dir(self) -> Path:
        """Where this job's method caches its trained models: the folder its ``models_key`` names (a campaign puts
        committed models there, :func:`stitchkit.campaign.running.restore_models`)."""
        from stitchkit.augment import method as lookup

        folder = lookup(self.method).models_dir(self.dataset_id, self.profile, self.config)
        if folder is None:
            raise ValueError(f"method {self.method!r} declares no models_key")
        return folder

    def progress(self, every: int = 10) -> Callable[[dict], None]:
        """A stitching loop's progress callback: one log line every ``every`` iterations."""

        def report(st: dict) -> None:
            if st["iteration"] % every == 0:
                self.log(
                    f"  iteration {st['iteration']}: {st['accepted']}/{st['generated']} accepted, "
                    f"{st['accepted_steps']} transitions"
                )

        return report


@dataclass(frozen=True)
class Method:
    name: str
    config: type  # the config dataclass: its fields (less ``seed``) are the method's options
    generate: Callable[[Job], tuple[list[Episode], dict[str, Any]]]  # -> generated episodes, summary
    saves: str  # what one generated episode is
    empty_hint: str  # what to change when a run accepts nothing
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # dataset key -> options
    sizes: tuple[SizeTable, ...] = ()  # its own sizes per profile, then any it reads from other methods (recorded)
    needs_maze: bool = False  # works on maze datasets only (positions, walls, goals): other datasets are n/a
    profile_defaults: Callable[[Profile], Mapping[str, Any]] | None = None  # options its sizes set (ASTRO's window)
    inert: Callable[[Any], tuple[str, ...]] | None = None  # a config's fields that act on nothing under its others
    # The paper's (or its released code's) value of each size or option worth comparing, by field name, or a sentence
    # where it has no single value: what a campaign's "campaign vs paper" table sets beside its own (``ratio``: the
    # original : generated batch ratio). Facts from the papers and repositories, with the source in a comment.
    paper: Mapping[str, Any] = field(default_factory=dict)
    # The folder name its trained models are cached under, from (dataset id, profile, config): the data's contents,
    # the sizes and the seed, so that anything they depend on retrains. Declared here (not only inside ``generate``)
    # so that a campaign can carry finished models from one session to the next (``models_file`` in that folder).
    models_key: Callable[[str, Profile, Any], str] | None = None
    models_file: str = "models.pt"

    def recorded(self, config: Any) -> dict[str, Any]:
        """The config as a record's spec holds it: its fields less the inert ones, so a field added later that
        changes nothing at its default (DiffStitch's ``return_target`` without guidance) leaves older records
        current."""
        out = json.loads(json.dumps(asdict(config), default=list))
        for name in self.inert(config) if self.inert else ():
            out.pop(name, None)
        return out

    def models_dir(self, dataset_id: str, profile: Profile, config: Any) -> Path | None:
        """``data/checkpoints/<method>/<models_key>``, or None for a method that trains nothing worth carrying."""
        from stitchkit.paths import data_dir

        if self.models_key is None:
            return None
        return data_dir() / "checkpoints" / self.name / self.models_key(dataset_id, profile, config)

    def fields(self) -> dict[str, Any]:
        return opts.schema(self.config, skip=("seed",))

    def check(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The user's options, typed; an OptionError before any work for an unknown key or a bad value."""
        return opts.check(self.name, self.fields(), options)

    def resolve(self, config: Any, dataset_id: str, profile: Profile) -> Any:
        """The one place a config's open options are settled: every field left ``None`` takes the profile's value
        (``profile_defaults``), overridden by the dataset's (``defaults``, the most specific entry winning); what the
        user set is kept. A stitching loop calls it on whatever config it is handed (the CLI's, a notebook's)."""
        from stitchkit.data.registry import dataset_keys

        layered = {
            **(self.profile_defaults(profile) if self.profile_defaults else {}),
            **opts.per_dataset(self.defaults, dataset_keys(dataset_id)),
        }
        return replace(config, **{k: v for k, v in layered.items() if getattr(config, k, 0) is None})

    def config_for(self, dataset_id: str, options: Mapping[str, Any], seed: int = 0) -> Any:
        """The config a run on ``dataset_id`` uses: per-dataset defaults, overridden by ``options``."""
        from stitchkit.data.registry import dataset_keys

        table = opts.per_dataset(self.defaults, dataset_keys(dataset_id))
        return self.config(**opts.resolve(self.name, self.fields(), table, options), seed=seed)
