"""The ACME DNS-01 solver: present and clean up one TXT value over RFC 2136.

One :class:`Solver` serves the webhook, the Challenge watcher and the CLI
hooks alike, so its checks hold for all three: it writes only at names whose
first label is ``_acme-challenge`` (or where a CNAME it resolved itself from
such a name points), and only values shaped like an RFC 8555 §8.4 digest --
never anything the sync side could read as an ownership record.  *Present*
adds one value at the record (TTL 60 by default) and is idempotent;
*clean-up* removes exactly that value and succeeds when it is already gone,
so apex and wildcard values coexist at one name.  Each write
is one UPDATE carrying the value and its ownership marker (records.py), with
the prerequisite "no CNAME at the record".

Where a record goes:

1. the configured zones, longest label-aware suffix match;
2. else each server configured without zones is asked: SOA queries walk up
   the labels until the server answers authoritatively (never guessed from
   the name's text);
3. a CNAME at the record (``_acme-challenge`` delegated elsewhere) shows up
   as YXRRSET on the guarded UPDATE; the solver asks the server for it and
   writes at the target instead, wherever the target's zone is.  A name in no
   zone we serve is looked up in ``acme.resolvers`` (if any) for such a CNAME.

After the server accepts a Present the solver queries the primary and
reports success only when the value is served, then (``acme.verify:
authoritative``, the default) waits until every authoritative server of the
zone serves it (authority.py).  Errors are those of
:mod:`dnssync.errors`, raised by the RFC 2136 client (rcode, TSIG error) or
here at the query edge; texts name the key, never its secret.

A hook process (``dnssync acme present``) is mostly start-up, so what only
some paths need is imported there: the stub resolver (``acme.resolvers``),
the zone reader (the watcher's marker scan), the SERVFAIL explainer.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.update

from dnssync import retry
from dnssync.acme import records
from dnssync.acme.authority import Authority
from dnssync.acme.payload import SolverOptions
from dnssync.acme.records import Held
from dnssync.config import AcmeConfig, AcmeServerConfig
from dnssync.dns import answers
from dnssync.dns.client import Client, Timeouts
from dnssync.errors import (
    ConnectionFailed,
    DNSError,
    DNSTimeout,
    InvalidInput,
    InvalidName,
    PrerequisiteFailed,
    ServerFailure,
    ServerRefused,
)
from dnssync.names import from_dns, in_zone, zone_for
from dnssync.retry import Backoff

if TYPE_CHECKING:
    from dnssync.dns.zones import ZoneReader

log = logging.getLogger(__name__)

MAX_HOPS = 8  # CNAMEs followed before giving up (loops, long chains)
ZONE_CACHE_SECONDS = 300.0  # zone cuts found by SOA queries change rarely
_VERIFY_WAIT = 2.0
_VERIFY_BACKOFF = Backoff(initial=0.02, cap=0.5)
NO_OPTIONS = SolverOptions()  # how long the primary may take to serve an accepted UPDATE
UPDATE_ATTEMPTS = 3  # of an idempotent UPDATE whose outcome is unknown (each bounded)
_ANSWER_RCODES = frozenset({dns.rcode.NOERROR, dns.rcode.NXDOMAIN})


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a value lives: configured server, zone, and the record after CNAMEs."""

    server: str
    zone: str
    record: str


def _rcode_error(msg: dns.message.Message, what: str, label: str, zone: str) -> None:
    answers.raise_for_rcode(
        msg.rcode(), what, server=label, zone=zone, hints={}, accept=_ANSWER_RCODES
    )


