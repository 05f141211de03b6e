"""ACME check edges that ``make mutation`` found unguarded in :mod:`dnssync.acme.records`.

A refusal with no ``where`` has no prefix, and one raised by the second,
longer name :func:`challenge_name` builds still names its place; a wildcard
is refused as a malformed name in both :func:`challenge_name` (its domain,
stripped of one ``*.``) and :func:`record_name`; the "no CNAME" prerequisite
of Present and clean-up has TTL 0 on the wire (RFC 2136 §3.2.1: a server answers
FORMERR otherwise; dnspython drops an empty RR's TTL, so the wire is read);
a marker's value may hold the value separator (owner ids cannot hold a comma);
the marker-name refusal is whole.

``make mutation MODULE=dnssync/acme/records.py``: 253 of 259 killed (241
before these tests).  The 6 mutants left alive are equivalent:

* ``wildcard=None`` in :func:`challenge_name`'s first ``normalize`` and in
  :func:`record_name`'s (2): ``normalize`` reads the flag only for its truth
  value, and ``None`` is as false as ``False``;
* ``wildcard`` set to ``None`` or ``True``, or left out (``True``), in
  :func:`challenge_name`'s second ``normalize`` (3): the name it is given
  starts with ``_acme-challenge``, and the flag admits only a leading ``*``;
* ``"UTF-8"`` for ``"utf-8"`` in :func:`txt_text` (1): codec names are looked
  up case-insensitively.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import dns.name
import pytest

from dnssync.acme.records import (
    challenge_name,
    cleanup_message,
    marker_name,
    marker_value,
    parse_marker,
    present_message,
    record_name,
)
from dnssync.errors import InvalidName

ZONE = "example.com"
RECORD = "_acme-challenge.www.example.com"
VALUE = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
HOST = "may only hold letters, digits and '-', and may not start or end with '-'"
SERVICE = "may only hold letters, digits, '-' and '_', and may not start or end with '-'"


def _refusal(call: Callable[..., str], *args: str, **kwargs: str) -> str:
    """The text of the InvalidName ``call`` raises."""
    with pytest.raises(InvalidName) as info:
        call(*args, **kwargs)
    return str(info.value)


def _prerequisite(wire: bytes) -> tuple[int, int, int, int]:
    """(type, class, TTL, RDLENGTH) of the first prerequisite RR, read off the wire."""
    offset = 12
    _, used = dns.name.from_wire(wire, offset)  # the zone section's name
    offset += used + 4
    _, used = dns.name.from_wire(wire, offset)
    rdtype, rdclass, ttl, rdlength = struct.unpack_from("!HHIH", wire, offset + used)
    return rdtype, rdclass, ttl, rdlength


def test_refusals_without_a_place_have_no_prefix() -> None:
    """challenge_name and record_name called without ``where`` prefix nothing."""
    assert _refusal(challenge_name, "exa mple.com") == f"'exa mple.com': label 'exa mple' {HOST}"
    assert _refusal(record_name, "bad name.com") == f"'bad name.com': label 'bad name' {SERVICE}"
    assert _refusal(record_name, "a-victim.example.com").startswith("refusing to write at a-")


def test_challenge_name_too_long_names_its_place() -> None:
    """A domain valid alone but too long under _acme-challenge is refused with ``where``."""
    domain = ".".join(["a" * 60] * 4)[:240]
    text = _refusal(challenge_name, domain, where="spec.dnsName")
    name = f"_acme-challenge.{domain}"
    assert text == f"spec.dnsName: {name!r} is 256 characters long; at most 253 are allowed"


def test_nested_wildcard_is_refused_as_its_domain() -> None:
    """'*.*.d' is refused for d's own '*' label, before any _acme-challenge name is built."""
    text = _refusal(challenge_name, "*.*.example.com", where="spec.dnsName")
    assert text == f"spec.dnsName: '*.example.com': label '*' {HOST}"


def test_wildcard_record_name_is_a_malformed_name() -> None:
    """A record name with a '*' label is refused as malformed, not passed to the label check."""
    text = _refusal(record_name, "*.example.com", where="request.resolvedFQDN")
    assert text == f"request.resolvedFQDN: '*.example.com': label '*' {SERVICE}"
    text = _refusal(record_name, "*._acme-challenge.example.com")
    assert text == f"'*._acme-challenge.example.com': label '*' {SERVICE}"


@pytest.mark.parametrize("owner", ["me", None])
def test_no_cname_prerequisite_has_ttl_zero_on_the_wire(owner: str | None) -> None:
    """Present's and clean-up's 'no CNAME' prerequisite: CNAME, class NONE, TTL 0, no rdata."""
    for wire in (
        present_message(ZONE, RECORD, VALUE, 60, owner=owner, msg_id=7),
        cleanup_message(ZONE, RECORD, VALUE, owner=owner, msg_id=7),
    ):
        assert _prerequisite(wire) == (5, 254, 0, 0)


def test_marker_value_holding_the_separator_parses_whole() -> None:
    """The owner ends at the first value separator: a value holding one comes back whole."""
    value = "a,dnssync/value=b"
    m = parse_marker(marker_value("me", value))
    assert m is not None
    assert (m.owner, m.value) == ("me", value)


def test_marker_name_refusal_text() -> None:
    """A record too long for a marker: the record, the reason and the setting, exactly."""
    long = ".".join(["a" * 60] * 4)
    assert _refusal(marker_name, long) == (
        f"{long!r} is too long to carry an ownership marker; "
        "set acme.markers: false to write without markers"
    )
