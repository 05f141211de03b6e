"""Wire-format edges that ``make mutation`` found unguarded in :mod:`dnssync.dns.wire`.

A name inside an rdata must end with that rdata (a CNAME whose rdata was cut to
nothing once took the next record's owner as its target, where dnspython
refuses the message); transfers start with the zone's own SOA, an AXFR of a
zone holding only its SOA is complete, and every refusal names the zone.

The mutants left alive are equivalent:

* ``_Names._skip`` (12): it runs only when a name is read at an offset already
  read, which needs a name running past its rdata into the next record, now a
  WireError first;
* the initial ``serial``, ``mode`` and ``_adding`` of :class:`TransferAssembler`
  (``""``, ``None``, ``"XXXX"``, ``True``) and ``done``/``_adding`` set to
  ``None`` rather than ``False``: each is set before it is read, or read only
  for its truth value.
"""

from __future__ import annotations

from collections.abc import Callable

import dns.exception
import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest

from dnssync.dns import wire
from tests.hostile import decode_all

ORIGIN = dns.name.from_text("example.test.")


def _answer(*rrs: tuple[str, str, str]) -> bytes:
    q = dns.message.make_query(ORIGIN, dns.rdatatype.AXFR)
    r = dns.message.make_response(q)
    for name, type_, text in rrs:
        owner = dns.name.from_text(name, ORIGIN)
        r.answer.append(dns.rrset.from_text(owner, 300, "IN", type_, text))
    return r.to_wire()


def _with_rdata(data: bytes, rdtype: int, rdata: bytes) -> bytes:
    """``data`` with the first record of ``rdtype``'s rdata replaced by ``rdata``."""
    at = data.index(rdtype.to_bytes(2, "big") + b"\x00\x01", 12)
    old = int.from_bytes(data[at + 8 : at + 10], "big")
    return data[: at + 8] + len(rdata).to_bytes(2, "big") + rdata + data[at + 10 + old :]


def _reason(call: Callable[..., object], *args: object) -> str:
    """The text of the WireError ``call(*args)`` raises."""
    with pytest.raises(wire.WireError) as info:
        call(*args)
    return str(info.value)


