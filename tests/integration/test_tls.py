"""DNS over TLS (XoT, RFC 9103) for transfers, updates and queries, against real BIND 9.18.

BIND serves TLS with a certificate from a trustme CA; dnssync's client verifies it
against that CA (`server.tls.ca_file`) and the name it must carry (`server_name`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dns.tsig
import pytest
import trustme

from dnssync.config import ServerConfig, TLSConfig
from dnssync.dns import applier
from dnssync.dns.client import Client, Timeouts, server_tls
from dnssync.dns.zones import ZoneReader
from dnssync.errors import ConnectionFailed, DNSError
from dnssync.plan import PlanOptions, plan
from tests.dnsservers import TlsBindServer
from tests.integration.test_engine import REGISTRY, endpoints

NAME = "ns1.xot.test"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A private CA for the test server."""
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_bind(ca: trustme.CA) -> Iterator[TlsBindServer]:
    """BIND with a TLS listener whose certificate names ns1.xot.test."""
    cert = ca.issue_cert(NAME)
    server = TlsBindServer(
        cert.private_key_and_cert_chain_pem.bytes(), cert.private_key_pem.bytes()
    )
    try:
        server.start()
        server.add_zone("xot.test")
        yield server
    finally:
        server.close()


def _client(server: TlsBindServer, ca_file: Path | None, *, server_name: str) -> Client:
    cfg = ServerConfig(
        host=server.host,
        port=server.tls_port,
        tls=TLSConfig(ca_file=ca_file, server_name=server_name),
    )
    key = dns.tsig.Key(server.key.name, server.key.secret, server.key.algorithm)
    return Client(
        server.host, server.tls_port, key=key, timeouts=Timeouts(query=3.0), tls=server_tls(cfg)
    )


async def test_sync_and_read_over_tls(
    tls_bind: TlsBindServer, ca: trustme.CA, tmp_path: Path
) -> None:
    """SOA, AXFR, IXFR and UPDATEs go over TLS to the TLS port, verified against the CA;
    the connection is kept between exchanges (a handshake costs ~50 ms here)."""
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    c = _client(tls_bind, ca_file, server_name=NAME)
    assert c.label.startswith("server tls://")
    reader = ZoneReader(c, "xot.test")
    snap = (await reader.read()).snapshot
    eps = endpoints("xot.test", 300)
    p = plan(eps, snap, REGISTRY, PlanOptions(max_change_ratio=None))
    result = await applier.apply(c, "xot.test", p.changes)
    assert len(result.applied) == 300 and not result.rejected
    reader.mark_written()
    again = await reader.read()
    assert again.transfer == "ixfr"
    assert plan(eps, again.snapshot, REGISTRY, PlanOptions(max_change_ratio=None)).changes == ()
    assert "host7.xot.test" in {k.name for k in again.snapshot.rrsets}
    assert c.pool, "the TLS connection is kept for the next query or UPDATE"


async def test_wrong_ca_or_name_is_refused_before_any_dns(
    tls_bind: TlsBindServer, tmp_path: Path
) -> None:
    """A certificate from another CA, or for another name, fails the handshake: one line."""
    other = trustme.CA()
    other_file = tmp_path / "other.pem"
    other.cert_pem.write_to_path(str(other_file))
    for c in (
        _client(tls_bind, other_file, server_name=NAME),
        _client(tls_bind, None, server_name="elsewhere.test"),
    ):
        with pytest.raises(DNSError) as info:
            await c.soa_serial("xot.test")
        assert "TLS" in str(info.value) or isinstance(info.value, ConnectionFailed)
        assert "\n" not in str(info.value)
