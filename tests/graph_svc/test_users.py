"""Username, password and display-name rules (pure logic)."""

from __future__ import annotations

import pytest

from graph_svc.users import check_password, normalize_display_name, normalize_username
from pictor.errors import InvalidInput


@pytest.mark.parametrize(
    ("given", "stored"),
    [("Ada", "ada"), ("  grace.h  ", "grace.h"), ("a", "a"), ("x_" * 15, "x_" * 15)],
)
def test_usernames_are_stored_in_lower_case(given: str, stored: str) -> None:
    assert normalize_username(given) == stored


@pytest.mark.parametrize("given", ["", "a b", "a-b", "é", "x" * 31, "a@b"])
def test_malformed_usernames_are_refused(given: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_username(given)


def test_display_names_are_tidied_and_bounded() -> None:
    assert normalize_display_name("  Ada \t Lovelace ") == "Ada Lovelace"
    with pytest.raises(InvalidInput):
        normalize_display_name("x" * 51)
    with pytest.raises(InvalidInput):
        normalize_display_name("bell\x07")


def test_passwords_have_bounds() -> None:
    assert check_password("eight ch") == "eight ch"
    for bad in ("seven c", " " * 10, "x" * 257):
        with pytest.raises(InvalidInput):
            check_password(bad)
