"""Reverse (PTR) records derived from the A/AAAA endpoints, as external-dns's ``--create-ptr``.

Pure.  For every address target of a non-wildcard A/AAAA endpoint that asks
for one -- its object's ``record-type`` annotation says ``ptr``, or the
annotation is absent and the target's ``create_ptr`` is on -- the reverse
name (``2.49.168.192.in-addr.arpa``, nibbles under ``ip6.arpa``) gets a PTR
to the endpoint's name.  Names sharing one address share one PTR record set,
one value each; its TTL is the lowest asked for (unset if any is unset).
The records are :data:`~dnssync.model.DERIVED`: owned like the rest, their
ownership TXT without a ``resource`` label, exactly as external-dns writes
it; when the A/AAAA goes, so does the wish for its PTR, and the planner's
policy cleans it up.  Reverse names in no zone of the target are left out
(the target serves those reverse zones it is given).
"""

from __future__ import annotations

from collections.abc import Iterable

from dnssync.errors import InvalidName
from dnssync.model import DERIVED, Endpoint
from dnssync.names import reverse_name

_ADDRESS_TYPES = frozenset({"A", "AAAA"})


def wants_ptr(ep: Endpoint, default: bool) -> bool:
    """Whether ``ep`` asks for reverse records (external-dns's ``ptrSource`` rule)."""
    if ep.type not in _ADDRESS_TYPES or ep.name.startswith("*."):
        return False
    return default if ep.ptr is None else ep.ptr


def reverse_endpoints(endpoints: Iterable[Endpoint], default: bool) -> list[Endpoint]:
    """The PTR endpoints for ``endpoints``, one per reverse name, in name order."""
    names: dict[str, set[str]] = {}
    ttls: dict[str, list[int | None]] = {}
    for ep in endpoints:
        if not wants_ptr(ep, default):
            continue
        for address in ep.targets:
            try:
                name = reverse_name(address)
            except InvalidName:
                continue  # a bad target: the planner reports the A/AAAA itself
            names.setdefault(name, set()).add(ep.name)
            ttls.setdefault(name, []).append(ep.ttl)
    out: list[Endpoint] = []
    for name in sorted(names):
        asked = ttls[name]
        ttl = None if None in asked else min(t for t in asked if t is not None)
        out.append(Endpoint(name, "PTR", tuple(sorted(names[name])), DERIVED, ttl))
    return out
