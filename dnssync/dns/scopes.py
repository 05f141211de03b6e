"""Which names a key may write in a zone: the apex, `*.zone`, a deeper name (``dnssync check``).

Technitium grants per policy row (an exact name, or `*.zone` which excludes the
apex; TECHNITIUM.md A.2 step 4); BIND per `update-policy` rule; Knot per ACL
owner match.  A user must learn "this key may write `*.home.tillo.ch` but not
the apex" before the first sync, not from a REFUSED in the middle of one.

The probe for one name is an UPDATE with no prerequisite (every server checks
prerequisites before permissions, so one would answer first) whose update
section only deletes records that cannot exist: a TXT, A, AAAA and CNAME with a
random value at a random label.  A server that permits it deletes nothing, so
the zone and its serial stay as they are; one that does not answers REFUSED
(Technitium, BIND, PowerDNS) or NOTAUTH/BADKEY (Knot).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import dns.rdata
import dns.update

from dnssync.dns.client import Client
from dnssync.errors import DNSError
from dnssync.names import to_dns

#: The record types dnssync writes; each gets one impossible delete.
_VALUES = {
    "TXT": '"dnssync-scope-probe-{token}"',
    "A": "192.0.2.{octet}",
    "AAAA": "2001:db8::{octet:x}",
    "CNAME": "dnssync-scope-probe-{token}.invalid.",
}


@dataclass(frozen=True, slots=True)
class Scope:
    """Whether the key may write at one kind of name of a zone."""

    scope: str  # "apex", "*.zone", "deeper"
    name: str  # the name probed
    allowed: bool
    detail: str  # the server's refusal, or what was checked


def probe_names(zone: str, token: str) -> list[tuple[str, str]]:
    """(scope, name) pairs: the apex, a child and a grandchild with random labels."""
    return [
        ("apex", zone),
        ("*.zone", f"dnssync-probe-{token}.{zone}"),
        ("deeper", f"dnssync-probe-{token}.sub-{token}.{zone}"),
    ]


def _message(zone: str, name: str, token: str) -> dns.update.UpdateMessage:
    msg = dns.update.UpdateMessage(to_dns(zone))
    octet = secrets.randbelow(200) + 20
    for type_, value in _VALUES.items():
        text = value.format(token=token, octet=octet)
        msg.delete(to_dns(name), dns.rdata.from_text("IN", type_, text))
    return msg


async def write_scopes(client: Client, zone: str) -> list[Scope]:
    """Probe the apex, `*.zone` and a deeper name of ``zone``; nothing is written."""
    token = secrets.token_hex(4)
    out = []
    for scope, name in probe_names(zone, token):
        try:
            await client.update(_message(zone, name, token), zone, what=f"scope probe at {name}")
        except DNSError as e:
            out.append(Scope(scope, name, False, e.detail))
        else:
            out.append(Scope(scope, name, True, "A, AAAA, CNAME and TXT may be written"))
    return out


def summary(scopes: list[Scope]) -> str:
    """One line: e.g. "may write *.zone, deeper; not the apex"."""
    yes = [s.scope for s in scopes if s.allowed]
    no = [s.scope for s in scopes if not s.allowed]
    parts = []
    if yes:
        parts.append("may write " + ", ".join(yes))
    if no:
        parts.append("not " + ", ".join("the apex" if s == "apex" else s for s in no))
    return "; ".join(parts)


async def scope_rows(client: Client, zones: tuple[str, ...]) -> list[tuple[str, str, bool, str]]:
    """``dnssync check`` rows (zone, check, passed, detail): one per zone, failed only when
    the key may write nowhere; refusals are named in the detail."""
    rows = []
    for zone in zones:
        scopes = await write_scopes(client, zone)
        detail = summary(scopes)
        refused = [s for s in scopes if not s.allowed]
        if refused:
            detail += f" ({refused[0].name}: {refused[0].detail})"
        rows.append((zone, "write scopes", any(s.allowed for s in scopes), detail))
    return rows
