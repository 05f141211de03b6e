"""Async RFC 2136 client: SOA queries, signed zone transfers and UPDATEs.

This is the I/O edge of the DNS engine, and the one place where dnspython,
socket and timeout exceptions are translated into :mod:`dnssync.errors`.
Every exchange is TSIG-signed when a key is configured (:mod:`.tsig`, on
the raw wire) and goes over plain non-blocking sockets; queries use UDP
(TCP when truncated), transfers and updates always TCP.  Retries
(tenacity, jittered, capped) apply only to exchanges whose repetition is
harmless: queries, transfers, and an UPDATE whose connection failed before
anything was sent.  An UPDATE that timed out has an unknown outcome and is
never re-sent blindly (see :class:`~dnssync.errors.DNSTimeout`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
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
import tenacity

from dnssync.errors import (
    ConnectionFailed,
    DNSError,
    DNSTimeout,
    MalformedResponse,
    PrerequisiteFailed,
    ServerFailure,
    ServerRefused,
    TransferFailed,
    TSIGFailure,
)
from dnssync.names import to_dns
from dnssync.rfc2136 import tsig, wire

log = logging.getLogger(__name__)
T = TypeVar("T")

_PREREQ_RCODES = {
    dns.rcode.YXDOMAIN: "a name that must be unused is in use",
    dns.rcode.YXRRSET: "a record set that must be absent exists",
    dns.rcode.NXDOMAIN: "a name that must exist does not",
    dns.rcode.NXRRSET: "a record set is not as it was read (changed by someone else?)",
}
TSIG_ERRORS = {
    dns.tsig.PeerBadKey: "BADKEY",
    dns.tsig.PeerBadSignature: "BADSIG",
    dns.tsig.PeerBadTime: "BADTIME",
    dns.tsig.PeerBadTruncation: "BADTRUNC",
}
_TSIG_HINTS = {
    "BADKEY": "the server does not know this key name/algorithm",
    "BADSIG": "the signature did not verify: wrong secret or algorithm",
    "BADTIME": "the clocks of this host and the server differ by more than the fudge",
    "BADTRUNC": "bad truncation",
}


#: How long, and how many, UPDATE connections are kept for reuse.  BIND
#: closes idle TCP clients after 30 s, Knot after its tcp-idle-timeout.
KEEP_ALIVE = 5.0
KEEP_IDLE = 4

_UPDATE_HINTS = {
    "REFUSED": "the key may not change this name or type (update policy)",
    "NOTAUTH": "the server is not authoritative for the zone, or the key is not allowed",
    "NOTZONE": "a name is outside the zone",
    "SERVFAIL": "the server failed to apply it and rolled it back",
    "FORMERR": "the server could not parse the message",
    "NOTIMP": "the server does not implement this",
}
_TRANSFER_HINTS = {
    "REFUSED": "transfers are not allowed for this key",
    "NOTAUTH": "the server is not authoritative or the key is not allowed",
    "NOTIMP": "the server does not implement this transfer",
    "SERVFAIL": "the server could not load the zone",
}


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Bounds for every exchange, so a silent server gives an error, not a hang."""

    query: float = 3.0  # one SOA query or UPDATE round trip
    message: float = 10.0  # between two messages of a transfer
    transfer: float = 120.0  # a whole transfer
    attempts: int = 3  # tries of a repeatable exchange


@dataclass(frozen=True, slots=True)
class Transfer:
    """A completed, verified transfer."""

    kind: str  # "axfr", "ixfr" or "uptodate"
    serial: int
    full: list[wire.Record]
    deltas: list[tuple[list[wire.Record], list[wire.Record]]]
    messages: int
    nbytes: int


def rcode_name(rcode: int) -> str:
    try:
        return dns.rcode.to_text(dns.rcode.Rcode(rcode))
    except ValueError:
        return f"RCODE{rcode}"


