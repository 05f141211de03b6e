"""The record type table: canonical text, RDATA both ways, and one clear line per bad value."""

from __future__ import annotations

import contextlib
import ipaddress

import dns.exception
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnssync.dns import wire
from dnssync.errors import InvalidInput
from dnssync.rtypes import MAX_TXT_BYTES, TYPES, parse_values, show, txt_strings

ORIGIN = dns.name.from_text("example.test.")


def decode(type_: str, data: bytes) -> str:
    """RDATA through dnssync's zone reader (a one-record answer message)."""
    q = dns.message.make_query(ORIGIN, dns.rdatatype.AXFR)
    r = dns.message.make_response(q)
    rd = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.from_text(type_), data, 0, len(data))
    r.answer.append(dns.rrset.from_rdata(ORIGIN, 300, rd))
    (record,) = wire.parse(r.to_wire()).records
    assert record.value is not None
    return record.value


# --- canonical text -------------------------------------------------------------

CANONICAL = [
    ("A", " 192.0.2.1 ", "192.0.2.1"),
    ("AAAA", "2001:DB8:0:0::1", "2001:db8::1"),
    ("CNAME", "LB.Example.NET.", "lb.example.net"),
    ("NS", "ns1.example.net.", "ns1.example.net"),
    ("PTR", "Host.example.net", "host.example.net"),
    ("MX", "10 Mail.Example.net.", "10 mail.example.net"),
    ("MX", "0 .", "0 ."),
    ("SRV", "0 5 5060 SIP.example.net.", "0 5 5060 sip.example.net"),
    ("SRV", "0 0 0 .", "0 0 0 ."),
    ("CAA", "0 issue letsencrypt.org", '0 issue "letsencrypt.org"'),
    ("CAA", '128 ISSUE "ca.example.net; account=1"', '128 issue "ca.example.net; account=1"'),
    ("CAA", '0 iodef "mailto:a\\"b@example.com"', '0 iodef "mailto:a\\"b@example.com"'),
    ("TXT", "v=spf1 include:_spf.example.net ~all", "v=spf1 include:_spf.example.net ~all"),
    ("TXT", '"v=spf1 " "-all"', '"v=spf1 " "-all"'),
    ("TXT", '"one string"', "one string"),
    ("TXT", '"\\"quoted\\" start"', '"\\"quoted\\" start"'),
    ("TXT", 'inner "quotes" and \\ stay', 'inner "quotes" and \\ stay'),
    ("TXT", '"tab\\009and\\255"', "tab\tand\udcff"),  # bytes kept (surrogateescape)
    ("TXT", "", ""),
    ("TXT", "é ünïcode", "é ünïcode"),
]


@pytest.mark.parametrize(("type_", "given", "canonical"), CANONICAL)
def test_desired_text_becomes_canonical(type_: str, given: str, canonical: str) -> None:
    """A value as a source gives it takes one canonical form, which is a fixed point."""
    assert parse_values(type_, (given,)) == (canonical,)
    assert TYPES[type_].parse(canonical) == canonical


@pytest.mark.parametrize(("type_", "given", "canonical"), CANONICAL)
def test_canonical_text_survives_the_wire(type_: str, given: str, canonical: str) -> None:
    """Written as RDATA and read back by the zone reader, a value is what was written."""
    data = TYPES[type_].wire(canonical)
    assert decode(type_, data) == canonical


def test_long_txt_content_is_cut_into_255_byte_strings() -> None:
    """Unquoted content over 255 bytes is written as 255-byte strings and reads back whole."""
    content = "k=rsa; p=" + "A" * 700
    (value,) = parse_values("TXT", (content,))
    assert value == content
    strings = txt_strings(value)
    assert [len(s) for s in strings] == [255, 255, 199]
    assert decode("TXT", TYPES["TXT"].wire(value)) == content


