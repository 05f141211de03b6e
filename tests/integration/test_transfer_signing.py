"""A signed transfer whose last message is unsigned is refused (RFC 8945 5.3.1).

Messages of a TSIG-signed transfer after the first may go unsigned (up to 99
in a row), but the last one must be signed: otherwise anything on the path
can append records or cut the zone short after the final signature.  The
server here is in-test on loopback: it signs the first message with the
session key and leaves the closing SOA's message unsigned.
"""

from __future__ import annotations

import asyncio
import struct

import dns.message
import dns.rrset
import dns.tsig
import pytest

from dnssync.dns.client import Client, Timeouts
from dnssync.errors import TransferFailed

KEY = dns.tsig.Key("xfr-key.", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=", "hmac-sha256")
ZONE = "signed.test"
SOA = "ns. host. 7 1 1 1 1"


def _frame(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


async def _serve(*, sign_last: bool) -> tuple[asyncio.Server, int]:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        (n,) = struct.unpack("!H", await r.readexactly(2))
        query = dns.message.from_wire(await r.readexactly(n), keyring={KEY.name: KEY})
        first = dns.message.make_response(query)
        first.answer.append(dns.rrset.from_text(ZONE + ".", 300, "IN", "SOA", SOA))
        first.answer.append(dns.rrset.from_text(f"a.{ZONE}.", 300, "IN", "A", "192.0.2.1"))
        w.write(_frame(first.to_wire(multi=True)))
        last = dns.message.make_response(query)
        last.answer.append(dns.rrset.from_text(f"b.{ZONE}.", 300, "IN", "A", "192.0.2.66"))
        last.answer.append(dns.rrset.from_text(ZONE + ".", 300, "IN", "SOA", SOA))
        if sign_last:
            w.write(_frame(last.to_wire(multi=True, tsig_ctx=first.tsig_ctx)))
        else:
            last.tsig = None  # the records as the server would send them, no TSIG
            w.write(_frame(last.to_wire()))
        await w.drain()
        w.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _client(port: int) -> Client:
    return Client(
        "127.0.0.1",
        port,
        key=KEY,
        timeouts=Timeouts(query=1, transfer=3, attempts=1),
    )


async def test_signed_transfer_is_read() -> None:
    """The control: first and last message signed, the zone is taken."""
    server, port = await _serve(sign_last=True)
    async with server:
        result = await _client(port).transfer(ZONE)
    assert result.kind == "axfr" and result.serial == 7
    assert {r.name for r in result.full} >= {f"a.{ZONE}", f"b.{ZONE}"}


async def test_transfer_whose_last_message_is_unsigned_fails() -> None:
    """An unsigned last message fails the whole read: no snapshot from it."""
    server, port = await _serve(sign_last=False)
    async with server:
        with pytest.raises(TransferFailed, match="last message is not signed"):
            await _client(port).transfer(ZONE)
