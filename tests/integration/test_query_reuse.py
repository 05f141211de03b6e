"""A query right after an UPDATE rides the connection the UPDATE left open, and falls
back to UDP when that connection is gone: ACME's read-back costs no new socket."""

from __future__ import annotations

import socket
import threading

import dns.update

from dnssync.dns.client import Client
from dnssync.dns.transport import Connection
from tests.dnsservers import BindServer
from tests.integration.test_engine import tsig


def _tcp_udp(server: BindServer) -> tuple[int, int]:
    counts = server.request_counts()
    return counts.get("TCP queries received", 0), counts.get("UDP queries received", 0)


def _add(zone: str, name: str, value: str) -> dns.update.UpdateMessage:
    msg = dns.update.UpdateMessage(zone + ".")
    msg.add(name + ".", 60, "TXT", f'"{value}"')
    return msg


def _client(server: BindServer, label: str) -> tuple[Client, str, str]:
    """A client of a fresh zone, and the zone and an ACME name in it."""
    zone = f"reuse-{label}.test"
    server.add_zone(zone)
    return Client(server.host, server.port, key=tsig(server.key)), zone, f"_acme-challenge.{zone}"


async def test_a_read_after_a_write_goes_over_the_kept_connection(
    bind_server: BindServer,
) -> None:
    """The read-back is a TCP query on the UPDATE's connection, not a UDP one."""
    client, zone, name = _client(bind_server, "kept")
    await client.update(_add(zone, name, "one"), zone)
    tcp, udp = _tcp_udp(bind_server)
    assert await client.txt_values(name, zone=zone, signed=False) == {"one"}
    assert _tcp_udp(bind_server) == (tcp + 1, udp)
    assert client.pool.ready()  # given back for the next write


async def test_a_read_without_a_kept_connection_is_udp(bind_server: BindServer) -> None:
    """With no connection kept, or one the server has closed, the query is UDP, and right."""
    client, zone, name = _client(bind_server, "udp")
    tcp, udp = _tcp_udp(bind_server)
    assert await client.txt_values(name, zone=zone) == frozenset()
    assert _tcp_udp(bind_server) == (tcp, udp + 1)
    await client.update(_add(zone, name, "two"), zone)
    kept = client.pool.take()
    assert kept is not None
    kept.sock.close()  # as if the server had dropped it
    client.pool.give(kept)
    tcp, udp = _tcp_udp(bind_server)
    assert await client.txt_values(name, zone=zone) == {"two"}
    assert _tcp_udp(bind_server) == (tcp, udp + 1)


async def test_a_kept_connection_the_server_closes_mid_query_falls_back_to_udp(
    bind_server: BindServer,
) -> None:
    """A kept connection whose peer reads the query and hangs up: asked again over UDP."""
    client, zone, name = _client(bind_server, "eof")
    await client.update(_add(zone, name, "three"), zone)
    kept = client.pool.take()
    assert kept is not None
    kept.close()
    ours, peer = socket.socketpair()
    ours.setblocking(False)

    def read_then_hang_up() -> None:
        peer.recv(65535)
        peer.close()

    hangs_up = threading.Thread(target=read_then_hang_up)
    hangs_up.start()
    client.pool.give(Connection(ours))
    tcp, udp = _tcp_udp(bind_server)
    assert await client.txt_values(name, zone=zone) == {"three"}
    hangs_up.join()
    assert _tcp_udp(bind_server) == (tcp, udp + 1)
    assert not client.pool.ready()