def test_txt_split_another_way_keeps_its_strings() -> None:
    """A TXT written with other strings (by hand) reads as quoted strings, exactly."""
    rd = dns.rdata.from_text("IN", "TXT", '"v=spf1 " "include:x" " -all"')
    value = decode("TXT", rd.to_digestable())
    assert value == '"v=spf1 " "include:x" " -all"'
    assert TYPES["TXT"].wire(value) == rd.to_digestable()


def test_plan_table_shows_txt_quoted() -> None:
    """The plan table prints TXT values quoted, so spaces, commas and quotes are visible."""
    assert show("TXT", "a, b") == '"a, b"'
    assert show("TXT", '"a" "b"') == '"a" "b"'
    assert show("MX", "10 mail.example.net") == "10 mail.example.net"


# --- bad values -------------------------------------------------------------------

BAD = [
    ("SRV", "10 5 sip.example.net", "SRV value '10 5 sip.example.net': needs 4 fields"),
    ("SRV", "10 5 70000 sip.example.net", "SRV port '70000': must be a whole number"),
    ("SRV", "a 5 5060 sip.example.net", "SRV priority 'a'"),
    ("MX", "10", "MX value '10': needs 2 fields, 'preference host'"),
    ("MX", "mail.example.net", "needs 2 fields"),
    ("MX", "10 bad_host!.example", "MX host 'bad_host!.example'"),
    ("CAA", "1 issue letsencrypt.org", "flags '1' are unknown; RFC 8659 defines 0 and 128"),
    ("CAA", "0 issue", "needs 3 fields"),
    ("CAA", "0 iss-ue x", "tag 'iss-ue' must be 1-15 letters or digits"),
    ("CAA", "0 issue two words", "quote a value that holds spaces"),
    ("TXT", "x" * (MAX_TXT_BYTES + 1), f"one value may hold at most {MAX_TXT_BYTES}"),
    ("TXT", '"' + "x" * 256 + '"', "a quoted string holds 256 bytes; at most 255"),
    ("TXT", '"unclosed', "a quoted string is not closed"),
    ("TXT", '"a" b', "expected a quoted string"),
    ("A", "192.0.2.256", "'192.0.2.256' is not an IPv4 address"),
    ("AAAA", "192.0.2.1", "is not an IPv6 address"),
    ("CNAME", ".", "the root is no target"),
    ("NS", "ns 1.example.net", "target 'ns 1.example.net'"),
    ("HINFO", "cpu os", "record type 'HINFO' is not supported"),
]


@pytest.mark.parametrize(("type_", "given", "message"), BAD)
def test_bad_value_is_one_clear_line(type_: str, given: str, message: str) -> None:
    """A bad value raises dnssync's InvalidInput with one line naming value and fault."""
    with pytest.raises(InvalidInput) as info:
        parse_values(type_, ("192.0.2.1" if type_ == "A" else "ok", given)[1:])
    text = str(info.value)
    assert message in text and "\n" not in text


def test_record_set_too_large_for_one_message_is_refused() -> None:
    """Values adding up past one UPDATE message's room are refused, naming the sizes."""
    values = tuple(f"{i:04d}" + "x" * 4000 for i in range(5))
    with pytest.raises(InvalidInput, match="a record set may hold at most"):
        parse_values("TXT", values)


# --- properties -------------------------------------------------------------------

_labels = st.from_regex(r"[a-z0-9_](?:[a-z0-9_-]{0,10}[a-z0-9_])?", fullmatch=True)
_hosts = st.lists(_labels, min_size=1, max_size=4).map(".".join)
_u16 = st.integers(0, 65535)
_strings = st.lists(st.binary(max_size=255), min_size=1, max_size=5)


def _escaped(data: bytes) -> str:
    return '"' + "".join(f"\\{c:03d}" for c in data) + '"'


