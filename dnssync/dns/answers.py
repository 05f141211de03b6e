"""The one translator of DNS answers into dnssync errors: rcodes and TSIG failures (pure).

Every place that reads an rcode or checks a TSIG (the client's SOA, TXT,
transfer and UPDATE paths, the ACME solver's queries) raises through here, so
one answer always reads the same way: prerequisite rcodes become
:class:`~dnssync.errors.PrerequisiteFailed`, SERVFAIL
:class:`~dnssync.errors.ServerFailure` (retryable), other error rcodes
:class:`~dnssync.errors.ServerRefused` with a hint for the operation, and a
TSIG problem :class:`~dnssync.errors.TSIGFailure` naming its cause.  Texts
name the key's problem, never its secret.
"""

from __future__ import annotations

from collections.abc import Mapping

import dns.exception
import dns.rcode
import dns.tsig

from dnssync.errors import PrerequisiteFailed, ServerFailure, ServerRefused, TSIGFailure

PREREQUISITE_RCODES = {
    dns.rcode.YXDOMAIN: "a name that must be unused is in use",
    dns.rcode.YXRRSET: "a record set that must be absent exists",
    dns.rcode.NXDOMAIN: "a name that must exist does not",
    dns.rcode.NXRRSET: "a record set is not as it was read (changed by someone else?)",
}
TSIG_ERRORS: dict[type[dns.exception.DNSException], str] = {
    dns.tsig.PeerBadKey: "BADKEY",
    dns.tsig.PeerBadSignature: "BADSIG",
    dns.tsig.PeerBadTime: "BADTIME",
    dns.tsig.PeerBadTruncation: "BADTRUNC",
}
TSIG_HINTS = {
    "BADKEY": "the server does not know this key name/algorithm",
    "BADSIG": "the signature did not verify: wrong secret or algorithm",
    "BADTIME": "the clocks of this host and the server differ by more than the fudge",
    "BADTRUNC": "bad truncation",
}
UPDATE_HINTS = {
    "REFUSED": "the key may not change this name or type (update policy)",
    "NOTAUTH": "the server is not authoritative for the zone, or the key is not allowed",
    "NOTZONE": "a name is outside the zone",
    "SERVFAIL": "the server failed to apply it and rolled it back",
    "FORMERR": "the server could not parse the message",
    "NOTIMP": "the server does not implement this",
}
TRANSFER_HINTS = {
    "REFUSED": "transfers are not allowed for this key",
    "NOTAUTH": "the server is not authoritative or the key is not allowed",
    "NOTIMP": "the server does not implement this transfer",
    "SERVFAIL": "the server could not load the zone",
}
UNSIGNED_HINT = "the server did not accept our key (wrong name, secret or algorithm?)"


def rcode_name(rcode: int) -> str:
    try:
        return dns.rcode.to_text(dns.rcode.Rcode(rcode))
    except ValueError:
        return f"RCODE{rcode}"


def raise_for_rcode(
    rcode: int,
    what: str,
    *,
    server: str,
    zone: str,
    hints: Mapping[str, str] = UPDATE_HINTS,
    accept: frozenset[int] = frozenset({dns.rcode.NOERROR}),
) -> None:
    """Return if ``rcode`` is one of ``accept``; else raise its dnssync error."""
    if rcode in accept:
        return
    name = rcode_name(rcode)
    if rcode in PREREQUISITE_RCODES:
        raise PrerequisiteFailed(
            f"{what}: {name}: {PREREQUISITE_RCODES[dns.rcode.Rcode(rcode)]}",
            rcode=name,
            server=server,
            zone=zone,
        )
    cls = ServerFailure if rcode == dns.rcode.SERVFAIL else ServerRefused
    hint = hints.get(name, "")
    raise cls(
        f"{what}: {name}" + (f" ({hint})" if hint else ""), rcode=name, server=server, zone=zone
    )


def unsigned(what: str, rcode: int, *, server: str, zone: str) -> TSIGFailure:
    """An answer to a signed request came back unsigned (PowerDNS's bad-secret REFUSED)."""
    name = rcode_name(rcode)
    return TSIGFailure(
        f"{what}: {name} without a TSIG signature: {UNSIGNED_HINT}",
        rcode=name,
        tsig_error="UNSIGNED",
        server=server,
        zone=zone,
    )


def tsig_failure(
    e: dns.exception.DNSException, what: str, rcode: int, *, server: str, zone: str
) -> TSIGFailure:
    """The error for a TSIG verification that raised ``e`` on an answer with ``rcode``."""
    name = rcode_name(rcode)
    code = TSIG_ERRORS.get(type(e))
    if code is not None:
        text = f"{what}: {name}/{code}: {TSIG_HINTS[code]}"
    else:
        code = "BADSIG"
        text = f"{what}: {name}: the answer's TSIG did not verify ({type(e).__name__})"
    return TSIGFailure(text, rcode=name, tsig_error=code, server=server, zone=zone)
