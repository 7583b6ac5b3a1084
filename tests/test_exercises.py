"""Self-checking exercises: an unanswered one fails in its own check with its hint, whatever kind of check it is,
and a check never prints the answer."""

import pytest

from stitchkit.exercises import check


@pytest.mark.parametrize("kwargs", [{"expected": 3}, {"satisfies": lambda a: a >= 6}])
def test_an_unanswered_exercise_fails_in_its_check_with_its_hint(kwargs):
    with pytest.raises(AssertionError, match=r"exercise 1: no answer yet\. take log10"):
        check("exercise 1", None, hint="take log10", **kwargs)


def test_a_property_check_passes_a_right_answer_and_fails_a_wrong_one_without_showing_the_truth(capsys):
    assert check("exercise 1", 7, satisfies=lambda a: int(a) >= 6)
    assert capsys.readouterr().out.strip() == "✓ exercise 1: correct"
    with pytest.raises(AssertionError, match=r"got 5, which is not right\. hint") as err:
        check("exercise 1", 5, satisfies=lambda a: int(a) >= 6, hint="hint")
    assert "6" not in str(err.value)
    with pytest.raises(AssertionError, match="not right"):  # an answer of the wrong type is wrong, not a crash
        check("exercise 1", "many", satisfies=lambda a: int(a) >= 6)
