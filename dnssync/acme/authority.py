"""Every authoritative server of a zone serves a presented value before Present succeeds.

A CA may ask any of the zone's authoritative servers; a secondary that has not
transferred the change yet fails the validation.  With ``acme.verify:
authoritative`` (the default) the solver waits here until each of them serves
the value, up to ``acme.propagation.timeout``, and otherwise fails naming the
servers that lag and why (no answer, or an answer without the value).

Which servers: the primary's ``nameservers`` when configured (``host:port``,
for sites whose public addresses are not the ones dnssync reaches), else the
zone's NS set as the primary serves it, each name's addresses from the
primary's glue, from the primary itself for in-zone names, else from the
system resolver, on port 53.  When none of those addresses answers for the
zone at all (NS names that only resolve outside, a test zone with a
placeholder NS) the set is taken as unreachable from here and only the
primary is checked, logged once per zone; a set of which some answer and
others do not is checked whole, so a stopped secondary is named.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

import dns.flags
import dns.rcode
import dns.rdatatype

from dnssync.config import AcmePropagationConfig
from dnssync.dns.client import Client, Timeouts
from dnssync.dns.transport import resolve
from dnssync.errors import DNSError, DNSTimeout
from dnssync.names import from_dns, in_zone

log = logging.getLogger(__name__)

NS_CACHE_SECONDS = 300.0  # NS sets change rarely; a new secondary is seen within this
_PROBE = Timeouts(query=1.0, attempts=1)
_RESOLVE_TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class NameServer:
    """One authoritative server to check: how errors name it, and where it answers."""

    label: str
    host: str
    port: int


class Authority:
    """Finds a zone's authoritative servers (cached) and waits until all serve a value."""

    def __init__(self, prop: AcmePropagationConfig, clock: Callable[[], float]) -> None:
        self.prop = prop
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[tuple[NameServer, ...], float]] = {}

    async def servers(
        self, primary: Client, zone: str, configured: tuple[tuple[str, int], ...]
    ) -> tuple[NameServer, ...]:
        """The servers that must serve a value of ``zone``; empty: the primary alone."""
        if configured:
            return tuple(NameServer(f"{h}:{p}", h, p) for h, p in configured)
        key = (primary.label, zone)
        cached = self._cache.get(key)
        now = self._clock()
        if cached is not None and cached[1] > now:
            return cached[0]
        found = await _ns_set(primary, zone)
        answering = await asyncio.gather(*(_answers_for(ns, zone) for ns in found))
        if found and not any(answering):
            log.info(
                "zone %s: none of its NS addresses (%s) answers from here; "
                "checking the primary only (set nameservers to check others)",
                zone,
                ", ".join(ns.label for ns in found),
            )
            found = ()
        self._cache[key] = (found, now + NS_CACHE_SECONDS)
        return found

    async def wait_served(
        self, servers: tuple[NameServer, ...], record: str, zone: str, value: str
    ) -> None:
        """Return once every server serves ``value`` at ``record``, else DNSTimeout naming
        the laggards with what each last answered."""
        lagging = {ns.label: "no answer yet" for ns in servers}

        async def one(ns: NameServer) -> None:
            timeouts = Timeouts(query=min(self.prop.interval * 2, 3.0), attempts=1)
            while True:
                try:
                    ip = await resolve(ns.host, ns.port, server=f"nameserver {ns.label}")
                    client = Client(ip, ns.port, timeouts=timeouts, label=f"nameserver {ns.label}")
                    if value in await client.txt_values(record, zone=zone):
                        del lagging[ns.label]
                        return
                    lagging[ns.label] = "answers without the value"
                except DNSError as e:
                    lagging[ns.label] = e.detail
                await asyncio.sleep(self.prop.interval)

        try:
            async with asyncio.timeout(self.prop.timeout):
                async with asyncio.TaskGroup() as tg:
                    for ns in servers:
                        tg.create_task(one(ns))
        except TimeoutError:
            names = "; ".join(f"{label} ({why})" for label, why in sorted(lagging.items()))
            raise DNSTimeout(
                f"the value at {record} is not served by every authoritative server within "
                f"{self.prop.timeout:g} s: lagging {names}",
                zone=zone,
            ) from None


async def _ns_set(primary: Client, zone: str) -> tuple[NameServer, ...]:
    """The zone's NS names with their addresses, port 53, as the primary serves them."""
    msg = await primary.query(zone, dns.rdatatype.NS, zone=zone)
    names = sorted(
        {
            from_dns(rd.target)
            for rrset in msg.answer
            if rrset.rdtype == dns.rdatatype.NS and from_dns(rrset.name) == zone
            for rd in rrset
        }
    )
    glue: dict[str, set[str]] = {}
    for rrset in msg.additional:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            glue.setdefault(from_dns(rrset.name), set()).update(rd.address for rd in rrset)
    out: list[NameServer] = []
    for name in names:
        addresses = glue.get(name) or await _addresses_of(primary, name, zone)
        out.extend(NameServer(f"{name} ({a})", a, 53) for a in sorted(addresses))
    return tuple(out)


async def _addresses_of(primary: Client, name: str, zone: str) -> set[str]:
    """A nameserver's addresses: from the primary for in-zone names, else the system."""
    if in_zone(name, zone):
        found: set[str] = set()
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            msg = await primary.query(name, rdtype, zone=zone)
            for rrset in msg.answer:
                if rrset.rdtype == rdtype:
                    found.update(rd.address for rd in rrset)
        return found
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(_RESOLVE_TIMEOUT):
            infos = await loop.getaddrinfo(name, 53, type=socket.SOCK_DGRAM)
    except (OSError, TimeoutError):
        return set()
    return {str(info[4][0]) for info in infos}


async def _answers_for(ns: NameServer, zone: str) -> bool:
    """Whether ``ns`` answers authoritatively for ``zone`` (one unsigned SOA query)."""
    try:
        msg = await Client(ns.host, ns.port, timeouts=_PROBE).query(zone, dns.rdatatype.SOA)
    except DNSError:
        return False
    return msg.rcode() == dns.rcode.NOERROR and bool(msg.flags & dns.flags.AA)
