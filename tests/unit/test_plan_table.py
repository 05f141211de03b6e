"""The plan table prints every record type's values legibly and as text, never as markup."""

from __future__ import annotations

from dnssync.cli import _rows
from dnssync.model import Action, Change, Owned, Ownership, RRset


def owned(type_: str, *values: str) -> Owned:
    rrset = RRset.of("www.example.com", type_, 300, values)
    return Owned(rrset, Ownership(f"extdns-{type_.lower()}-www.example.com", "v"), "crd/ns/web")


def test_txt_values_are_quoted_and_markup_is_escaped() -> None:
    """TXT values show quoted (commas and spaces visible); brackets stay literal text."""
    change = Change(Action.CREATE, "www.example.com", new=(owned("TXT", "a, b", "[bold]x[/]"),))
    ((action, name, type_, targets, ttl, resource),) = _rows(change)
    assert (action, name, type_, ttl, resource) == (
        "[green]create[/]",
        "www.example.com",
        "TXT",
        "300",
        "crd/ns/web",
    )
    assert targets == '"\\[bold]x\\[/]", "a, b"'


def test_update_of_an_mx_shows_old_and_new_values() -> None:
    """An update row shows the values before and after, in the table's canonical text."""
    change = Change(
        Action.UPDATE,
        "www.example.com",
        old=(owned("MX", "10 mx1.example.net"),),
        new=(owned("MX", "10 mx1.example.net", "20 mx2.example.net"),),
    )
    ((action, _, type_, targets, _, _),) = _rows(change)
    assert (action, type_) == ("[yellow]update[/]", "MX")
    assert targets == "10 mx1.example.net → 10 mx1.example.net, 20 mx2.example.net"
