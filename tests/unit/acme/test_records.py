"""ACME record names, ownership markers, UPDATE messages and staleness (records.py)."""

from __future__ import annotations

import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.update
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnssync.acme.payload import key_authorization_digest
from dnssync.acme.records import (
    Held,
    StaleTracker,
    challenge_name,
    check_record,
    check_value,
    cleanup_message,
    marker_name,
    marker_value,
    owned_values,
    parse_marker,
    present_message,
    record_name,
    stale_message,
    txt_text,
)
from dnssync.errors import InvalidInput, InvalidName

ZONE = "example.com"
RECORD = "_acme-challenge.www.example.com"
VALUE = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1)
# A pool, not from_regex: 43-character regex draws are slow, and a pool makes
# the sets of a draw overlap.
digests = st.sampled_from([key_authorization_digest(f"token-{i}.thumb") for i in range(24)])
A, B = "a" * 43, "b" * 43
DIGEST_REFUSAL = (
    "the key (TXT value) is not an ACME DNS-01 digest: it must be exactly "
    "43 base64url characters, unpadded (RFC 8555 §8.4)"
)
owners = st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True)


def update_of(wire: bytes) -> dns.update.UpdateMessage:
    """Parse an encoded UPDATE back with dnspython (which also proves it is valid)."""
    msg = dns.message.from_wire(wire)
    assert isinstance(msg, dns.update.UpdateMessage)
    return msg


def rrs(section: list[dns.rrset.RRset]) -> set[tuple[str, str, str, str, int]]:
    """(name, class, type, value, ttl) of each RR in a message section."""
    out = set()
    for rrset in section:
        cls = dns.rdataclass.to_text(rrset.deleting or rrset.rdclass)
        typ = dns.rdatatype.to_text(rrset.rdtype)
        name = rrset.name.to_text(omit_final_dot=True)
        if not len(rrset):
            out.add((name, cls, typ, "", rrset.ttl))
        for rd in rrset:
            out.add((name, cls, typ, txt_text(rd.strings), rrset.ttl))
    return out


def test_challenge_name_for_host_apex_and_wildcard() -> None:
    """_acme-challenge.<domain>; '*.d' uses d (RFC 8555 §8.4): apex and wildcard share it."""
    assert challenge_name("www.Example.com.") == RECORD
    assert challenge_name("*.example.com") == "_acme-challenge.example.com"
    assert challenge_name("example.com") == "_acme-challenge.example.com"


def test_challenge_name_refuses_bad_names() -> None:
    """Junk and nested wildcards never reach DNS."""
    for bad in ("exa mple.com", "*.*.example.com", ""):
        with pytest.raises(InvalidName):
            challenge_name(bad)


def test_check_value_takes_only_dns01_digests() -> None:
    """Values are exactly 43 base64url characters (RFC 8555 §8.4); one stable refusal line."""
    assert check_value(VALUE) == VALUE
    assert check_value("-" * 43) == "-" * 43
    forged = "heritage=external-dns,external-dns/owner=prod,external-dns/resource=service/a/b"
    bad_values = ["", "x" * 42, "x" * 44, VALUE[:42] + "=", VALUE[:42] + "+", VALUE[:42] + "/"]
    bad_values += [VALUE[:42] + " ", "tab\there", "é" * 43, forged, "123d=="]
    texts = set()
    for bad in bad_values:
        with pytest.raises(InvalidInput) as info:
            check_value(bad, where="here")
        texts.add(str(info.value))
        assert "\n" not in str(info.value)
    assert texts == {f"here: {DIGEST_REFUSAL}"}
    with pytest.raises(InvalidInput) as info:
        check_value("123d==")
    assert str(info.value) == DIGEST_REFUSAL


@given(st.text(max_size=60))
def test_check_value_accepts_exactly_the_digest_alphabet(text: str) -> None:
    """Any text passes only when it is 43 characters of A-Z a-z 0-9 - _."""
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    shaped = len(text) == 43 and set(text) <= alphabet
    try:
        check_value(text)
    except InvalidInput:
        assert not shaped
    else:
        assert shaped


def test_digest_of_any_key_authorization_passes() -> None:
    """What certbot and lego compute (base64url SHA-256, unpadded) is always accepted."""
    for key_auth in ("token.thumbprint", "", "x" * 500):
        assert check_value(key_authorization_digest(key_auth))


