"""Every decoder of outside bytes, fed one input: shared by the hypothesis tests and `make fuzz`.

`decode_all` runs bytes through what the RFC 2136 client applies to an answer (wire
parser, transfer assembler, TSIG verifier, dnspython's parser for queries) and swallows
only the errors the client translates (`wire.WireError`, dnspython's `DNSException`);
anything else propagates, and is a bug.
"""

from __future__ import annotations

import contextlib
import time

import dns.exception
import dns.message
import dns.rrset
import dns.tsig

from dnssync.dns import tsig, wire

KEY = dns.tsig.Key("k.", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "hmac-sha256")
ZONE = "example.test"
NOW = int(time.time())


def _seeds() -> list[bytes]:
    """Valid answers of every shape the client reads: SOA, AXFR, IXFR, signed, UPDATE."""
    q = dns.message.make_query(f"{ZONE}.", "AXFR")
    q.use_tsig(KEY)
    q.to_wire()
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text(f"{ZONE}.", 300, "IN", "SOA", "ns. h. 5 1 1 1 1"))
    for type_, value in [
        ("A", "192.0.2.1"),
        ("AAAA", "2001:db8::1"),
        ("TXT", '"heritage=external-dns" "two"'),
        ("CNAME", "t.example.org."),
        ("MX", "10 mx.example.org."),
    ]:
        r.answer.append(dns.rrset.from_text(f"{type_.lower()}.{ZONE}.", 60, "IN", type_, value))
    r.answer.append(dns.rrset.from_text(f"{ZONE}.", 300, "IN", "SOA", "ns. h. 5 1 1 1 1"))
    soa = dns.message.make_response(dns.message.make_query(f"{ZONE}.", "SOA"))
    soa.answer.append(dns.rrset.from_text(f"{ZONE}.", 300, "IN", "SOA", "ns. h. 7 1 1 1 1"))
    return [r.to_wire(), soa.to_wire(), dns.message.make_query(f"{ZONE}.", "SOA").to_wire()]


SEEDS = _seeds()
SIGNER = tsig.Signer(KEY)


def decode_all(data: bytes) -> None:
    """Run ``data`` through every DNS decoder the client applies to an answer."""
    try:
        msg = wire.parse(data)
    except wire.WireError:
        return
    for serial in (None, 3):
        with contextlib.suppress(wire.WireError):
            wire.TransferAssembler(ZONE, serial=serial).feed(msg.records)
    with contextlib.suppress(dns.exception.DNSException):
        tsig.Verifier(SIGNER, b"\x00" * 32).verify(data, msg.tsig, NOW)
    with contextlib.suppress(dns.exception.DNSException):
        dns.message.from_wire(data, keyring=False)
