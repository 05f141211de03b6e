"""Moving DNS messages: UDP, TCP, kept-alive connections and host lookup (I/O, no DNS logic).

Plain non-blocking sockets throughout: asyncio's stream and datagram layers
cost ~0.5 ms per exchange on loopback, several times the exchange itself.
Everything here speaks bytes; what they mean (parsing, TSIG, rcodes) is the
caller's (:mod:`.client`).  Socket failures come out as
:class:`~dnssync.errors.ConnectionFailed`; deadlines are the caller's too (one
``asyncio.timeout`` around a whole operation), except the gap allowed between
two messages of one stream (:meth:`Connection.read_message`).

This module and :mod:`.client` are the only ones that touch sockets for DNS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import struct
import time
from collections.abc import Collection
from dataclasses import dataclass

from dnssync.errors import ConnectionFailed, DNSTimeout
from dnssync.retry import Backoff

log = logging.getLogger(__name__)

#: How long, and how many, connections are kept for reuse.  BIND closes idle
#: TCP clients after 30 s, Knot after its tcp-idle-timeout.
KEEP_ALIVE = 5.0
KEEP_IDLE = 4
_LENGTH = struct.Struct("!H")
#: How long a failed host is passed over: 1 s after one failure, doubling, at most 30 s.
_DOWN = Backoff(initial=1.0, cap=30.0)


async def resolve(host: str, port: int, *, server: str = "", zone: str = "") -> str:
    """An IP address for ``host`` (an IP is returned as is): the one host lookup."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP
        )
    except OSError as e:
        raise ConnectionFailed(f"cannot resolve {host}: {e}", server=server, zone=zone) from None
    return str(infos[0][4][0])


@dataclass(frozen=True, slots=True)
class TLS:
    """DNS over TLS (RFC 7858; XoT, RFC 9103): the context and the name to verify."""

    context: ssl.SSLContext
    server_name: str | None = None  # None: the host as configured