def test_check_record_takes_only_acme_challenge_names() -> None:
    """Only names whose first label is _acme-challenge may be asked for."""
    assert check_record(RECORD) == RECORD
    for bad in (
        "a-victim.example.com",
        "extdns-a-www.example.com",
        "x._acme-challenge.example.com",
        "_dnssync-acme._acme-challenge.example.com",
        "_acme-challengex.example.com",
        "example.com",
    ):
        with pytest.raises(InvalidName, match="first label is _acme-challenge"):
            check_record(bad)
    with pytest.raises(InvalidName) as info:
        check_record("a-victim.example.com")
    assert str(info.value).startswith("refusing to write at a-victim.example.com: ")
    with pytest.raises(InvalidName) as info:
        check_record("a-victim.example.com", where="fqdn argument")
    assert str(info.value).startswith("fqdn argument: refusing")
    with pytest.raises(InvalidName) as info:
        record_name("a-victim.example.com.", where="request.resolvedFQDN")
    assert str(info.value).startswith("request.resolvedFQDN: refusing")
    with pytest.raises(InvalidName) as info:
        record_name("bad name.example.com", where="request.resolvedFQDN")
    assert str(info.value).startswith("request.resolvedFQDN: ")
    assert record_name("_acme-challenge.WWW.example.com.") == RECORD
    for bad, where in (("*.*.example.com", "spec.dnsName"), ("bad name.com", "spec.dnsName")):
        with pytest.raises(InvalidName) as info:
            challenge_name(bad, where=where)
        assert str(info.value).startswith(f"{where}: ")


@given(owner=owners, value=values)
def test_marker_round_trip(owner: str, value: str) -> None:
    """parse_marker(marker_value(o, v)) gives (o, v) back for any owner and value."""
    m = parse_marker(marker_value(owner, value))
    assert m is not None
    assert (m.owner, m.value) == (owner, value)


@pytest.mark.parametrize(
    "text",
    [
        VALUE,
        "heritage=external-dns,external-dns/owner=x",
        "heritage=dnssync,dnssync/owner=,dnssync/value=v",
        "heritage=dnssync,dnssync/owner=o",
        "heritage=dnssync,dnssync/owner=o,dnssync/value=",
    ],
)
def test_non_markers_are_not_parsed(text: str) -> None:
    """ACME values, external-dns records and truncated markers are not markers."""
    assert parse_marker(text) is None


def test_owned_values_only_ours() -> None:
    """Only markers with our owner id count, never other owners' or plain values."""
    markers = [marker_value("me", "a"), marker_value("you", "b"), "c", marker_value("me", "d")]
    assert owned_values(markers, "me") == {"a", "d"}
    assert Held(RECORD, frozenset({"a", "b", "c"}), frozenset(markers)).ours("you") == {"b"}


def test_txt_text_joins_strings_and_keeps_any_byte() -> None:
    """Character-strings join without a separator; bytes that are no UTF-8 survive."""
    assert txt_text([b"ab", b"cd"]) == "abcd"
    assert txt_text([b"\xff"]) == "\udcff"


def test_marker_name_at_the_length_limit() -> None:
    """A marker name of exactly 253 characters is still a name."""
    stem = "_acme-challenge." + ".".join(["a" * 59] * 3) + "."
    record = stem + "b" * (253 - len("_dnssync-acme.") - len(stem))
    assert len(marker_name(record)) == 253


def test_marker_name_too_long() -> None:
    """A record too long for a marker sibling is refused with a hint."""
    long = ".".join(["a" * 60] * 4)
    with pytest.raises(InvalidName, match=r"acme\.markers"):
        marker_name(long)


def test_present_message() -> None:
    """Present: CNAME must be absent; value and marker added with the TTL, one message."""
    msg = update_of(present_message(ZONE, RECORD, VALUE, 60, owner="me", msg_id=7))
    assert isinstance(msg, dns.update.UpdateMessage)
    assert msg.id == 7
    assert rrs(msg.prerequisite) == {(RECORD, "NONE", "CNAME", "", 0)}
    assert rrs(msg.update) == {
        (RECORD, "IN", "TXT", VALUE, 60),
        (f"_dnssync-acme.{RECORD}", "IN", "TXT", marker_value("me", VALUE), 60),
    }


def test_present_without_markers() -> None:
    """With markers off only the value is written."""
    msg = update_of(present_message(ZONE, RECORD, VALUE, 60, owner=None, msg_id=7))
    assert rrs(msg.update) == {(RECORD, "IN", "TXT", VALUE, 60)}


