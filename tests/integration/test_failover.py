"""Several primaries per target (`server.hosts`): failover without duplicates.

Design: two PowerDNS processes on one shared database are two real primaries of the same
zones (how multi-primary setups stay consistent: a shared SQL backend, or Active
Directory).  Two BIND primaries serving copies of a zone file would diverge on the first
UPDATE, so a test on them would prove nothing.  The first primary is SIGKILLed while a
sync is sending; the client marks it down, the unknown-outcome UPDATE is not re-sent
anywhere, the zone is re-read from the second primary and the re-planned remainder goes
there.  The zone converges with exactly one value per record and ownership TXT.
"""

from __future__ import annotations

import socket
import time
from collections import Counter

import dns.tsig
from pydantic import SecretStr

from dnssync.config import KeyConfig, ServerConfig, TargetConfig
from dnssync.controller import Loop, Target
from dnssync.dns import applier
from dnssync.dns.client import Client, Timeouts
from dnssync.dns.zones import ZoneReader
from dnssync.errors import DNSTimeout
from dnssync.http import Health
from dnssync.metrics import Metrics
from dnssync.plan import PlanOptions, plan
from dnssync.sources.index import ObjectIndex
from tests.dnsservers import BindServer, PdnsServer, PdnsTwin, start_server
from tests.integration.test_engine import REGISTRY, endpoints

N = 3000


async def test_primary_killed_mid_sync_second_takes_over() -> None:
    """SIGKILL the first primary after a few UPDATEs: the second finishes the sync, no
    duplicate and no FORMERR, and the switch takes about one server.timeout."""
    first = start_server("pdns")
    assert isinstance(first, PdnsServer)
    twin = PdnsTwin(first)
    try:
        twin.start()
        first.add_zone("failover.test")
        twin.follow()
        key = dns.tsig.Key(first.key.name, first.key.secret, first.key.algorithm)
        c = Client(
            first.host,
            hosts=[(first.host, first.port), (twin.host, twin.port)],
            key=key,
            timeouts=Timeouts(query=2.0, transfer=20.0, attempts=3),
        )
        reader = ZoneReader(c, "failover.test")
        eps = endpoints("failover.test", N)
        sent: list[float] = []
        killed: list[float] = []

        def progress(n: int) -> None:
            sent.append(time.monotonic())
            if len(sent) == 3 and not killed:
                first.kill()
                killed.append(time.monotonic())

        results = []
        for _ in range(4):  # the controller's loop: an unknown outcome means read again
            snap = (await reader.read()).snapshot
            p = plan(eps, snap, REGISTRY, PlanOptions(max_change_ratio=None))
            if not p.changes:
                break
            try:
                results.append(
                    await applier.apply(
                        c, "failover.test", p.changes, max_bytes=8000, progress=progress
                    )
                )
            except DNSTimeout:
                reader.mark_written()
                continue
            reader.mark_written()
        assert killed, "the first primary was killed mid-sync"
        switch = min(t for t in sent if t > killed[0]) - killed[0]
        print(f"failover: first UPDATE on the second primary {switch * 1000:.0f} ms after the kill")
        assert switch < 5.0
        for r in results:
            assert not r.rejected, [str(x) for x in r.rejected][:3]
        health = {h.port: h for h in c.health()}
        assert health[first.port].failures >= 1 and health[first.port].switches >= 1
        assert health[twin.port].failures == 0
        full = (await ZoneReader(c, "failover.test").read()).snapshot
        assert plan(eps, full, REGISTRY, PlanOptions(max_change_ratio=None)).changes == ()
        counts = Counter(
            len(rr.values) for k, rr in full.rrsets.items() if k.name != "failover.test"
        )
        assert set(counts) == {1}, f"a record or ownership TXT with several values: {counts}"
        assert sum(1 for k in full.rrsets if k.type == "A") == N + 1  # + ns1
    finally:
        twin.close()
        first.close()


async def test_config_hosts_failover_and_metrics_per_host(bind_server: BindServer) -> None:
    """`server.hosts` from the config: a dead first host is passed over on a real reconcile,
    and `dnssync_server_up` / `dnssync_server_failovers_total` say so per host."""
    zone = "hosts-metrics.test"
    bind_server.add_zone(zone)
    dead = _free_port()
    tcfg = TargetConfig(
        name="multi",
        server=ServerConfig(
            hosts=(f"127.0.0.1:{dead}", f"{bind_server.host}:{bind_server.port}"), timeout=2.0
        ),
        zones=(zone,),
        key=KeyConfig(
            name=bind_server.key.name,
            algorithm=bind_server.key.algorithm,
            secret=SecretStr(bind_server.key.secret),
        ),
        owner_id="multi",
        max_change_ratio=None,
    )
    target = Target(tcfg)
    metrics = Metrics()
    loop = Loop(
        target,
        ObjectIndex().view(target.source_options, {"service"}),
        metrics=metrics,
        health=Health(),
    )
    result = await loop.once()
    assert result is not None
    assert all(z.error is None for z in result.zones), [z.error for z in result.zones]
    value = metrics.registry.get_sample_value
    assert value("dnssync_server_up", {"target": "multi", "host": f"127.0.0.1:{dead}"}) == 0
    up = {"target": "multi", "host": f"{bind_server.host}:{bind_server.port}"}
    assert value("dnssync_server_up", up) == 1
    failovers = {"target": "multi", "host": f"127.0.0.1:{dead}"}
    assert value("dnssync_server_failovers_total", failovers) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