def tls_context(ca_file: str | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """A client context: the given CA (else the system's), TLS 1.2+, ALPN "dot" (RFC 9103)."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["dot"])
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


class Connection:
    """A connected non-blocking TCP socket with a read buffer, framed per RFC 1035 4.2.2."""

    __slots__ = ("buf", "loop", "received", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.loop = asyncio.get_running_loop()
        self.received = False  # any byte of an answer since the last send

    @classmethod
    async def open(cls, address: str, port: int, *, server: str, zone: str) -> Connection:
        sock = socket.socket(_family(address), socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (address, port))
        except OSError as e:
            sock.close()
            raise ConnectionFailed(
                f"cannot connect: {e.strerror or e}", server=server, zone=zone
            ) from None
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    async def send_message(self, data: bytes) -> None:
        """Send one length-prefixed message; OSError on failure."""
        self.received = False
        await self.loop.sock_sendall(self.sock, _LENGTH.pack(len(data)) + data)

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

    async def read_message(self, gap: float, *, server: str, zone: str) -> bytes:
        """The next message, arriving within ``gap`` seconds; dnssync errors only."""
        try:
            async with asyncio.timeout(gap):
                (length,) = _LENGTH.unpack(await self.read(2))
                return await self.read(length)
        except TimeoutError:
            raise DNSTimeout(f"no answer within {gap:g} s", server=server, zone=zone) from None
        except EOFError:
            raise ConnectionFailed(
                "the server closed the connection mid-answer", server=server, zone=zone
            ) from None
        except OSError as e:
            raise ConnectionFailed(f"connection failed: {e}", server=server, zone=zone) from None

    def close(self) -> None:
        self.sock.close()


class TLSConnection(Connection):
    """A TLS stream with the interface of :class:`Connection` (asyncio's TLS layer:
    the raw-socket shortcut has no TLS, and the handshake dwarfs the stream cost)."""

    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()  # always empty: the stream buffers
        self.loop = asyncio.get_running_loop()
        self.received = False

    @classmethod
    async def open_tls(
        cls, address: str, port: int, tls: TLS, *, host: str, server: str, zone: str
    ) -> TLSConnection:
        try:
            reader, writer = await asyncio.open_connection(
                address, port, ssl=tls.context, server_hostname=tls.server_name or host
            )
        except ssl.SSLError as e:
            raise ConnectionFailed(
                f"TLS with {host}:{port} failed: {e.reason or e}", server=server, zone=zone
            ) from None
        except OSError as e:
            raise ConnectionFailed(
                f"cannot connect: {e.strerror or e}", server=server, zone=zone
            ) from None
        return cls(reader, writer)

    async def send_message(self, data: bytes) -> None:
        self.received = False
        self.writer.write(_LENGTH.pack(len(data)) + data)
        await self.writer.drain()

    async def read(self, n: int) -> bytes:
        try:
            data = await self.reader.readexactly(n)
        except asyncio.IncompleteReadError as e:
            if e.partial:
                self.received = True
            raise EOFError from None
        self.received = True
        return data

    def close(self) -> None:
        self.writer.close()


async def datagram_exchange(address: str, port: int, data: bytes) -> bytes:
    """One query over UDP, again over TCP when the answer is truncated.

    The caller bounds it in time.  Raises OSError / EOFError on socket failures.
    """
    loop = asyncio.get_running_loop()
    family = _family(address)
    with socket.socket(family, socket.SOCK_DGRAM) as udp:
        udp.setblocking(False)
        udp.connect((address, port))
        await loop.sock_sendall(udp, data)
        while True:
            answer = await loop.sock_recv(udp, 65535)
            if answer[:2] == data[:2]:  # the id: ignore strays
                break
    if len(answer) < 3 or not answer[2] & 0x02:  # TC bit
        return answer
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (address, port))
        conn = Connection(sock)
        await conn.send_message(data)
        return await conn.read(int.from_bytes(await conn.read(2), "big"))


class Pool:
    """Connections kept alive between UPDATEs to one server (few, briefly)."""

    __slots__ = ("_idle",)

    def __init__(self) -> None:
        self._idle: list[tuple[float, Connection]] = []

    def take(self) -> Connection | None:
        """A kept connection still young enough, or None."""
        now = time.monotonic()
        loop = asyncio.get_running_loop()
        while self._idle:
            since, conn = self._idle.pop()
            if now - since < KEEP_ALIVE and not conn.buf and conn.loop is loop:
                return conn
            if conn.loop is loop or not conn.loop.is_closed():
                conn.close()  # one of a closed loop went with it
        return None

    def ready(self) -> bool:
        """Whether a kept connection may be at hand (:meth:`take` still checks its age)."""
        return bool(self._idle)

    def give(self, conn: Connection) -> None:
        if len(self._idle) < KEEP_IDLE and not conn.buf:
            self._idle.append((time.monotonic(), conn))
        else:
            conn.close()

    def __bool__(self) -> bool:
        return bool(self._idle)

    def close(self) -> None:
        while self._idle:
            self._idle.pop()[1].close()


@dataclass(frozen=True, slots=True)
class HostHealth:
    """What the client remembers of one host (exported as metrics by the caller)."""

    host: str
    port: int
    up: bool
    failures: int  # consecutive
    switches: int  # times traffic moved away from it
    last_error: str
    transfers: int = 0  # zone transfers it answered (round-robin spreads them)
    updates: int = 0  # UPDATEs it answered


class Host:
    """One primary of a target: its address, kept connections and health."""

    __slots__ = (
        "down_until",
        "failures",
        "host",
        "last_error",
        "pool",
        "port",
        "switches",
        "transfers",
        "updates",
    )

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.pool = Pool()
        self.failures = 0
        self.down_until = 0.0
        self.switches = 0
        self.last_error = ""
        self.transfers = 0
        self.updates = 0

    @property
    def name(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class Hosts:
    """Several primaries in failover order, health remembered per host.

    Every operation asks :meth:`pick` for the first host not marked down (all
    down: the one whose mark ends first).  A connection failure or timeout
    marks a host down for a jittered, doubling while (1 s .. 30 s); a success
    clears it.  Callers decide what may move to another host: a query or a
    transfer may, an UPDATE whose outcome is unknown may not (re-read first).

    With ``spread`` (``server.read: round-robin``) each zone read starts on the
    next host in turn (:meth:`reading`), passing over those marked down; writes
    keep the failover order.
    """

    __slots__ = ("_all", "_turn", "spread")

    def __init__(self, hosts: list[tuple[str, int]], *, spread: bool = False) -> None:
        if not hosts:
            raise ValueError("at least one host")
        self._all = [Host(h, p) for h, p in hosts]
        self.spread = spread and len(self._all) > 1
        self._turn = -1

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    @property
    def first(self) -> Host:
        return self._all[0]

    def reading(self) -> Host | None:
        """Where the next zone read starts: the next host in turn, or None (in order)."""
        if not self.spread:
            return None
        self._turn = (self._turn + 1) % len(self._all)
        return self._all[self._turn]

    def pick(self, tried: Collection[Host] = (), start: Host | None = None) -> Host:
        """The first host up, counting from ``start`` (else the first configured);
        within one operation, hosts it already ``tried`` come last, so a retry moves
        on even when a short down mark has run out."""
        now = time.monotonic()
        hosts = self._all
        if start is not None:
            i = hosts.index(start)
            hosts = hosts[i:] + hosts[:i]
        fresh = [h for h in hosts if h not in tried] or hosts
        for host in fresh:
            if host.down_until <= now:
                return host
        return min(fresh, key=lambda h: h.down_until)

    def failed(self, host: Host, error: str) -> None:
        host.failures += 1
        host.last_error = error
        if len(self._all) == 1:
            return  # nowhere else to go: never wait on the only host
        was_up = host.down_until <= time.monotonic()
        host.down_until = time.monotonic() + _DOWN.delay(host.failures)
        if was_up:
            host.switches += 1
            log.warning("primary %s failed (%s); using %s", host.name, error, self.pick().name)

    def ok(self, host: Host) -> None:
        if host.failures:
            log.info("primary %s answers again", host.name)
        host.failures = 0
        host.down_until = 0.0

    def health(self) -> tuple[HostHealth, ...]:
        now = time.monotonic()
        return tuple(
            HostHealth(
                h.host,
                h.port,
                h.down_until <= now,
                h.failures,
                h.switches,
                h.last_error,
                h.transfers,
                h.updates,
            )
            for h in self._all
        )

    def close(self) -> None:
        for host in self._all:
            host.pool.close()