def test_cleanup_message_deletes_exactly_one_value() -> None:
    """Clean-up deletes one RR (class NONE), never the RRset, and our marker for it."""
    msg = update_of(cleanup_message(ZONE, RECORD, VALUE, owner="me", msg_id=7))
    assert rrs(msg.prerequisite) == {(RECORD, "NONE", "CNAME", "", 0)}
    assert rrs(msg.update) == {
        (RECORD, "NONE", "TXT", VALUE, 0),
        (f"_dnssync-acme.{RECORD}", "NONE", "TXT", marker_value("me", VALUE), 0),
    }


def test_stale_message_requires_markers_as_read() -> None:
    """Stale removal: the whole marker RRset as read is a prerequisite."""
    read = [marker_value("me", A), marker_value("other", B)]
    msg = stale_message(ZONE, RECORD, [A], owner="me", markers_read=read)
    assert [z.name.to_text(omit_final_dot=True) for z in msg.zone] == [ZONE]
    mname = f"_dnssync-acme.{RECORD}"
    assert rrs(msg.prerequisite) == {(mname, "IN", "TXT", t, 0) for t in read}
    assert rrs(msg.update) == {
        (RECORD, "NONE", "TXT", A, 0),
        (mname, "NONE", "TXT", marker_value("me", A), 0),
    }


def test_stale_message_refuses_values_without_our_marker() -> None:
    """A value not named by a marker of ours can never be put in a stale message."""
    read = [marker_value("other", B)]
    with pytest.raises(InvalidInput, match="no marker of ours"):
        stale_message(ZONE, RECORD, [B], owner="me", markers_read=read)
    with pytest.raises(InvalidInput, match="no markers read"):
        stale_message(ZONE, RECORD, [B], owner="me", markers_read=[])


@given(
    plain=st.sets(digests, max_size=5),
    mine=st.sets(digests, max_size=5),
    theirs=st.sets(digests, max_size=5),
    needed=st.sets(digests, max_size=5),
)
def test_only_values_with_our_marker_are_ever_deleted(
    plain: set[str], mine: set[str], theirs: set[str], needed: set[str]
) -> None:
    """Whatever the mix at a name, a stale pass deletes only values our markers name."""
    markers = {marker_value("me", v) for v in mine} | {marker_value("them", v) for v in theirs}
    held = Held(RECORD, frozenset(plain | mine | theirs), frozenset(markers))
    tracker = StaleTracker(grace=0)
    due = tracker.observe(RECORD, held.ours("me"), frozenset(needed), now=0.0)
    assert due == mine - needed
    if due:
        msg = stale_message(ZONE, RECORD, due, owner="me", markers_read=held.markers)
        deleted = {v for (n, c, _t, v, _ttl) in rrs(msg.update) if n == RECORD and c == "NONE"}
        assert deleted == due
        assert deleted <= mine


def test_stale_message_refuses_values_that_are_no_digest() -> None:
    """A forged marker naming an ownership value never makes the watcher delete it."""
    forged = "heritage=external-dns,external-dns/owner=prod,external-dns/resource=service/a/b"
    read = [marker_value("me", forged)]
    with pytest.raises(InvalidInput) as info:
        stale_message(ZONE, "a-victim.example.com", [forged], owner="me", markers_read=read)
    assert str(info.value) == f"stale value at a-victim.example.com: {DIGEST_REFUSAL}"


def test_tracker_waits_for_the_grace_period() -> None:
    """A value must be unneeded for `grace` seconds in a row before it is due."""
    t = StaleTracker(grace=10)
    assert t.observe(RECORD, {"a"}, frozenset(), now=100) == frozenset()
    assert t.observe(RECORD, {"a"}, frozenset(), now=109) == frozenset()
    assert t.observe(RECORD, {"a"}, frozenset(), now=110) == {"a"}


def test_tracker_restarts_when_needed_again() -> None:
    """Needed again resets the clock; a vanished value is forgotten."""
    t = StaleTracker(grace=10)
    t.observe(RECORD, {"a", "b"}, frozenset(), now=0)
    t.observe(RECORD, {"a", "b"}, frozenset({"a"}), now=5)
    assert t.observe(RECORD, {"a", "b"}, frozenset(), now=12) == {"b"}
    assert t.observe(RECORD, {"a", "b"}, frozenset(), now=21) == {"b"}
    assert t.observe(RECORD, {"a", "b"}, frozenset(), now=22) == {"a", "b"}
    t.observe(RECORD, {"a"}, frozenset(), now=23)
    assert (RECORD, "b") not in t.pending()
    t.forget(RECORD)
    assert t.pending() == {}