def _refused_by_both(data: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.parse(data)
    with pytest.raises(dns.exception.FormError):
        dns.message.from_wire(data)


def test_a_cname_target_is_read_from_its_own_rdata_only() -> None:
    """A CNAME with an empty or over-long rdata is refused, not given the next owner as target."""
    data = _answer(("c", "CNAME", "t.example.org."), ("www", "A", "192.0.2.1"))
    assert wire.parse(data).records[0].value == "t.example.org"
    _refused_by_both(_with_rdata(data, wire.CNAME, b""))
    _refused_by_both(_with_rdata(data, wire.CNAME, b"\x01t\x00\x00"))


def test_an_soa_rdata_holds_exactly_two_names_and_five_numbers() -> None:
    """An SOA rdata with bytes after its five numbers, or cut inside them, is refused."""
    data = _answer(("@", "SOA", "ns. host. 7 1 2 3 4"), ("www", "A", "192.0.2.1"))
    assert wire.parse(data).records[0].serial == 7
    soa = b"\x00\x00" + (7).to_bytes(4, "big") + bytes(16)
    assert wire.parse(_with_rdata(data, wire.SOA, soa)).records[0].serial == 7
    _refused_by_both(_with_rdata(data, wire.SOA, soa + b"\x00"))
    _refused_by_both(_with_rdata(data, wire.SOA, soa[:-1]))


def _soa(serial: int, name: str = "example.test") -> wire.Record:
    return wire.Record(name, wire.SOA, 300, None, serial)


def test_a_transfer_starting_with_another_zones_soa_is_refused() -> None:
    """The first record must be the SOA of the zone asked for, not any SOA."""
    asm = wire.TransferAssembler("example.test", serial=None)
    reason = _reason(asm.feed, (_soa(5, "other.test"),))
    assert reason == "transfer of example.test does not start with its SOA"


def test_an_axfr_of_a_zone_holding_only_its_soa_is_complete() -> None:
    """SOA, SOA is a whole AXFR with no records, not the start of an IXFR."""
    asm = wire.TransferAssembler("example.test", serial=None)
    assert asm.feed((_soa(5), _soa(5)))
    assert (asm.mode, asm.full, asm.deltas) == ("full", [], [])


def test_every_framing_refusal_names_the_zone() -> None:
    """Records after the end, another closing serial, a lone SOA of another serial: zone named."""
    done = wire.TransferAssembler("example.test", serial=None)
    done.feed((_soa(5), _soa(5)))
    assert _reason(done.feed, (_soa(5),)) == "records after the end of the transfer of example.test"
    other_end = wire.TransferAssembler("example.test", serial=None)
    www = wire.Record("www.example.test", wire.A, 300, "192.0.2.1")
    reason = _reason(other_end.feed, (_soa(5), www, _soa(6)))
    assert reason == "transfer of example.test ends with a different serial"
    lone = wire.TransferAssembler("example.test", serial=4)
    reason = _reason(lone.feed, (_soa(2),))
    assert reason == "IXFR of example.test answered with a lone SOA of another serial"


def test_a_txt_of_bytes_that_are_not_utf8_is_read_not_refused() -> None:
    """A user's TXT holding arbitrary bytes does not make the whole transfer unreadable."""
    data = _with_rdata(_answer(("t", "TXT", '"x"')), wire.TXT, b"\x02\xffa")
    (record,) = wire.parse(data).records
    assert record.value == "\udcffa"


def test_a_txt_string_running_past_its_record_is_named() -> None:
    """A TXT length byte pointing past the rdata is refused with that reason and its owner."""
    data = _with_rdata(_answer(("t", "TXT", '"x"')), wire.TXT, b"\x05abc")
    assert _reason(wire.parse, data) == "TXT record t.example.test: TXT string runs past its record"


_HEADER_ONE_A = b"\x00\x01\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00"
_A_REST = b"\x00\x01\x00\x01\x00\x00\x00\x01\x00\x04\x01\x02\x03\x04"


def _one_a(owner: bytes) -> bytes:
    """A one-record answer whose owner name is ``owner``."""
    return _HEADER_ONE_A + owner + _A_REST


def _pointer(offset: int) -> bytes:
    return (0xC000 | offset).to_bytes(2, "big")


def _chain(hops: int) -> bytes:
    """An answer whose owner is reached through ``hops`` pointers, each to the one before.

    Question 0 is ``x.``; question i is a pointer to question i - 1; the owner
    points to the last question.
    """
    starts = [12 + 7 + 6 * (i - 1) if i else 12 for i in range(hops)]
    questions = b"\x01x\x00\x00\x01\x00\x01" + b"".join(
        _pointer(starts[i - 1]) + b"\x00\x01\x00\x01" for i in range(1, hops)
    )
    header = _HEADER_ONE_A[:4] + hops.to_bytes(2, "big") + _HEADER_ONE_A[6:]
    return header + questions + _pointer(starts[-1]) + _A_REST


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_HEADER_ONE_A + b"\x03ab", "label runs past the end of the message"),
        (_HEADER_ONE_A + b"\x01a", "name runs past the end of the message"),
        (_one_a(_pointer(12)), "forward compression pointer"),
        (_one_a(b"\x40" + b"a" * 64 + b"\x00"), "bad label type"),
    ],
    ids=["label", "name", "pointer", "label type"],
)
def test_each_malformed_name_is_refused_with_its_reason(data: bytes, reason: str) -> None:
    """A cut label or name, a pointer to itself and a 64-octet label each say what is wrong."""
    assert _reason(wire.parse, data) == reason


def test_a_63_octet_label_is_read() -> None:
    """The longest label DNS allows is a name, as dnspython reads it."""
    data = _one_a(b"\x3f" + b"a" * 63 + b"\x00")
    assert wire.parse(data).records[0].name == "a" * 63
    assert dns.message.from_wire(data).answer


def test_a_chain_of_pointers_is_bounded() -> None:
    """127 pointers in a row are followed; 128 are refused, bounding the work of one name."""
    assert wire.parse(_chain(127)).records[0].name == "x"
    assert _reason(wire.parse, _chain(128)) == "compression loop"


def test_pointers_past_offset_255_are_followed() -> None:
    """A compressed name pointing beyond the first 256 bytes reads as dnspython reads it."""
    rrs = [(f"filler{i}", "TXT", '"' + "f" * 40 + '"') for i in range(8)]
    data = _answer(*rrs, ("late.sub", "A", "192.0.2.1"), ("x.late.sub", "A", "192.0.2.2"))
    assert data.index(b"\x04late") > 255
    names = [r.name for r in wire.parse(data).records]
    assert names[-2:] == ["late.sub.example.test", "x.late.sub.example.test"]


def test_a_tsig_record_outside_the_additional_section_signs_nothing() -> None:
    """A TSIG as the last record of AUTHORITY (ARCOUNT 0) is no signature (fuzz found it)."""
    key = dns.tsig.Key("k.", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "hmac-sha256")
    signed = dns.message.make_query("example.test.", "SOA")
    signed.use_tsig(key)
    data = bytearray(signed.to_wire())
    assert data[10:12] == b"\x00\x01"
    data[8:12] = b"\x00\x01\x00\x00"  # NSCOUNT 1, ARCOUNT 0: the TSIG moves to AUTHORITY
    msg = wire.parse(bytes(data))
    assert msg.tsig is None
    decode_all(bytes(data))  # the verifier and dnspython's parser: only their own errors
