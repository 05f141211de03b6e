"""Async RFC 2136 client: SOA queries, signed zone transfers and UPDATEs.

The operations, on top of two layers that know nothing of each other: the
pure codec (:mod:`.wire` parses answers, :mod:`.tsig` signs and verifies,
:mod:`.updates` encodes UPDATEs) and the transport (:mod:`.transport`: UDP,
TCP, kept-alive connections, host lookup).  Answers are translated into
:mod:`dnssync.errors` by :mod:`.answers`, the one rcode/TSIG mapper.

Every exchange is TSIG-signed when a key is configured; queries use UDP (TCP
when truncated), transfers and updates always TCP.  **Each configured timeout
bounds a whole operation, retries included**: ``Timeouts.query`` (the
server's ``timeout``) one query or one UPDATE, ``Timeouts.transfer`` one
transfer, and inside a transfer no gap between two messages may exceed
``Timeouts.query``.  Retries (:func:`dnssync.retry.attempts`) apply only to
exchanges whose repetition is harmless: queries, transfers, and an UPDATE
whose connection failed before anything was sent.  An UPDATE that timed out
has an unknown outcome and is never re-sent blindly (see
:class:`~dnssync.errors.DNSTimeout`).

Several primaries of one target (``server.hosts``) are tried in order, a
failed one passed over for a while (:class:`.transport.Hosts`); an UPDATE
moves to the next host only while nothing was sent; with ``server.read:
round-robin`` zone reads start on each host in turn.  With ``server.tls``
every exchange goes over TLS (XoT, RFC 9103), queries included.

With ``server.gss`` the exchanges are signed by a GSS-TSIG context (RFC
3645) instead of a key: one per host, negotiated (:mod:`.gss`) before its
first use, again shortly before it expires, and again when the server no
longer knows it (BADKEY: nothing was applied, so an UPDATE may go again).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import dns.exception
import dns.message
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update

from dnssync import retry
from dnssync.config import ServerConfig
from dnssync.dns import answers, tsig, updates, wire
from dnssync.dns.answers import rcode_name
from dnssync.dns.transport import (
    TLS,
    Connection,
    Host,
    HostHealth,
    Hosts,
    Pool,
    TLSConnection,
    datagram_exchange,
    resolve,
    tls_context,
)
from dnssync.errors import (
    ConfigError,
    ConnectionFailed,
    DNSError,
    DNSTimeout,
    GSSFailure,
    MalformedResponse,
    ServerRefused,
    TransferFailed,
    TSIGFailure,
)
from dnssync.names import to_dns

if TYPE_CHECKING:
    from dnssync.dns.gss import GSS, Context

__all__ = ["Client", "Timeouts", "Transfer", "rcode_name"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_NXDOMAIN_OK = frozenset({dns.rcode.NOERROR, dns.rcode.NXDOMAIN})


class _Unread(Exception):
    """A kept connection closed before any byte of the answer."""


class _UnknownContext(Exception):
    """The server answered BADKEY to our GSS-TSIG context: it was not applied."""

    def __init__(self, error: TSIGFailure) -> None:
        self.error = error


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Bounds for whole operations, so a silent server gives an error, not a hang."""

    query: float = 3.0  # one query or UPDATE, retries included; also a transfer's message gap
    transfer: float = 120.0  # one transfer, retries included
    attempts: int = 3  # tries of a repeatable exchange, within its bound


@dataclass(frozen=True, slots=True)
class Transfer:
    """A completed, verified transfer."""

    kind: str  # "axfr", "ixfr" or "uptodate"
    serial: int
    full: list[wire.Record]
    deltas: list[tuple[list[wire.Record], list[wire.Record]]]
    messages: int
    nbytes: int


def server_tls(cfg: ServerConfig) -> TLS | None:
    """The TLS settings of a configured server (its CA file read here, once)."""
    if cfg.tls is None:
        return None
    ca = str(cfg.tls.ca_file) if cfg.tls.ca_file else None
    try:
        context = tls_context(ca, verify=cfg.tls.verify)
    except (OSError, ValueError) as e:
        raise ConfigError(f"server.tls.ca_file {ca}: {e}") from None
    return TLS(context, cfg.tls.server_name)


