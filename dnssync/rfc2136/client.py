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
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update

from dnssync import retry
from dnssync.errors import (
    ConnectionFailed,
    DNSTimeout,
    MalformedResponse,
    ServerRefused,
    TransferFailed,
)
from dnssync.names import to_dns
from dnssync.rfc2136 import answers, tsig, wire
from dnssync.rfc2136.answers import rcode_name
from dnssync.rfc2136.transport import Connection, Pool, datagram_exchange, resolve

__all__ = ["Client", "Timeouts", "Transfer", "rcode_name"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_NXDOMAIN_OK = frozenset({dns.rcode.NOERROR, dns.rcode.NXDOMAIN})


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


class Client:
    """One authoritative server, one TSIG key."""

    def __init__(
        self,
        host: str,
        port: int = 53,
        *,
        key: dns.tsig.Key | None = None,
        timeouts: Timeouts = Timeouts(),
        label: str = "",
    ) -> None:
        self.host = host
        self.port = port
        self.key = key
        self.signer = tsig.Signer(key) if key is not None else None
        self.timeouts = timeouts
        key_part = f", key {key.name.to_text(omit_final_dot=True)}" if key else ""
        self.label = label or f"server {host}:{port}{key_part}"
        self.pool = Pool()  # UPDATE connections kept for reuse

    # --- helpers ---------------------------------------------------------

    async def _bounded(
        self, limit: float, what: str, zone: str, op: Callable[[], Awaitable[T]]
    ) -> T:
        """``op`` with its retries, all within ``limit`` seconds (one deadline)."""
        try:
            async with asyncio.timeout(limit):
                return await retry.attempts(op, attempts=self.timeouts.attempts)
        except TimeoutError:
            raise DNSTimeout(
                f"{what}: no answer within {limit:g} s", server=self.label, zone=zone
            ) from None

    async def _connect(self, zone: str) -> Connection:
        address = await resolve(self.host, self.port, server=self.label, zone=zone)
        return await Connection.open(address, self.port, server=self.label, zone=zone)

    async def _send(self, conn: Connection, data: bytes, zone: str, what: str) -> None:
        try:
            await conn.send_message(data)
        except OSError as e:
            raise ConnectionFailed(
                f"{what}: send failed: {e}", server=self.label, zone=zone
            ) from None

    def _verify(
        self, msg_id: int, mac: bytes, answer: bytes, zone: str, *, what: str, signed: bool = True
    ) -> wire.Message:
        """Parse the answer, check its id and (if we signed) its TSIG; translate what is wrong."""
        try:
            msg = wire.parse(answer)
        except wire.WireError as e:
            raise MalformedResponse(
                f"{what}: malformed answer: {e}", server=self.label, zone=zone
            ) from None
        if msg.id != msg_id:
            raise MalformedResponse(
                f"{what}: answer id does not match the query", server=self.label, zone=zone
            )
        if self.signer is None or not signed:
            return msg
        if msg.tsig is None:
            raise answers.unsigned(what, msg.rcode, server=self.label, zone=zone)
        try:
            tsig.Verifier(self.signer, mac).verify(answer, msg.tsig, int(time.time()))
        except dns.exception.DNSException as e:
            raise answers.tsig_failure(e, what, msg.rcode, server=self.label, zone=zone) from None
        return msg

    def sign(self, data: bytes) -> tuple[bytes, bytes]:
        """Append a TSIG record to an unsigned message; return it and its MAC."""
        if self.signer is None:
            return data, b""
        return self.signer.sign(data, int(time.time()))

    # --- queries ---------------------------------------------------------

    async def soa_serial(self, zone: str) -> int:
        """The zone's current serial, from one (signed) SOA query."""
        return await self._bounded(
            self.timeouts.query, "SOA query", zone, lambda: self._soa_serial(zone)
        )

    async def _soa_serial(self, zone: str) -> int:
        _, msg = await self._ask(zone, dns.rdatatype.SOA, zone)
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
            lambda: self._query(qname, rdtype, zone),
        )

    async def _query(
        self, qname: str, rdtype: dns.rdatatype.RdataType, zone: str
    ) -> dns.message.Message:
        answer, msg = await self._ask(qname, rdtype, zone)
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
        self, qname: str, rdtype: dns.rdatatype.RdataType, zone: str, *, signed: bool = True
    ) -> tuple[bytes, wire.Message]:
        """One query on plain sockets (UDP, TCP when truncated); the answer's
        bytes and parse, its id and TSIG checked.  ``signed=False`` asks
        without TSIG even when we have a key.  The caller bounds it in time."""
        what = f"{rdtype.name} query for {qname}"
        query = dns.message.make_query(to_dns(qname), rdtype)
        query.flags &= ~dns.flags.RD  # authoritative servers only
        sign = signed and self.signer is not None
        data, mac = self.sign(query.to_wire()) if sign else (query.to_wire(), b"")
        address = await resolve(self.host, self.port, server=self.label, zone=zone)
        try:
            answer = await datagram_exchange(address, self.port, data)
        except EOFError:
            raise ConnectionFailed(
                f"{what}: connection closed mid-answer", server=self.label, zone=zone
            ) from None
        except OSError as e:
            raise ConnectionFailed(
                f"{what} failed: {e.strerror or e}", server=self.label, zone=zone
            ) from None
        return answer, self._verify(query.id, mac, answer, zone, what=what, signed=sign)

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

        async def once() -> frozenset[str]:
            _, msg = await self._ask(qname, dns.rdatatype.TXT, zone, signed=signed)
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

    async def transfer(self, zone: str, *, serial: int | None = None) -> Transfer:
        """AXFR the zone, or IXFR from ``serial``; fails whole on any error."""
        what = "AXFR" if serial is None else "IXFR"
        try:
            return await self._bounded(
                self.timeouts.transfer, what, zone, lambda: self._transfer(zone, serial)
            )
        except DNSTimeout as e:
            raise TransferFailed(
                f"{what} incomplete: {e.detail}", server=self.label, zone=zone
            ) from None

    def _transfer_request(self, zone: str, serial: int | None) -> tuple[int, bytes, bytes]:
        query = dns.message.make_query(
            to_dns(zone), dns.rdatatype.AXFR if serial is None else dns.rdatatype.IXFR
        )
        if serial is not None:
            soa = dns.rdata.from_text("IN", "SOA", f". . {serial} 0 0 0 0")
            query.authority.append(dns.rrset.from_rdata(to_dns(zone), 0, soa))
        request, mac = self.sign(query.to_wire())
        return query.id, request, mac

    async def _transfer(self, zone: str, serial: int | None) -> Transfer:
        msg_id, request, mac = self._transfer_request(zone, serial)
        verifier = tsig.Verifier(self.signer, mac) if self.signer is not None else None
        assembler = wire.TransferAssembler(zone, serial=serial)
        what = "AXFR" if serial is None else "IXFR"
        nbytes = count = 0
        conn = await self._connect(zone)
        try:
            await self._send(conn, request, zone, what)
            while not assembler.done:
                try:
                    gap = self.timeouts.query
                    data = await conn.read_message(gap, server=self.label, zone=zone)
                except (DNSTimeout, ConnectionFailed) as e:
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
        try:
            msg = wire.parse(data)
        except wire.WireError as e:
            raise TransferFailed(
                f"{what}: malformed message: {e}", server=self.label, zone=zone
            ) from None
        if msg.id != msg_id:
            raise TransferFailed(f"{what}: answer id mismatch", server=self.label, zone=zone)
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
        (:func:`dnssync.rfc2136.updates.encode`); either is signed here.
        A connection that could not be opened is retried (nothing was sent);
        no answer within ``Timeouts.query`` (connecting included) after
        sending raises :class:`DNSTimeout`: the outcome is unknown, and the
        caller must re-read the zone before trying again.
        """
        unsigned = msg if isinstance(msg, bytes) else msg.to_wire()
        data, mac = self.sign(unsigned)
        sent = [False]
        try:
            async with asyncio.timeout(self.timeouts.query):
                answer = await self._exchange(data, zone, what, sent)
        except TimeoutError:
            state = "outcome unknown, re-read the zone" if sent[0] else "nothing was sent"
            raise DNSTimeout(
                f"{what}: no answer within {self.timeouts.query:g} s; {state}",
                server=self.label,
                zone=zone,
            ) from None
        msg_id = int.from_bytes(unsigned[:2], "big")
        rcode = self._verify(msg_id, mac, answer, zone, what=what).rcode
        answers.raise_for_rcode(rcode, what, server=self.label, zone=zone)

    async def _exchange(self, data: bytes, zone: str, what: str, sent: list[bool]) -> bytes:
        """One request and its answer over TCP, on a kept-alive connection if any.

        A kept connection the server has closed meanwhile fails before any
        answer byte arrives; the server never read the request then, so it
        goes once more over a new connection.  Any other failure closes the
        connection (an answer might still be on its way on it).
        """
        for _ in range(2):
            conn = self.pool.take()
            reused = conn is not None
            if conn is None:
                conn = await retry.attempts(
                    lambda: self._connect(zone), attempts=self.timeouts.attempts
                )
            try:
                sent[0] = True
                await self._send(conn, data, zone, what)
                answer = await conn.read_message(self.timeouts.query, server=self.label, zone=zone)
            except ConnectionFailed:
                conn.close()
                if reused and not conn.received:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            self.pool.give(conn)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close kept-alive connections."""
        self.pool.close()