async def with_retries(what: Callable[[], Awaitable[T]], *, attempts: int) -> T:
    """Run ``what``; retry retryable DNS errors, jittered and capped, ``attempts`` in all.

    The first try runs bare: on loopback a tenacity loop per exchange costs
    more than the exchange itself.
    """
    try:
        return await what()
    except DNSError as e:
        if not e.retryable or attempts <= 1:
            raise
    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(attempts - 1),
        wait=tenacity.wait_exponential_jitter(multiplier=0.05, max=2.0, jitter=0.05),
        retry=tenacity.retry_if_exception(lambda e: isinstance(e, DNSError) and e.retryable),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await what()
    raise AssertionError("unreachable")  # pragma: no cover


class _Conn:
    """A connected non-blocking TCP socket with a read buffer."""

    __slots__ = ("buf", "loop", "received", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.loop = asyncio.get_running_loop()
        self.received = False  # any byte of an answer on this use

    async def send(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.sock, data)

    async def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes; EOFError if the peer closes first."""
        while len(self.buf) < n:
            # Large reads: a transfer's messages arrive back to back, and the
            # server must never wait on us (Knot cuts readers after 500 ms).
            chunk = await self.loop.sock_recv(self.sock, max(65536, n - len(self.buf)))
            if not chunk:
                raise EOFError
            self.received = True
            self.buf += chunk
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def close(self) -> None:
        self.sock.close()


async def _datagram_exchange(host: str, port: int, data: bytes, timeout: float) -> bytes:
    """One query over UDP, again over TCP when the answer is truncated.

    Plain non-blocking sockets: a datagram endpoint or a stream per query
    costs more than the query itself on loopback.
    """
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    async with asyncio.timeout(timeout):
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.setblocking(False)
            udp.connect((host, port))
            await loop.sock_sendall(udp, data)
            while True:
                answer = await loop.sock_recv(udp, 65535)
                if answer[:2] == data[:2]:  # the id: ignore strays
                    break
        if len(answer) < 3 or not answer[2] & 0x02:  # TC bit
            return answer
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setblocking(False)
            await loop.sock_connect(sock, (host, port))
            conn = _Conn(sock)
            await conn.send(len(data).to_bytes(2, "big") + data)
            return await conn.read(int.from_bytes(await conn.read(2), "big"))


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
        # UPDATE connections kept for reuse: (when kept, connection).
        self._idle: list[tuple[float, _Conn]] = []

    # --- helpers ---------------------------------------------------------

    def _error(self, cls: type[DNSError], text: str, zone: str) -> DNSError:
        return cls(text, server=self.label, zone=zone)

    def _tsig(self, text: str, *, rcode: str, code: str, zone: str) -> TSIGFailure:
        return TSIGFailure(text, rcode=rcode, tsig_error=code, server=self.label, zone=zone)

    async def _retry(self, what: Callable[[], Awaitable[T]]) -> T:
        return await with_retries(what, attempts=self.timeouts.attempts)

    async def _connect(self, zone: str) -> _Conn:
        # Plain non-blocking sockets: asyncio's stream layer costs ~0.5 ms per
        # exchange on loopback, four times the UPDATE itself.
        address = await self._address(zone)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            async with asyncio.timeout(self.timeouts.query):
                await asyncio.get_running_loop().sock_connect(sock, (address, self.port))
        except TimeoutError:
            sock.close()
            raise self._error(DNSTimeout, "timed out connecting over TCP", zone) from None
        except OSError as e:
            sock.close()
            raise self._error(
                ConnectionFailed, f"cannot connect: {e.strerror or e}", zone
            ) from None
        return _Conn(sock)

    async def _send(self, conn: _Conn, data: bytes, zone: str, what: str) -> None:
        conn.received = False
        try:
            await conn.send(struct.pack("!H", len(data)) + data)
        except OSError as e:
            raise self._error(ConnectionFailed, f"{what}: send failed: {e}", zone) from None

    async def _read_message(self, conn: _Conn, zone: str, limit: float) -> bytes:
        try:
            async with asyncio.timeout(limit):
                (length,) = struct.unpack("!H", await conn.read(2))
                return await conn.read(length)
        except TimeoutError:
            raise self._error(DNSTimeout, f"no answer within {limit:g} s", zone) from None
        except EOFError:
            raise self._error(
                ConnectionFailed, "the server closed the connection mid-answer", zone
            ) from None
        except OSError as e:
            raise self._error(ConnectionFailed, f"connection failed: {e}", zone) from None

    def _verify(
        self,
        msg_id: int,
        mac: bytes,
        answer: bytes,
        zone: str,
        *,
        what: str = "",
        signed: bool = True,
    ) -> wire.Message:
        """Parse the answer, check its id and (if we signed) its TSIG; translate what is wrong."""
        prefix = f"{what}: " if what else ""
        try:
            msg = wire.parse(answer)
        except (wire.WireError, dns.exception.DNSException) as e:
            raise self._error(MalformedResponse, f"{prefix}malformed answer: {e}", zone) from None
        if msg.id != msg_id:
            raise self._error(
                MalformedResponse, f"{prefix}answer id does not match the query", zone
            )
        if self.signer is None or not signed:
            return msg
        rcode = rcode_name(msg.rcode)
        if msg.tsig is None:
            # PowerDNS answers a bad signature with an unsigned REFUSED.
            raise self._tsig(
                f"{prefix}{rcode} without a TSIG signature: "
                "the server did not accept our key (wrong name, secret or algorithm?)",
                rcode=rcode,
                code="UNSIGNED",
                zone=zone,
            )
        try:
            tsig.Verifier(self.signer, mac).verify(answer, msg.tsig, int(time.time()))
        except tuple(TSIG_ERRORS) as e:
            code = TSIG_ERRORS[type(e)]
            raise self._tsig(
                f"{prefix}{rcode}/{code}: {_TSIG_HINTS[code]}", rcode=rcode, code=code, zone=zone
            ) from None
        except dns.exception.DNSException as e:
            raise self._tsig(
                f"{prefix}{rcode}: the answer's TSIG did not verify ({type(e).__name__})",
                rcode=rcode,
                code="BADSIG",
                zone=zone,
            ) from None
        return msg

    def _raise_rcode(
        self, rcode: int, zone: str, what: str, *, hints: Mapping[str, str] = _UPDATE_HINTS
    ) -> None:
        if rcode == dns.rcode.NOERROR:
            return
        name = rcode_name(rcode)
        if rcode in _PREREQ_RCODES:
            raise PrerequisiteFailed(
                f"{what}: {name}: {_PREREQ_RCODES[dns.rcode.Rcode(rcode)]}",
                rcode=name,
                server=self.label,
                zone=zone,
            )
        cls = ServerFailure if rcode == dns.rcode.SERVFAIL else ServerRefused
        hint = hints.get(name, "")
        raise cls(
            f"{what}: {name}" + (f" ({hint})" if hint else ""),
            rcode=name,
            server=self.label,
            zone=zone,
        )

    async def _address(self, zone: str) -> str:
        """The server's IP address (dnspython's queries take no host names)."""
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            pass
        else:
            return self.host
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeouts.query):
                infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        except (OSError, TimeoutError) as e:
            raise self._error(ConnectionFailed, f"cannot resolve {self.host}: {e}", zone) from None
        return str(infos[0][4][0])

    # --- SOA -------------------------------------------------------------

    async def soa_serial(self, zone: str) -> int:
        """The zone's current serial, from one (signed) SOA query."""
        return await self._retry(lambda: self._soa_serial(zone))

    async def query(
        self,
        qname: str,
        rdtype: dns.rdatatype.RdataType,
        *,
        zone: str = "",
    ) -> dns.message.Message:
        """One non-recursive query (UDP, TCP on truncation), signed with our key
        when we have one, as a dnspython message.

        The rcode is left to the caller (NXDOMAIN is an answer, not an error).
        """
        return await self._retry(lambda: self._query(qname, rdtype, zone))

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
            raise self._error(MalformedResponse, f"{what}: malformed answer ({e})", zone) from None

    async def _ask(
        self,
        qname: str,
        rdtype: dns.rdatatype.RdataType,
        zone: str,
        *,
        signed: bool = True,
    ) -> tuple[bytes, wire.Message]:
        """One query on plain sockets (UDP, TCP when truncated); the answer's
        bytes and parse, its id and TSIG checked.  ``signed=False`` asks
        without TSIG even when we have a key."""
        what = f"{rdtype.name} query for {qname}"
        query = dns.message.make_query(to_dns(qname), rdtype)
        query.flags &= ~dns.flags.RD  # authoritative servers only
        sign = signed and self.signer is not None
        data, mac = self.sign(query.to_wire()) if sign else (query.to_wire(), b"")
        try:
            answer = await _datagram_exchange(
                await self._address(zone), self.port, data, self.timeouts.query
            )
        except TimeoutError:
            raise self._error(DNSTimeout, f"{what} timed out", zone) from None
        except EOFError:
            raise self._error(
                ConnectionFailed, f"{what}: connection closed mid-answer", zone
            ) from None
        except OSError as e:
            raise self._error(ConnectionFailed, f"{what} failed: {e.strerror or e}", zone) from None
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
        return await self._retry(lambda: self._txt_values(qname, zone, signed))

    async def _txt_values(self, qname: str, zone: str, signed: bool) -> frozenset[str]:
        _, msg = await self._ask(qname, dns.rdatatype.TXT, zone, signed=signed)
        if msg.rcode != dns.rcode.NXDOMAIN:
            self._raise_rcode(msg.rcode, zone, f"TXT query for {qname}", hints={})
        return frozenset(
            r.value
            for r in msg.records
            if r.rdtype == wire.TXT and r.value is not None and r.name == qname
        )

    async def _soa_serial(self, zone: str) -> int:
        _, msg = await self._ask(zone, dns.rdatatype.SOA, zone)
        self._raise_rcode(msg.rcode, zone, "SOA query")
        for r in msg.records:
            if r.rdtype == wire.SOA and r.name == zone:
                return r.serial
        raise self._error(
            ServerRefused if msg.records else TransferFailed,
            "SOA query: no SOA for the zone in the answer (is it the zone apex?)",
            zone,
        )

    # --- transfers -------------------------------------------------------

    async def transfer(self, zone: str, *, serial: int | None = None) -> Transfer:
        """AXFR the zone, or IXFR from ``serial``; fails whole on any error."""
        return await self._retry(lambda: self._transfer(zone, serial))

    async def _transfer(self, zone: str, serial: int | None) -> Transfer:
        kind = "axfr" if serial is None else "ixfr"
        query = dns.message.make_query(
            to_dns(zone), dns.rdatatype.AXFR if serial is None else dns.rdatatype.IXFR
        )
        if serial is not None:
            soa = dns.rdata.from_text("IN", "SOA", f". . {serial} 0 0 0 0")
            query.authority.append(dns.rrset.from_rdata(to_dns(zone), 0, soa))
        request, mac = self.sign(query.to_wire())
        verifier = tsig.Verifier(self.signer, mac) if self.signer is not None else None
        assembler = wire.TransferAssembler(zone, serial=serial)
        what = kind.upper()
        nbytes = 0
        count = 0
        conn = await self._connect(zone)
        try:
            async with asyncio.timeout(self.timeouts.transfer):
                await self._send(conn, request, zone, what)
                while not assembler.done:
                    data = await self._read_message(conn, zone, self.timeouts.message)
                    nbytes += len(data)
                    count += 1
                    try:
                        msg = wire.parse(data)
                    except (wire.WireError, dns.exception.DNSException) as e:
                        raise self._error(
                            TransferFailed, f"{what}: malformed message: {e}", zone
                        ) from None
                    if msg.id != query.id:
                        raise self._error(TransferFailed, f"{what}: answer id mismatch", zone)
                    if verifier is not None:
                        self._verify_transfer(verifier, data, msg, zone, what)
                    if msg.rcode != 0:
                        self._raise_transfer_rcode(msg.rcode, zone, what)
                    try:
                        assembler.feed(msg.records)
                    except wire.WireError as e:
                        raise self._error(TransferFailed, f"{what}: {e}", zone) from None
        except TimeoutError:
            raise self._error(
                DNSTimeout, f"{what} took longer than {self.timeouts.transfer:g} s", zone
            ) from None
        except (DNSTimeout, ConnectionFailed) as e:
            raise self._error(TransferFailed, f"{what} incomplete: {e.detail}", zone) from None
        finally:
            conn.close()
        if verifier is not None and not verifier.last_signed:
            raise self._error(TransferFailed, f"{what}: the last message is not signed", zone)
        assert assembler.serial is not None
        mode = {"full": "axfr", "incremental": "ixfr", "uptodate": "uptodate"}[assembler.mode]
        return Transfer(mode, assembler.serial, assembler.full, assembler.deltas, count, nbytes)

    def _verify_transfer(
        self, verifier: tsig.Verifier, data: bytes, msg: wire.Message, zone: str, what: str
    ) -> None:
        try:
            verifier.verify(data, msg.tsig, int(time.time()))
        except tuple(TSIG_ERRORS) as e:
            code = TSIG_ERRORS[type(e)]
            raise self._tsig(
                f"{what}: {msg.rcode_text}/{code}: {_TSIG_HINTS[code]}",
                rcode=msg.rcode_text,
                code=code,
                zone=zone,
            ) from None
        except (dns.tsig.BadSignature, dns.tsig.BadTime, dns.exception.DNSException) as e:
            if msg.rcode != 0 and verifier.messages == 1 and msg.tsig is None:
                raise self._tsig(
                    f"{what}: {msg.rcode_text} without a TSIG signature: "
                    "the server did not accept our key (wrong name, secret or algorithm?)",
                    rcode=msg.rcode_text,
                    code="UNSIGNED",
                    zone=zone,
                ) from None
            raise self._tsig(
                f"{what}: message {verifier.messages} failed TSIG verification ({e})",
                rcode=msg.rcode_text,
                code="BADSIG",
                zone=zone,
            ) from None

    def _raise_transfer_rcode(self, rcode: int, zone: str, what: str) -> None:
        self._raise_rcode(rcode, zone, what, hints=_TRANSFER_HINTS)

    # --- updates ---------------------------------------------------------

    def sign(self, data: bytes) -> tuple[bytes, bytes]:
        """Append a TSIG record to an unsigned message; return it and its MAC."""
        if self.signer is None:
            return data, b""
        return self.signer.sign(data, int(time.time()))

    async def update(
        self, msg: dns.update.UpdateMessage | bytes, zone: str, *, what: str = "UPDATE"
    ) -> None:
        """Send one UPDATE over TCP; raises the translated error on any failure.

        ``msg`` is a dnspython message or the unsigned wire form of one
        (:func:`dnssync.rfc2136.updates.encode`); either is signed here.
        A connection that could not be opened is retried (nothing was sent);
        a timeout after sending raises :class:`DNSTimeout`: the outcome is
        unknown, and the caller must re-read the zone before trying again.
        """
        unsigned = msg if isinstance(msg, bytes) else msg.to_wire()
        data, mac = self.sign(unsigned)
        answer = await self._exchange(data, zone, what)
        msg_id = int.from_bytes(unsigned[:2], "big")
        self._raise_rcode(self._verify(msg_id, mac, answer, zone).rcode, zone, what)

    async def _exchange(self, data: bytes, zone: str, what: str) -> bytes:
        """One request and its answer over TCP, on a kept-alive connection if any.

        A kept connection the server has closed meanwhile fails before any
        answer byte arrives; the server never read the request then, so it
        goes once more over a new connection.  Any other failure closes the
        connection (an answer might still be on its way on it).
        """
        for _ in range(2):
            conn, reused = self._idle_conn()
            if conn is None:
                conn = await self._retry(lambda: self._connect(zone))
            try:
                await self._send(conn, data, zone, what)
                answer = await self._read_message(conn, zone, self.timeouts.query)
            except DNSTimeout:
                conn.close()
                raise self._error(
                    DNSTimeout,
                    f"{what}: no answer in time; outcome unknown, re-read the zone",
                    zone,
                ) from None
            except ConnectionFailed:
                conn.close()
                if reused and not conn.received:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            self._keep(conn)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _idle_conn(self) -> tuple[_Conn | None, bool]:
        now = time.monotonic()
        while self._idle:
            since, conn = self._idle.pop()
            if now - since < KEEP_ALIVE and not conn.buf:
                return conn, True
            conn.close()
        return None, False

    def _keep(self, conn: _Conn) -> None:
        if len(self._idle) < KEEP_IDLE and not conn.buf:
            self._idle.append((time.monotonic(), conn))
        else:
            conn.close()

    def close(self) -> None:
        """Close kept-alive connections."""
        while self._idle:
            self._idle.pop()[1].close()