def _fresh(context: Context) -> bool:
    """Whether a context is good for a while yet: renewed within its last fifth (60 s
    at most), so no exchange starts on a context about to expire."""
    return context.until - time.monotonic() > min(60.0, context.lifetime / 5)


def server_gss(cfg: ServerConfig) -> GSS | None:
    """The GSS-TSIG settings of a configured server (None: it signs with a key, or not)."""
    if cfg.gss is None:
        return None
    from dnssync.dns.gss import GSS  # GSS-API is loaded only when configured

    g = cfg.gss
    keytab = str(g.keytab) if g.keytab is not None else None
    return GSS(g.principal, keytab, g.ccache, g.service, g.lifetime)


class Client:
    """One authoritative server (or several primaries of it), one TSIG key."""

    def __init__(
        self,
        host: str,
        port: int = 53,
        *,
        hosts: Sequence[tuple[str, int]] = (),
        key: dns.tsig.Key | None = None,
        timeouts: Timeouts = Timeouts(),
        label: str = "",
        tls: TLS | None = None,
        spread_reads: bool = False,
        gss: GSS | None = None,
    ) -> None:
        self.tls = tls  # DNS over TLS for everything: queries, transfers, updates
        #: Primaries in failover order (``hosts``, else ``host``:``port`` alone);
        #: with ``spread_reads`` zone reads take them in turn.
        self.hosts = Hosts(list(hosts) or [(host, port)], spread=spread_reads)
        self.host, self.port = self.hosts.first.host, self.hosts.first.port
        self.key = key
        self.signer = tsig.Signer(key) if key is not None else None
        self.timeouts = timeouts
        #: GSS-TSIG instead of ``key``: the principal's credentials, a context per host.
        self.gss = gss
        self._contexts: dict[Host, Context] = {}
        self._negotiating: dict[Host, asyncio.Lock] = {}
        self.negotiations = 0  # contexts made so far (tests and logs)
        key_part = f", key {key.name.to_text(omit_final_dot=True)}" if key else ""
        if gss is not None:
            # The principal is who the server's policy judges: every error names it.
            key_part = f", gss-tsig {gss.principal}"
            label = f"{label}{key_part}" if label else ""
        names = ", ".join(h.name for h in self.hosts)
        self.label = label or f"server {'tls://' if tls else ''}{names}{key_part}"

    @classmethod
    def for_server(
        cls,
        server: ServerConfig,
        key: dns.tsig.Key | None,
        *,
        timeouts: Timeouts | None = None,
        label: str = "",
        gss: bool = True,
    ) -> Client:
        """The client of a configured server: its hosts, TLS, how reads spread, and its
        GSS-TSIG settings unless ``gss`` is off (a key of its own, an unsigned probe)."""
        hosts = server.addresses()
        return cls(
            hosts[0][0],
            hosts[0][1],
            hosts=hosts,
            key=key,
            timeouts=timeouts or Timeouts(query=server.timeout, transfer=server.transfer_timeout),
            label=label,
            tls=server_tls(server),
            spread_reads=server.read == "round-robin",
            gss=server_gss(server) if gss else None,
        )

    @property
    def pool(self) -> Pool:
        """UPDATE connections kept for reuse, to the host in use."""
        return self.hosts.pick().pool

    def health(self) -> tuple[HostHealth, ...]:
        """Per host: up or passed over, failures, switches, last error (for metrics)."""
        return self.hosts.health()

    def read_start(self) -> Host | None:
        """The host one zone read (SOA and transfer) starts on: the next in turn with
        ``spread_reads``, else None (the first host up, as writes go)."""
        return self.hosts.reading()

    # --- helpers ---------------------------------------------------------

    async def _bounded(
        self,
        limit: float,
        what: str,
        zone: str,
        op: Callable[[Host], Awaitable[T]],
        *,
        split: bool = True,
        start: Host | None = None,
    ) -> T:
        """``op`` on the host in use, with its retries (on the next host after a failure),
        all within ``limit`` seconds: one deadline.  With several hosts and ``split``,
        one try gets an equal share of it, so a silent host leaves time for the next."""
        share = limit / len(self.hosts) if split and len(self.hosts) > 1 else limit

        tried: list[Host] = []

        async def on_host() -> T:
            host = self.hosts.pick(tried, start)
            tried.append(host)
            try:
                async with asyncio.timeout(share):
                    result = await op(host)
            except TimeoutError:
                self.hosts.failed(host, f"no answer within {share:g} s")
                raise DNSTimeout(
                    f"{what}: no answer from {host.name} within {share:g} s",
                    server=self.label,
                    zone=zone,
                ) from None
            except (ConnectionFailed, DNSTimeout) as e:  # the host, not what it said
                self.hosts.failed(host, e.detail)
                raise
            except TSIGFailure as e:
                if not self._unknown_context(host, e):
                    raise
                raise GSSFailure(
                    f"{what}: the server no longer knows our GSS-TSIG context ({e.detail})",
                    server=self.label,
                    zone=zone,
                ) from None
            self.hosts.ok(host)
            return result

        try:
            async with asyncio.timeout(limit):
                # Each further host gets its try too: a dead one fails fast.
                tries = self.timeouts.attempts + len(self.hosts) - 1
                return await retry.attempts(on_host, attempts=tries)
        except TimeoutError:
            raise DNSTimeout(
                f"{what}: no answer within {limit:g} s", server=self.label, zone=zone
            ) from None

    async def _connect(self, host: Host, zone: str) -> Connection:
        address = await resolve(host.host, host.port, server=self.label, zone=zone)
        if self.tls is not None:
            return await TLSConnection.open_tls(
                address, host.port, self.tls, host=host.host, server=self.label, zone=zone
            )
        return await Connection.open(address, host.port, server=self.label, zone=zone)

    async def _stream_exchange(
        self, host: Host, data: bytes, zone: str, what: str, *, kept_only: bool = False
    ) -> bytes | None:
        """One query and its answer over a stream, on a kept connection when there is
        one (a TLS handshake costs ~100 times the query); a kept one found closed is
        replaced.  ``kept_only``: None instead of opening a connection."""
        for _ in range(2):
            conn = host.pool.take()
            reused = conn is not None
            if conn is None:
                if kept_only:
                    return None
                conn = await self._connect(host, zone)
            try:
                await self._send(conn, data, zone, what)
                answer = await conn.read_message(self.timeouts.query, server=self.label, zone=zone)
            except ConnectionFailed:
                conn.close()
                if reused and not conn.received:
                    continue  # a query may go again: it changes nothing
                raise
            except BaseException:
                conn.close()
                raise
            if answer[:2] == data[:2]:
                host.pool.give(conn)
            else:  # out of step (a stale answer): the caller reports it; nobody reuses it
                conn.close()
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, conn: Connection, data: bytes, zone: str, what: str) -> None:
        try:
            await conn.send_message(data)
        except OSError as e:
            raise ConnectionFailed(
                f"{what}: send failed: {e}", server=self.label, zone=zone
            ) from None

    def _parse(
        self, data: bytes, msg_id: int, zone: str, what: str, error: type[DNSError]
    ) -> wire.Message:
        """One answer parsed and matched to its query's id; ``error`` says what is wrong
        (a malformed answer to a query, or a transfer that fails whole)."""
        try:
            msg = wire.parse(data)
        except wire.WireError as e:
            raise error(f"{what}: malformed answer: {e}", server=self.label, zone=zone) from None
        if msg.id != msg_id:
            raise error(f"{what}: answer id does not match the query", server=self.label, zone=zone)
        return msg

    def _verify(
        self,
        msg_id: int,
        mac: bytes,
        answer: bytes,
        zone: str,
        *,
        what: str,
        signer: tsig.Signer | None,
    ) -> wire.Message:
        """Parse the answer, check its id and (if we signed) its TSIG; translate what is wrong."""
        msg = self._parse(answer, msg_id, zone, what, MalformedResponse)
        if signer is None:
            return msg
        if msg.tsig is None:
            raise answers.unsigned(what, msg.rcode, server=self.label, zone=zone)
        try:
            tsig.Verifier(signer, mac).verify(answer, msg.tsig, int(time.time()))
        except dns.exception.DNSException as e:
            raise answers.tsig_failure(e, what, msg.rcode, server=self.label, zone=zone) from None
        return msg

    @staticmethod
    def sign(data: bytes, signer: tsig.Signer | None) -> tuple[bytes, bytes]:
        """Append a TSIG record to an unsigned message; return it and its MAC."""
        if signer is None:
            return data, b""
        return signer.sign(data, int(time.time()))

    # --- GSS-TSIG contexts -----------------------------------------------

    async def _signer_for(self, host: Host, zone: str) -> tsig.Signer | None:
        """What signs for ``host``: the key, or its GSS-TSIG context (made or renewed
        first when it has none, or it expires soon; one negotiation per host at a time)."""
        if self.gss is None:
            return self.signer
        context = self._contexts.get(host)
        if context is not None and _fresh(context):
            return context.signer
        async with self._negotiating.setdefault(host, asyncio.Lock()):
            context = self._contexts.get(host)
            if context is None or not _fresh(context):
                context = await self._negotiate(host, zone)
                self._contexts[host] = context
        return context.signer

    async def _negotiate(self, host: Host, zone: str) -> Context:
        from dnssync.dns import gss as gss_tsig  # GSS-API is loaded only when used

        assert self.gss is not None

        async def exchange(query: bytes) -> bytes:
            conn = await self._connect(host, zone)
            try:
                await self._send(conn, query, zone, "TKEY query")
                answer = await conn.read_message(self.timeouts.query, server=self.label, zone=zone)
            finally:
                conn.close()
            if answer[:2] != query[:2]:
                raise MalformedResponse(
                    "TKEY query: answer id does not match the query", server=self.label, zone=zone
                )
            return answer

        self.negotiations += 1
        context = await gss_tsig.negotiate(
            self.gss, host.host, exchange, server=self.label, zone=zone
        )
        log.info(
            "GSS-TSIG: context with %s for %s, good for %.0f s",
            host.name,
            self.gss.principal,
            context.lifetime,
        )
        return context

    def _unknown_context(self, host: Host, e: TSIGFailure) -> bool:
        """Whether ``e`` says the server forgot ``host``'s context (then it is dropped)."""
        if self.gss is None or e.tsig_error != "BADKEY":
            return False
        self._contexts.pop(host, None)
        return True

    # --- queries ---------------------------------------------------------

    async def soa_serial(self, zone: str, *, start: Host | None = None) -> int:
        """The zone's current serial, from one (signed) SOA query (to ``start`` first)."""
        return await self._bounded(
            self.timeouts.query,
            "SOA query",
            zone,
            lambda h: self._soa_serial(h, zone),
            start=start,
        )

    async def _soa_serial(self, host: Host, zone: str) -> int:
        _, msg = await self._ask(host, zone, dns.rdatatype.SOA, zone)
        answers.raise_for_rcode(msg.rcode, "SOA query", server=self.label, zone=zone)
        for r in msg.records:
            if r.rdtype == wire.SOA and r.name == zone:
                return r.serial
        text = "SOA query: no SOA for the zone in the answer (is it the zone apex?)"
        if msg.records:
            raise ServerRefused(text, rcode="NOERROR", server=self.label, zone=zone)
        raise TransferFailed(text, server=self.label, zone=zone)

    async def query(
        self, qname: str, rdtype: dns.rdatatype.RdataType, *, zone: str = ""
    ) -> dns.message.Message:
        """One non-recursive query (UDP, TCP on truncation), signed with our key
        when we have one, as a dnspython message.

        The rcode is left to the caller (NXDOMAIN is an answer, not an error).
        """
        return await self._bounded(
            self.timeouts.query,
            f"{rdtype.name} query for {qname}",
            zone,
            lambda h: self._query(h, qname, rdtype, zone),
        )

    async def _query(
        self, host: Host, qname: str, rdtype: dns.rdatatype.RdataType, zone: str
    ) -> dns.message.Message:
        answer, msg = await self._ask(host, qname, rdtype, zone)
        if msg.tsig is not None:  # verified: dnspython gets the message without it
            arcount = int.from_bytes(answer[10:12], "big") - 1
            answer = answer[:10] + arcount.to_bytes(2, "big") + answer[12 : msg.tsig.start]
        try:
            return dns.message.from_wire(answer)
        except dns.exception.DNSException as e:
            what = f"{rdtype.name} query for {qname}"
            raise MalformedResponse(
                f"{what}: malformed answer ({e})", server=self.label, zone=zone
            ) from None

    async def _ask(
        self,
        host: Host,
        qname: str,
        rdtype: dns.rdatatype.RdataType,
        zone: str,
        *,
        signed: bool = True,
    ) -> tuple[bytes, wire.Message]:
        """One query on plain sockets (a kept TCP connection, else UDP and TCP
        when truncated; TLS when configured); the answer's bytes and parse, its id
        and TSIG checked.  ``signed=False`` asks
        without TSIG even when we have a key.  The caller bounds it in time."""
        what = f"{rdtype.name} query for {qname}"
        # RD clear: authoritative servers only.
        msg_id = secrets.randbits(16)
        unsigned = updates.query_wire(qname, rdtype, msg_id=msg_id)
        signer = await self._signer_for(host, zone) if signed else None
        data, mac = self.sign(unsigned, signer)
        # On a connection an UPDATE left open, when there is one (ACME's
        # read-back right after its write): no socket to open, and none to
        # register with the event loop and drop again for one answer.
        if self.tls is not None or host.pool.ready():
            kept = await self._stream_exchange(host, data, zone, what, kept_only=not self.tls)
            if kept is not None:
                return kept, self._verify(msg_id, mac, kept, zone, what=what, signer=signer)
        address = await resolve(host.host, host.port, server=self.label, zone=zone)
        try:
            answer = await datagram_exchange(address, host.port, data)
        except EOFError:
            raise ConnectionFailed(
                f"{what}: connection closed mid-answer", server=self.label, zone=zone
            ) from None
        except OSError as e:
            raise ConnectionFailed(
                f"{what} failed: {e.strerror or e}", server=self.label, zone=zone
            ) from None
        return answer, self._verify(msg_id, mac, answer, zone, what=what, signer=signer)

    async def txt_values(
        self, qname: str, *, zone: str = "", signed: bool = True
    ) -> frozenset[str]:
        """The TXT values at ``qname``: ACME's hot read, on plain sockets.

        dnspython's message parser takes ~75 us per TXT record (a name with
        dozens of concurrent challenge values costs milliseconds); the wire
        parser reads them in a few.  ``signed=False`` asks without TSIG even
        when we have a key.  NXDOMAIN is an empty answer.
        """
        what = f"TXT query for {qname}"

        async def once(host: Host) -> frozenset[str]:
            _, msg = await self._ask(host, qname, dns.rdatatype.TXT, zone, signed=signed)
            answers.raise_for_rcode(
                msg.rcode, what, server=self.label, zone=zone, hints={}, accept=_NXDOMAIN_OK
            )
            return frozenset(
                r.value
                for r in msg.records
                if r.rdtype == wire.TXT and r.value is not None and r.name == qname
            )

        return await self._bounded(self.timeouts.query, what, zone, once)

    # --- transfers -------------------------------------------------------

    async def transfer(
        self, zone: str, *, serial: int | None = None, start: Host | None = None
    ) -> Transfer:
        """AXFR the zone, or IXFR from ``serial`` (from ``start`` first); fails whole
        on any error."""
        what = "AXFR" if serial is None else "IXFR"
        try:
            return await self._bounded(
                self.timeouts.transfer,
                what,
                zone,
                lambda h: self._transfer(h, zone, serial),
                split=False,  # a dead host shows in the message gap (Timeouts.query)
                start=start,
            )
        except DNSTimeout as e:
            raise TransferFailed(
                f"{what} incomplete: {e.detail}", server=self.label, zone=zone
            ) from None

    def _transfer_request(
        self, zone: str, serial: int | None, signer: tsig.Signer | None
    ) -> tuple[int, bytes, bytes]:
        query = dns.message.make_query(
            to_dns(zone), dns.rdatatype.AXFR if serial is None else dns.rdatatype.IXFR
        )
        if serial is not None:
            soa = dns.rdata.from_text("IN", "SOA", f". . {serial} 0 0 0 0")
            query.authority.append(dns.rrset.from_rdata(to_dns(zone), 0, soa))
        request, mac = self.sign(query.to_wire(), signer)
        return query.id, request, mac

    async def _transfer(self, host: Host, zone: str, serial: int | None) -> Transfer:
        signer = await self._signer_for(host, zone)
        msg_id, request, mac = self._transfer_request(zone, serial, signer)
        verifier = tsig.Verifier(signer, mac) if signer is not None else None
        assembler = wire.TransferAssembler(zone, serial=serial)
        what = "AXFR" if serial is None else "IXFR"
        nbytes = count = 0
        conn = await self._connect(host, zone)
        try:
            await self._send(conn, request, zone, what)
            while not assembler.done:
                try:
                    gap = self.timeouts.query
                    data = await conn.read_message(gap, server=self.label, zone=zone)
                except (DNSTimeout, ConnectionFailed) as e:
                    self.hosts.failed(host, e.detail)
                    raise TransferFailed(
                        f"{what} incomplete: {e.detail}", server=self.label, zone=zone
                    ) from None
                nbytes += len(data)
                count += 1
                self._take_transfer_message(data, msg_id, verifier, assembler, zone, what)
        finally:
            conn.close()
        if verifier is not None and not verifier.last_signed:
            raise TransferFailed(
                f"{what}: the last message is not signed", server=self.label, zone=zone
            )
        assert assembler.serial is not None
        host.transfers += 1
        mode = {"full": "axfr", "incremental": "ixfr", "uptodate": "uptodate"}[assembler.mode]
        return Transfer(mode, assembler.serial, assembler.full, assembler.deltas, count, nbytes)

    def _take_transfer_message(
        self,
        data: bytes,
        msg_id: int,
        verifier: tsig.Verifier | None,
        assembler: wire.TransferAssembler,
        zone: str,
        what: str,
    ) -> None:
        msg = self._parse(data, msg_id, zone, what, TransferFailed)
        if verifier is not None:
            self._verify_transfer(verifier, data, msg, zone, what)
        if msg.rcode != 0:
            answers.raise_for_rcode(
                msg.rcode, what, server=self.label, zone=zone, hints=answers.TRANSFER_HINTS
            )
        try:
            assembler.feed(msg.records)
        except wire.WireError as e:
            raise TransferFailed(f"{what}: {e}", server=self.label, zone=zone) from None

    def _verify_transfer(
        self, verifier: tsig.Verifier, data: bytes, msg: wire.Message, zone: str, what: str
    ) -> None:
        try:
            verifier.verify(data, msg.tsig, int(time.time()))
        except tuple(answers.TSIG_ERRORS) as e:
            raise answers.tsig_failure(e, what, msg.rcode, server=self.label, zone=zone) from None
        except dns.exception.DNSException as e:
            if msg.rcode != 0 and verifier.messages == 1 and msg.tsig is None:
                raise answers.unsigned(what, msg.rcode, server=self.label, zone=zone) from None
            raise answers.tsig_failure(
                e, f"{what}: message {verifier.messages}", msg.rcode, server=self.label, zone=zone
            ) from None

    # --- updates ---------------------------------------------------------

    async def update(
        self, msg: dns.update.UpdateMessage | bytes, zone: str, *, what: str = "UPDATE"
    ) -> None:
        """Send one UPDATE over TCP; raises the translated error on any failure.

        ``msg`` is a dnspython message or the unsigned wire form of one
        (:func:`dnssync.dns.updates.encode`); either is signed here.
        A connection that could not be opened is retried, on the next host
        if there are several (nothing was sent).  Once sent, no answer within
        ``Timeouts.query`` (connecting included) or a connection lost raises
        :class:`DNSTimeout`: the outcome is unknown, the host is marked down,
        and the caller must re-read the zone before trying again -- the
        UPDATE is never re-sent to another host blindly.  A GSS-TSIG context
        the server no longer knows (BADKEY: not applied) is made anew, and the
        UPDATE sent once more.
        """
        unsigned = msg if isinstance(msg, bytes) else msg.to_wire()
        try:
            await self._update(unsigned, zone, what)
        except _UnknownContext:
            try:
                await self._update(unsigned, zone, what)
            except _UnknownContext as again:
                raise again.error from None

    async def _update(self, unsigned: bytes, zone: str, what: str) -> None:
        sent: list[Host] = []
        try:
            async with asyncio.timeout(self.timeouts.query):
                answer, mac, signer = await self._exchange(unsigned, zone, what, sent)
        except TimeoutError:
            if sent:
                self.hosts.failed(sent[-1], "UPDATE unanswered")
            state = "outcome unknown, re-read the zone" if sent else "nothing was sent"
            raise DNSTimeout(
                f"{what}: no answer within {self.timeouts.query:g} s; {state}",
                server=self.label,
                zone=zone,
            ) from None
        msg_id = int.from_bytes(unsigned[:2], "big")
        try:
            rcode = self._verify(msg_id, mac, answer, zone, what=what, signer=signer).rcode
        except TSIGFailure as e:
            if self._unknown_context(sent[-1], e):
                raise _UnknownContext(e) from None
            raise
        self.hosts.ok(sent[-1])
        sent[-1].updates += 1
        answers.raise_for_rcode(rcode, what, server=self.label, zone=zone)

    async def _open(self, zone: str) -> tuple[Host, Connection]:
        """A new connection to the first host that takes one (nothing is sent yet)."""

        async def once() -> tuple[Host, Connection]:
            host = self.hosts.pick()
            try:
                return host, await self._connect(host, zone)
            except ConnectionFailed as e:
                self.hosts.failed(host, e.detail)
                raise

        return await retry.attempts(once, attempts=max(self.timeouts.attempts, len(self.hosts)))

    async def _exchange(
        self, unsigned: bytes, zone: str, what: str, sent: list[Host]
    ) -> tuple[bytes, bytes, tsig.Signer | None]:
        """One request, signed for the host it goes to, and its answer (with the MAC
        and signer to check it) over TCP, on a kept-alive connection if any.

        A kept connection the server closed while idle fails before any answer
        byte arrives; the request then goes once more over a new connection
        **to the same host** (a crash after reading it looks the same, and only
        a re-read may tell: never another host).  Any other failure after
        sending is an unknown outcome.
        """
        host = self.hosts.pick()
        signer = await self._signer_for(host, zone)
        conn = host.pool.take()
        if conn is not None:
            sent.append(host)
            data, mac = self.sign(unsigned, signer)
            try:
                answer = await self._roundtrip(host, conn, data, zone, what, reused=True)
                return answer, mac, signer
            except _Unread:
                try:
                    conn = await self._connect(host, zone)
                except ConnectionFailed as e:
                    self.hosts.failed(host, e.detail)
                    raise DNSTimeout(
                        f"{what}: connection lost, {host.name} gone; outcome unknown, "
                        "re-read the zone",
                        server=self.label,
                        zone=zone,
                    ) from None
        else:
            opened, conn = await self._open(zone)  # may move on: nothing was sent
            if opened is not host:
                try:
                    signer = await self._signer_for(opened, zone)
                except BaseException:
                    conn.close()
                    raise
            host = opened
            sent.append(host)
            data, mac = self.sign(unsigned, signer)
        return await self._roundtrip(host, conn, data, zone, what, reused=False), mac, signer

    async def _roundtrip(
        self, host: Host, conn: Connection, data: bytes, zone: str, what: str, *, reused: bool
    ) -> bytes:
        try:
            await self._send(conn, data, zone, what)
            answer = await conn.read_message(self.timeouts.query, server=self.label, zone=zone)
        except (ConnectionFailed, DNSTimeout) as e:
            conn.close()
            if reused and not conn.received and isinstance(e, ConnectionFailed):
                raise _Unread from None
            self.hosts.failed(host, e.detail)
            raise DNSTimeout(
                f"{what}: {e.detail} after sending; outcome unknown, re-read the zone",
                server=self.label,
                zone=zone,
            ) from None
        except BaseException:
            conn.close()
            raise
        host.pool.give(conn)
        return answer

    def close(self) -> None:
        """Close kept-alive connections."""
        self.hosts.close()
