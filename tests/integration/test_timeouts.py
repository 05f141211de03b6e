"""Each configured timeout bounds a whole operation, retries included (issue #10 item 9).

Against servers that stop answering: a real BIND frozen with SIGSTOP, and loopback
sockets that accept (TCP) or read (UDP) and never answer.  Every operation must end
with a dnssync error within its one bound, whatever ``attempts`` says.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import dns.update
import pytest

from dnssync.dns.client import Client, Timeouts
from dnssync.dns.zones import ZoneReader
from dnssync.errors import DNSError, DNSTimeout
from tests.dnsservers import start_server
from tests.integration.test_engine import tsig

SLACK = 0.6  # scheduling on a loaded 2-core machine


async def _elapsed(op: Awaitable[Any]) -> tuple[float, BaseException]:
    start = time.monotonic()
    with pytest.raises(DNSError) as info:
        await asyncio.wait_for(op, 30)
    return time.monotonic() - start, info.value


@asynccontextmanager
async def _silent() -> AsyncIterator[int]:
    """A loopback port whose TCP accepts and UDP reads, and which never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        held.append(w)  # kept open, never written to

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))  # datagrams queue up unread
    try:
        async with server:
            yield port
    finally:
        udp.close()
        for w in held:
            w.close()


async def test_silent_socket_bounds_every_operation() -> None:
    """SOA, TXT, transfer and UPDATE each end within their one bound despite 5 attempts."""
    t = Timeouts(query=0.4, transfer=1.0, attempts=5)
    async with _silent() as port:
        c = Client("127.0.0.1", port, timeouts=t)
        for op, bound in (
            (c.soa_serial("example.test"), t.query),
            (c.txt_values("x.example.test", zone="example.test"), t.query),
            (c.transfer("example.test"), t.transfer),
            (ZoneReader(c, "example.test").read(), t.transfer),
        ):
            took, _ = await _elapsed(op)
            assert took < bound + SLACK, (took, bound)
        upd = dns.update.UpdateMessage("example.test.")
        took, err = await _elapsed(c.update(upd, "example.test"))
        assert isinstance(err, DNSTimeout) and "outcome unknown" in str(err)
        assert took < t.query + SLACK, took


async def test_transfer_message_gap_is_the_server_timeout() -> None:
    """A transfer stalls after its first message: it fails after server.timeout, not 10 s."""
    t = Timeouts(query=0.5, transfer=20.0, attempts=1)
    async with _silent() as port:
        c = Client("127.0.0.1", port, timeouts=t)
        took, _ = await _elapsed(c.transfer("example.test"))
    assert took < t.query + SLACK, took


def _is_stopped(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")


async def _stopped(pid: int) -> None:
    """Until the kernel shows ``pid`` stopped: kill() only queues the signal, and on a
    loaded machine a query sent at once may still be answered."""
    for _ in range(500):
        if _is_stopped(pid):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"process {pid} did not stop")


async def test_sigstopped_bind_bounds_the_read_and_the_update() -> None:
    """A real BIND frozen mid-run: read and UPDATE end within their bounds, then recover."""
    server = start_server("bind")
    try:
        server.add_zone("frozen.test")
        t = Timeouts(query=0.5, transfer=1.5, attempts=3)
        c = Client(server.host, server.port, key=tsig(server.key), timeouts=t)
        reader = ZoneReader(c, "frozen.test")
        await reader.read()
        reader.forget()
        assert server.pid is not None
        os.kill(server.pid, signal.SIGSTOP)
        await _stopped(server.pid)
        try:
            took, _ = await _elapsed(reader.read())
            assert took < t.transfer + SLACK, took
            upd = dns.update.UpdateMessage("frozen.test.")
            upd.add("a.frozen.test.", 300, "A", "192.0.2.1")
            took, err = await _elapsed(c.update(upd, "frozen.test"))
            assert isinstance(err, DNSTimeout)
            assert took < t.query + SLACK, took
        finally:
            os.kill(server.pid, signal.SIGCONT)
        assert (await reader.read()).transfer == "axfr"
    finally:
        server.close()