def _presentation(type_: str) -> st.SearchStrategy[str]:
    """Zone-file text of random records of ``type_``, for dnspython to build."""
    if type_ == "A":
        return st.ip_addresses(v=4).map(str)
    if type_ == "AAAA":
        return st.ip_addresses(v=6).map(str)
    if type_ in ("CNAME", "NS", "PTR"):
        return _hosts.map(lambda h: h + ".")
    if type_ == "MX":
        return st.tuples(_u16, st.one_of(_hosts, st.just(""))).map(lambda t: f"{t[0]} {t[1]}.")
    if type_ == "SRV":
        return st.tuples(_u16, _u16, _u16, st.one_of(_hosts, st.just(""))).map(
            lambda t: f"{t[0]} {t[1]} {t[2]} {t[3]}."
        )
    if type_ == "CAA":
        value = st.binary(max_size=40).map(lambda b: '"' + "".join(f"\\{c:03d}" for c in b) + '"')
        tag = st.from_regex(r"[a-z0-9]{1,15}", fullmatch=True)
        return st.tuples(st.sampled_from([0, 128]), tag, value).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        )
    assert type_ == "TXT"
    return _strings.map(
        lambda ss: " ".join('"' + "".join(f"\\{c:03d}" for c in s) + '"' for s in ss)
    )


_records = st.sampled_from(sorted(TYPES)).flatmap(lambda t: st.tuples(st.just(t), _presentation(t)))


@settings(max_examples=400, deadline=None)
@given(_records)
def test_property_reader_and_writer_agree_with_dnspython(record: tuple[str, str]) -> None:
    """Any record of every type: read as canonical text, written back byte for byte."""
    type_, text = record
    rd = dns.rdata.from_text("IN", type_, text, origin=dns.name.root, relativize=False)
    data = rd.to_digestable()  # names uncompressed, lower case
    value = decode(type_, data)
    assert TYPES[type_].wire(value) == data
    # The canonical text is a fixed point of desired-value parsing.
    assert TYPES[type_].parse(value) == value


@settings(max_examples=300, deadline=None)
@given(_strings)
def test_property_txt_strings_round_trip(strings: list[bytes]) -> None:
    """Every list of TXT strings has one canonical text that gives those strings back."""
    data = b"".join(bytes([len(s)]) + s for s in strings)
    value = decode("TXT", data)
    assert txt_strings(value) == strings


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(TYPES)), st.binary(max_size=60))
def test_property_random_rdata_raises_only_wire_errors(type_: str, data: bytes) -> None:
    """Random RDATA of every type decodes, or fails the read with WireError only."""
    header = b"\x00\x01\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00"
    rr = b"\x00" + TYPES[type_].code.to_bytes(2, "big") + b"\x00\x01\x00\x00\x01\x2c"
    message = header + rr + len(data).to_bytes(2, "big") + data
    with contextlib.suppress(wire.WireError):
        wire.parse(message)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(TYPES)), st.text(max_size=40))
def test_property_any_desired_text_is_canonical_or_one_clear_line(type_: str, text: str) -> None:
    """Any text a source may carry: a canonical value, or InvalidInput -- nothing else."""
    try:
        (value,) = parse_values(type_, (text,))
    except InvalidInput as e:
        message = str(e)
    except (dns.exception.DNSException, UnicodeError) as e:  # pragma: no cover - the failure
        raise AssertionError(f"{type(e).__name__} escaped for {text!r}") from e
    else:
        assert parse_values(type_, (value,)) == (value,)
        return
    assert "\n" not in message


_QUADS = st.lists(
    st.one_of(
        st.integers(0, 300).map(str), st.sampled_from(["", "0", "00", "01", "1a", "٣", " 1"])
    ),
    min_size=1,
    max_size=5,
).map(".".join)


@given(st.one_of(_QUADS, st.text(max_size=20)))
@settings(max_examples=3000)
def test_a_values_are_read_exactly_as_ipaddress_reads_them(text: str) -> None:
    """The fast dotted-quad reader accepts, rejects and writes what ipaddress does."""
    try:
        expected: str | None = str(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        expected = None
    a = TYPES["A"]
    if expected is None:
        with pytest.raises(InvalidInput):
            a.parse(text)
    else:
        assert a.parse(text) == expected
        assert a.wire(expected) == ipaddress.IPv4Address(expected).packed
