import dataclasses

import pytest

from stitchkit.profiles import DEFAULT_PROFILE, PROFILE_NAMES, PROFILES, ProfileError, get_profile


def test_names_and_default(clean_env):
    assert PROFILE_NAMES == ("smoke", "lab", "full")
    assert get_profile().name == DEFAULT_PROFILE == "lab"


def test_environment_variable_selects_profile(clean_env):
    clean_env.setenv("STITCHKIT_PROFILE", "smoke")
    assert get_profile().name == "smoke"
    assert get_profile("full").name == "full"  # an explicit argument beats the environment


def test_unknown_profile_is_one_line_error_listing_valid_ones(clean_env):
    clean_env.setenv("STITCHKIT_PROFILE", "bogus")
    with pytest.raises(ProfileError) as err:
        get_profile()
    msg = str(err.value)
    assert "\n" not in msg and "'bogus'" in msg and "STITCHKIT_PROFILE" in msg
    assert all(name in msg for name in PROFILE_NAMES)


def every_size_section(name: str) -> dict:
    """The profile's shared sections and every section a method or learner declares in its module."""
    from stitchkit.plugins import size_tables

    sections = {section: dataclasses.asdict(getattr(sizes, name)) for section, sizes in size_tables().items()}
    return PROFILES[name].as_dict() | sections


def test_profiles_share_one_shape_and_grow(clean_env):
    """One code path: every profile sets the same fields, and no size shrinks from smoke to lab to full, in the
    shared sections and in every method's and learner's own (DiffStitch's, ASTRO's, SER's, TATU's, TELS's)."""
    smoke, lab, full = (every_size_section(n) for n in PROFILE_NAMES)
    assert smoke.keys() == lab.keys() == full.keys()
    assert {"stitch", "astro", "ser", "tatu", "tels"} <= smoke.keys()
    for section, sizes in smoke.items():
        if not isinstance(sizes, dict):
            continue
        assert sizes.keys() == lab[section].keys() == full[section].keys()
        for key, small in sizes.items():
            if key == "lr" or key.endswith("_lr"):  # step sizes shrink as the step budget grows
                assert small >= lab[section][key] >= full[section][key], (section, key)
                continue
            assert small <= lab[section][key] <= full[section][key], (section, key)


def test_profiles_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["lab"].tour.n_worlds = 1


def test_the_shared_profile_holds_no_learner_or_method_specific_size():
    """A learner or method declares its own sizes in its module (``cql.SIZES``, ``dt.SIZES``, ``diffstitch.SIZES``):
    no field of the shared sections is named after one of them (issue 46 moved CQL's and DT's budgets out)."""
    from stitchkit.plugins import LEARNERS, STITCHING_METHODS, size_tables

    prof = get_profile("full")
    names = {*LEARNERS, *STITCHING_METHODS}
    shared = {
        f.name for section in ("tour", "data", "train", "goals") for f in dataclasses.fields(getattr(prof, section))
    }
    assert not {f for f in shared if f.split("_")[0] in names}, shared
    tables = size_tables()
    assert tables["cql"].of(prof).steps == 1_000_000 and tables["dt"].of(prof).batch_size == 4096
    from stitchkit.train import learner

    assert learner("cql").budget(get_profile("lab"), {}) == (250, get_profile("lab").train.batch_size)
    assert learner("dt").budget(get_profile("smoke"), {}) == (20, 16)