class _Server:
    """One configured primary: its RFC 2136 client and the queries we ask it."""

    def __init__(self, cfg: AcmeServerConfig, timeouts: Timeouts, gate: asyncio.Semaphore) -> None:
        self.cfg = cfg
        self.name = cfg.name
        key = cfg.key.tsig() if cfg.key is not None else None
        self.client = Client.for_server(cfg.server, key, timeouts=timeouts)
        self.label = self.client.label
        #: Set once the server proved it answers unsigned queries differently.
        self.signed_reads = key is None
        #: Shared by every configured server at this primary's address.
        self.gate = gate

    async def update(
        self,
        msg: dns.update.UpdateMessage | bytes,
        zone: str,
        *,
        what: str,
        idempotent: bool = False,
    ) -> None:
        """One UPDATE exchange, queued behind the primary's cap.

        A primary applies the UPDATEs of a zone one after the other (BIND
        syncs its journal twice per message): hundreds sent at once queue
        there instead, past the client timeout, and each comes back
        "outcome unknown".  Queued here, each exchange's timeout measures
        the server, not the queue.

        An ``idempotent`` message (Present's add, clean-up's delete: applied
        twice, it changes nothing more) is sent again when its outcome is
        unknown or its connection failed: a primary too busy to answer in
        time (a hundred hook processes at once on a small host) would
        otherwise fail the challenge, or leave its value behind.
        """
        async with self.gate:
            if not idempotent:
                await self.client.update(msg, zone, what=what)
                return
            await retry.call(
                lambda: self.client.update(msg, zone, what=what),
                attempts=UPDATE_ATTEMPTS,
                initial=0.2,
                cap=1.0,
                only=(DNSTimeout, ConnectionFailed),
            )

    async def query(
        self, qname: str, rdtype: dns.rdatatype.RdataType, zone: str = ""
    ) -> dns.message.Message:
        return await self.client.query(qname, rdtype, zone=zone)

    async def serves(self, qname: str, zone: str, value: str) -> bool:
        """Whether the primary serves ``value`` at ``qname``: Present's read-back.

        Asked unsigned first: TSIG costs as much as the query itself on a
        fast network (signed here, verified there, signed back, verified
        here), and this read only decides when to answer, never what to
        write -- a forged "served" costs a failed ACME validation, which
        cert-manager retries.  A server that refuses unsigned queries or
        answers them from another view (BIND views matched by key) is asked
        signed as well, and from then on only signed.
        """
        if self.signed_reads:
            return value in await self.txt(qname, zone)
        try:
            if value in await self.txt(qname, zone, signed=False):
                return True
        except ServerRefused:
            pass
        if value not in await self.txt(qname, zone):
            return False
        self.signed_reads = True
        log.info(
            "%s answers signed queries differently; reading back signed from now on", self.label
        )
        return True

    async def txt(self, qname: str, zone: str, *, signed: bool = True) -> frozenset[str]:
        return await self.client.txt_values(qname, zone=zone, signed=signed)

    async def cname(self, qname: str, zone: str) -> str | None:
        msg = await self.query(qname, dns.rdatatype.CNAME, zone)
        _rcode_error(msg, f"CNAME query for {qname}", self.label, zone)
        for rrset in msg.answer:
            if rrset.rdtype == dns.rdatatype.CNAME and from_dns(rrset.name) == qname:
                return from_dns(rrset[0].target)
        return None

    async def find_zone(self, record: str) -> str | None:
        """Ask this server for an SOA at each label, bottom up; the first
        authoritative answer names the zone.  Non-authoritative answers,
        REFUSED and NOTAUTH mean "not a zone here": go one label up."""
        labels = record.split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            msg = await self.query(candidate, dns.rdatatype.SOA, candidate)
            if msg.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                continue
            if not msg.flags & dns.flags.AA:
                continue
            for rrset in msg.answer:
                if rrset.rdtype == dns.rdatatype.SOA and from_dns(rrset.name) == candidate:
                    return candidate
            for rrset in msg.authority:
                if rrset.rdtype == dns.rdatatype.SOA:
                    apex = from_dns(rrset.name)
                    if in_zone(candidate, apex):
                        return apex
        return None


