"""The fast transfer parser agrees with dnspython and follows AXFR/IXFR framing."""

from __future__ import annotations

import time
from typing import Any

import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnssync.dns import tsig, wire
from dnssync.names import from_dns

ORIGIN = dns.name.from_text("example.test.")
KEY = dns.tsig.Key("k.", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "hmac-sha256")

labels = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
records = st.lists(
    st.tuples(
        st.lists(labels, min_size=1, max_size=3),
        st.sampled_from(["A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA", "PTR", "HINFO"]),
        st.integers(0, 2**31 - 1),
        st.integers(0, 2**32 - 1),
    ),
    max_size=40,
)


def _rdata_text(type_: str, seed: int) -> str:
    return {
        "A": f"10.{seed % 256}.{seed // 256 % 256}.{seed // 65536 % 256}",
        "AAAA": f"2001:db8::{seed % 65536:x}",
        "CNAME": f"t{seed}.example.org.",
        "TXT": f'"v{seed}" "part two"' if seed % 2 else f'"v{seed} \\"quoted\\" one string"',
        "MX": f"10 mx{seed}.example.org.",
        "NS": f"ns{seed}.example.org.",
        "SRV": f"{seed % 7} 5 {seed % 65536} sip{seed}.example.org.",
        "CAA": f'{128 * (seed % 2)} issue "ca{seed}.example.net; account=\\"x\\""',
        "PTR": f"host{seed}.example.org.",
        "HINFO": '"cpu" "os"',
    }[type_]


def _expected_value(type_: str, rd: Any) -> str | None:
    """dnssync's canonical text (dnssync.rtypes), computed from dnspython's parse."""
    if type_ == "TXT":
        joined = b"".join(rd.strings)
        if len(rd.strings) == 1 and not joined.startswith(b'"'):
            return joined.decode()
        return str(rd.to_text())
    if type_ in {"A", "AAAA"}:
        return str(rd.address)
    if type_ in {"CNAME", "NS", "PTR"}:
        return from_dns(rd.target)
    if type_ == "MX":
        return f"{rd.preference} {from_dns(rd.exchange)}"
    if type_ == "SRV":
        return f"{rd.priority} {rd.weight} {rd.port} {from_dns(rd.target)}"
    if type_ == "CAA":
        return str(rd.to_text())
    return None


def _response(rrs: list[tuple[list[str], str, int, int]]) -> dns.message.Message:
    q = dns.message.make_query(ORIGIN, dns.rdatatype.AXFR)
    r = dns.message.make_response(q)
    for lbls, type_, ttl, seed in rrs:
        name = dns.name.from_text(".".join(lbls), ORIGIN)
        r.answer.append(dns.rrset.from_text(name, ttl, "IN", type_, _rdata_text(type_, seed)))
    return r


@settings(max_examples=200, deadline=None)
@given(records)
def test_parse_matches_dnspython(rrs: list[tuple[list[str], str, int, int]]) -> None:
    """Names, types, TTLs and values of every record match dnspython's parse."""
    data = _response(rrs).to_wire()
    ours = wire.parse(data)
    theirs = dns.message.from_wire(data, one_rr_per_rrset=True)
    expected = []
    for rrset in theirs.answer:
        for rd in rrset:
            type_ = dns.rdatatype.to_text(rrset.rdtype)
            value = _expected_value(type_, rd)
            expected.append((from_dns(rrset.name), rrset.rdtype, rrset.ttl, value))
    got = [(r.name, r.rdtype, r.ttl, r.value) for r in ours.records]
    assert got == expected


def test_rejects_truncated_message() -> None:
    """A message cut short is a WireError, never a partial record list."""
    data = _response([(["www"], "A", 300, 1), (["mail"], "TXT", 300, 2)]).to_wire()
    for cut in (5, 20, len(data) - 1):
        with pytest.raises(wire.WireError):
            wire.parse(data[:cut])


def test_rejects_compression_loop() -> None:
    """A name pointing at itself is refused instead of looping forever."""
    header = b"\x00\x01\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00"
    with pytest.raises(wire.WireError):
        wire.parse(header + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x01\x00\x04\x01\x02\x03\x04")


def _soa(serial: int) -> wire.Record:
    return wire.Record("example.test", wire.SOA, 300, None, serial)


def _a(name: str, value: str) -> wire.Record:
    return wire.Record(name, wire.A, 300, value)


def test_assembler_full_transfer() -> None:
    """An AXFR ends at the closing SOA and keeps everything between."""
    asm = wire.TransferAssembler("example.test", serial=None)
    assert not asm.feed((_soa(5), _a("a.example.test", "192.0.2.1")))
    assert asm.feed((_a("b.example.test", "192.0.2.2"), _soa(5)))
    assert asm.mode == "full"
    assert [r.name for r in asm.full] == ["a.example.test", "b.example.test"]


def test_assembler_incremental_transfer() -> None:
    """An IXFR yields its delete/add sequences; serial jumps are allowed."""
    asm = wire.TransferAssembler("example.test", serial=3)
    done = asm.feed(
        (
            _soa(9),
            _soa(3),
            _a("old.example.test", "192.0.2.1"),
            _soa(7),
            _a("new.example.test", "192.0.2.2"),
            _soa(7),
            _soa(9),
            _a("newer.example.test", "192.0.2.3"),
            _soa(9),
        )
    )
    assert done
    assert asm.mode == "incremental"
    assert [([r.name for r in d], [r.name for r in a]) for d, a in asm.deltas] == [
        (["old.example.test"], ["new.example.test"]),
        ([], ["newer.example.test"]),
    ]


def test_assembler_up_to_date() -> None:
    """A lone SOA with our serial means nothing changed."""
    asm = wire.TransferAssembler("example.test", serial=4)
    assert asm.feed((_soa(4),))
    assert asm.mode == "uptodate"


def test_assembler_lone_soa_with_other_serial_fails() -> None:
    """A lone SOA of another serial cannot be diffed: the caller must AXFR."""
    asm = wire.TransferAssembler("example.test", serial=4)
    with pytest.raises(wire.WireError):
        asm.feed((_soa(2),))


def test_assembler_rejects_wrong_start() -> None:
    """A transfer not starting with the zone's SOA is refused."""
    asm = wire.TransferAssembler("example.test", serial=None)
    with pytest.raises(wire.WireError):
        asm.feed((_a("a.example.test", "192.0.2.1"),))


def test_tsig_verifier_accepts_signed_and_rejects_tampered() -> None:
    """A signed answer verifies; one flipped byte fails verification."""
    q = dns.message.make_query(ORIGIN, dns.rdatatype.AXFR)
    q.use_tsig(KEY)
    qwire = q.to_wire()
    assert q.mac
    r = dns.message.make_response(q)
    r.use_tsig(KEY)
    r.answer.append(dns.rrset.from_text(ORIGIN, 300, "IN", "SOA", ". . 1 2 3 4 5"))
    data = r.to_wire()
    msg = wire.parse(data)
    v = tsig.Verifier(tsig.Signer(KEY), q.mac)
    v.verify(data, msg.tsig, int(time.time()))
    assert v.last_signed
    refresh = data.index(b"\x00\x00\x00\x02\x00\x00\x00\x03")
    tampered = bytearray(data)
    tampered[refresh + 3] ^= 1  # SOA refresh 2 -> 3: still well-formed
    v2 = tsig.Verifier(tsig.Signer(KEY), q.mac)
    with pytest.raises(dns.tsig.BadSignature):
        v2.verify(bytes(tampered), wire.parse(bytes(tampered)).tsig, int(time.time()))
    assert qwire
