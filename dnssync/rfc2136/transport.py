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
import socket
import struct
import time

from dnssync.errors import ConnectionFailed, DNSTimeout

#: How long, and how many, connections are kept for reuse.  BIND closes idle
#: TCP clients after 30 s, Knot after its tcp-idle-timeout.
KEEP_ALIVE = 5.0
KEEP_IDLE = 4
_LENGTH = struct.Struct("!H")


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
        while self._idle:
            since, conn = self._idle.pop()
            if now - since < KEEP_ALIVE and not conn.buf:
                return conn
            conn.close()
        return None

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