class Solver:
    """Presents and cleans up ACME TXT values on the configured servers."""

    def __init__(
        self,
        cfg: AcmeConfig,
        *,
        timeouts: Timeouts | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        #: The owner id our markers carry; None when markers are off.
        self.owner = cfg.owner_id if cfg.markers else None
        self._clock = clock
        caps: dict[tuple[str, int], int] = {}
        for s in cfg.servers:
            address = (s.server.host, s.server.port)
            caps[address] = min(
                caps.get(address, s.max_concurrent_updates), s.max_concurrent_updates
            )
        gates = {address: asyncio.Semaphore(cap) for address, cap in caps.items()}
        self._servers = {
            s.name: _Server(
                s,
                timeouts or Timeouts(query=s.server.timeout),
                gates[(s.server.host, s.server.port)],
            )
            for s in cfg.servers
        }
        self._zones: dict[tuple[str, str], tuple[str, float]] = {}
        self._readers: dict[tuple[str, str], ZoneReader] = {}
        self._authority = Authority(cfg.propagation, clock)
        #: Values this process presented and has not cleaned up: the
        #: watcher's knowledge of what we wrote when markers are off.
        self.written: dict[tuple[str, str], Placement] = {}

    # --- public ----------------------------------------------------------

    @property
    def ttl(self) -> int:
        return self.cfg.ttl

    async def present(
        self,
        record: str,
        value: str,
        *,
        options: SolverOptions = NO_OPTIONS,
        wait: bool | None = None,
    ) -> Placement:
        """Add ``value`` at ``record``; return once the primary serves it."""
        records.check_record(record)
        records.check_value(value)
        ttl = options.ttl or self.cfg.ttl
        placement = await self._write(
            record,
            options,
            lambda p: records.present_message(
                p.zone, p.record, value, ttl, owner=self.owner, msg_id=secrets.randbits(16)
            ),
            "present",
        )
        self.written[(placement.record, value)] = placement
        if self.cfg.verify != "off":
            await self._verify(placement, value, served=True)
        if wait is None:
            wait = self.cfg.verify == "authoritative" or self.cfg.propagation.wait
        if wait:
            await self._propagate(placement, value)
        log.info(
            "presented a value at %s (zone %s, server %s)",
            placement.record,
            placement.zone,
            placement.server,
        )
        return placement

    async def cleanup(
        self, record: str, value: str, *, options: SolverOptions = NO_OPTIONS
    ) -> Placement:
        """Remove exactly ``value`` at ``record``; fine when already gone."""
        records.check_record(record)
        records.check_value(value)
        placement = await self._write(
            record,
            options,
            lambda p: records.cleanup_message(
                p.zone, p.record, value, owner=self.owner, msg_id=secrets.randbits(16)
            ),
            "clean-up",
        )
        # No read-back here: a primary that answered NOERROR to a delete has
        # applied it (a value it never had is "deleted" too), and clean-up is
        # on nobody's critical path but cert-manager's finalizer.
        self.written.pop((placement.record, value), None)
        log.info(
            "cleaned up a value at %s (zone %s, server %s)",
            placement.record,
            placement.zone,
            placement.server,
        )
        return placement

    async def locate(self, record: str, *, options: SolverOptions = NO_OPTIONS) -> Placement:
        """The server and zone for ``record`` (CNAMEs in foreign zones followed)."""
        return await self._locate(record, options, origin=record)

    async def _locate(self, record: str, options: SolverOptions, *, origin: str) -> Placement:
        seen = {record}
        name = record
        for _ in range(MAX_HOPS):
            placement = await self._zone_of(name, options)
            if placement is not None:
                return placement
            target = await self._foreign_cname(name)
            if target is None:
                break
            if target in seen:
                raise InvalidName(f"CNAME loop at {origin}")
            seen.add(target)
            name = target
        zones = ", ".join(sorted(self._candidate_zones(options))) or "none"
        via = f" (reached through CNAMEs from {origin})" if name != origin else ""
        raise InvalidName(
            f"{name}{via} is outside every zone of the configured servers (configured zones: "
            f"{zones})" + ("" if self.cfg.resolvers else "; set acme.resolvers to follow a CNAME")
        )

    async def resolve(self, record: str, *, options: SolverOptions = NO_OPTIONS) -> Placement:
        """Like :meth:`locate`, and also through CNAMEs inside our zones.

        Costs a CNAME query per hop; the write path learns about such CNAMEs
        from the UPDATE's prerequisite instead, for free.
        """
        placement = await self.locate(record, options=options)
        seen = {placement.record}
        for _ in range(MAX_HOPS):
            server = self._servers[placement.server]
            target = await server.cname(placement.record, placement.zone)
            if target is None:
                return placement
            if target in seen:
                raise InvalidName(f"CNAME loop at {record}")
            seen.add(target)
            placement = await self._locate(target, options, origin=record)
        raise InvalidName(f"more than {MAX_HOPS} CNAMEs from {record}")

    async def marked_records(self) -> list[Placement]:
        """Records in the configured zones where markers of ours exist.

        Reads each zone through a cached :class:`ZoneReader` (SOA first; a
        transfer only when the serial moved): the key must be allowed AXFR.
        """
        if self.owner is None:
            return []
        from dnssync.dns.zones import ZoneReader

        out: list[Placement] = []
        prefix = records.MARKER_LABEL + "."
        for server in self._servers.values():
            for zone in server.cfg.zones:
                reader = self._readers.get((server.name, zone))
                if reader is None:
                    reader = self._readers[(server.name, zone)] = ZoneReader(server.client, zone)
                snapshot = (await reader.read()).snapshot
                for key, rrset in snapshot.rrsets.items():
                    if key.type != "TXT" or not key.name.startswith(prefix):
                        continue
                    if records.owned_values(rrset.values, self.owner):
                        out.append(Placement(server.name, zone, key.name[len(prefix) :]))
        return out

    async def held(self, placement: Placement) -> Held:
        """The TXT values and marker texts the primary has at the record."""
        server = self._servers[placement.server]
        if self.owner is None:
            values = await server.txt(placement.record, placement.zone)
            return Held(placement.record, values, frozenset())
        values, markers = await asyncio.gather(
            server.txt(placement.record, placement.zone),
            server.txt(records.marker_name(placement.record), placement.zone),
        )
        return Held(placement.record, values, markers)

    async def remove_stale(
        self, placement: Placement, values: Iterable[str], *, markers_read: Iterable[str]
    ) -> bool:
        """Remove values our markers name, if the markers are still as read.

        Returns False (nothing removed) when a concurrent writer changed them.
        """
        if self.owner is None:
            raise InvalidInput("stale values can only be proven ours with acme.markers on")
        msg = records.stale_message(
            placement.zone,
            placement.record,
            values,
            owner=self.owner,
            markers_read=markers_read,
        )
        server = self._servers[placement.server]
        try:
            await server.update(msg, placement.zone, what=f"stale clean-up at {placement.record}")
        except PrerequisiteFailed:
            return False
        for value in values:
            self.written.pop((placement.record, value), None)
        return True

    async def remove_unmarked(self, placement: Placement, value: str) -> None:
        """Remove a value this process wrote (markers off: the journal is the proof)."""
        if (placement.record, value) not in self.written:
            raise InvalidInput(f"value at {placement.record} was not written by this process")
        await self.cleanup(placement.record, value)

    # --- internals -------------------------------------------------------

    def _candidates(self, options: SolverOptions) -> list[_Server]:
        if options.server is None:
            return list(self._servers.values())
        server = self._servers.get(options.server)
        if server is None:
            known = ", ".join(sorted(self._servers))
            raise InvalidInput(
                f"config.server {options.server!r} is not configured (known: {known})"
            )
        return [server]

    def _candidate_zones(self, options: SolverOptions) -> set[str]:
        return {z for s in self._candidates(options) for z in s.cfg.zones}

    async def _zone_of(self, record: str, options: SolverOptions) -> Placement | None:
        candidates = self._candidates(options)
        by_zone = {z: s for s in candidates for z in s.cfg.zones}
        zone = zone_for(record, by_zone)
        if zone is not None:
            return Placement(by_zone[zone].name, zone, record)
        for server in candidates:
            if server.cfg.zones:
                continue
            found = await self._discover(server, record)
            if found is not None:
                return Placement(server.name, found, record)
        return None

    async def _discover(self, server: _Server, record: str) -> str | None:
        now = self._clock()
        cached = self._zones.get((server.name, record))
        if cached is not None and cached[1] > now:
            return cached[0]
        zone = await server.find_zone(record)
        if zone is not None:
            self._zones[(server.name, record)] = (zone, now + ZONE_CACHE_SECONDS)
        return zone

    async def _write(
        self,
        record: str,
        options: SolverOptions,
        build: Callable[[Placement], dns.update.UpdateMessage | bytes],
        what: str,
    ) -> Placement:
        placement = await self.locate(record, options=options)
        seen = {placement.record}
        for _ in range(MAX_HOPS):
            server = self._servers[placement.server]
            try:
                await server.update(
                    build(placement),
                    placement.zone,
                    what=f"{what} at {placement.record}",
                    idempotent=True,
                )
                return placement
            except PrerequisiteFailed as e:
                if e.rcode != "YXRRSET":
                    raise
            except ServerFailure as e:
                from dnssync.dns.dnssec import explain_servfail

                raise await explain_servfail(server.client, placement.zone, e) from None
            # A CNAME sits at the record: write where it points.
            target = await server.cname(placement.record, placement.zone)
            if target is None:
                continue  # the CNAME went away meanwhile: try again
            if target in seen:
                raise InvalidName(f"CNAME loop at {record}")
            seen.add(target)
            log.info("%s: %s is a CNAME to %s; following it", what, placement.record, target)
            placement = await self._locate(target, options, origin=record)
        raise InvalidName(f"more than {MAX_HOPS} CNAMEs from {record}")

    async def _verify(self, placement: Placement, value: str, *, served: bool) -> None:
        server = self._servers[placement.server]
        deadline = self._clock() + _VERIFY_WAIT
        polls = 0
        while True:
            if await server.serves(placement.record, placement.zone, value) == served:
                return
            if self._clock() >= deadline:
                state = "does not serve the value" if served else "still serves the value"
                raise DNSError(
                    f"the primary {state} at {placement.record} after accepting the UPDATE",
                    server=server.label,
                    zone=placement.zone,
                )
            polls += 1
            await asyncio.sleep(_VERIFY_BACKOFF.delay(polls))

    async def _propagate(self, placement: Placement, value: str) -> None:
        """Wait until every authoritative server of the zone serves ``value``."""
        server = self._servers[placement.server]
        servers = await self._authority.servers(
            server.client, placement.zone, server.cfg.nameserver_addresses()
        )
        if servers:
            await self._authority.wait_served(servers, placement.record, placement.zone, value)

    async def _foreign_cname(self, name: str) -> str | None:
        """A CNAME at ``name`` from the configured resolvers (names in no zone of ours)."""
        if not self.cfg.resolvers:
            return None
        import dns.asyncresolver
        import dns.nameserver
        import dns.resolver

        system = "system" in self.cfg.resolvers
        resolver = dns.asyncresolver.Resolver(configure=system)
        if not system:
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(host, port)
                for host, port in self.cfg.resolver_addresses()
            ]
        resolver.lifetime = 5.0
        try:
            answer = await resolver.resolve(name, "CNAME", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return None
        except (dns.resolver.LifetimeTimeout, dns.exception.Timeout):
            raise DNSTimeout(f"CNAME lookup of {name} timed out", server="resolvers") from None
        except dns.exception.DNSException as e:
            raise ConnectionFailed(
                f"CNAME lookup of {name} failed: {type(e).__name__}", server="resolvers"
            ) from None
        for rrset in answer.response.answer:
            if rrset.rdtype == dns.rdatatype.CNAME and from_dns(rrset.name) == name:
                return from_dns(rrset[0].target)
        return None
