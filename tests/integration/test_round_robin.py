"""`server.read: round-robin`: zone reads spread over the hosts, writes stay in order.

Two real BIND servers: a primary and a secondary that copies its zone (NOTIFY + IXFR, or
left lagging without NOTIFY).  Updates go to the first host only (a secondary would not
take them); transfers take the hosts in turn.  A lagging secondary must never roll the
snapshot back: the read right after our own write goes where writes go, and a serial
behind the one read before sends the read there too.
"""

from __future__ import annotations

import asyncio
import time

import dns.tsig
from pydantic import SecretStr

from dnssync.config import KeyConfig, ServerConfig, TargetConfig
from dnssync.controller import Loop, Target
from dnssync.dns import applier
from dnssync.dns.client import Client, Timeouts
from dnssync.dns.zones import ZoneReader
from dnssync.http import Health
from dnssync.metrics import Metrics
from dnssync.plan import PlanOptions, plan
from dnssync.sources.index import ObjectIndex
from tests.dnsservers import BindSecondary, BindServer
from tests.integration.test_engine import REGISTRY, endpoints

N = 200


def _client(primary: BindServer, secondary: BindSecondary) -> Client:
    key = dns.tsig.Key(primary.key.name, primary.key.secret, primary.key.algorithm)
    return Client(
        primary.host,
        hosts=[(primary.host, primary.port), (secondary.host, secondary.port)],
        key=key,
        timeouts=Timeouts(query=2.0, transfer=20.0),
        spread_reads=True,
    )


async def _sync(c: Client, reader: ZoneReader, zone: str, n: int, octet: int) -> None:
    eps = endpoints(zone, n, octet=octet)
    snap = (await reader.read()).snapshot
    p = plan(eps, snap, REGISTRY, PlanOptions(max_change_ratio=None))
    result = await applier.apply(c, zone, p.changes, max_bytes=8000)
    assert not result.rejected, [str(x) for x in result.rejected][:3]
    reader.mark_written()
    again = (await reader.read()).snapshot
    assert plan(eps, again, REGISTRY, PlanOptions(max_change_ratio=None)).changes == ()


async def _caught_up(secondary: BindSecondary, c: Client, zone: str, serial: int) -> None:
    deadline = time.monotonic() + 10
    probe = Client(secondary.host, secondary.port, key=c.key, timeouts=c.timeouts)
    while await probe.soa_serial(zone) != serial:
        assert time.monotonic() < deadline, "the secondary did not follow the primary"
        await asyncio.sleep(0.05)


async def test_transfers_alternate_between_hosts_and_writes_stay_on_the_first(
    bind_server: BindServer, bind_secondary: BindSecondary
) -> None:
    """With a following secondary, transfers alternate between both hosts while every
    UPDATE goes to the first; each read's snapshot is the whole, current zone."""
    zone = "rr-follow.test"
    bind_secondary.add_secondary_zone(zone, bind_server)
    c = _client(bind_server, bind_secondary)
    reader = ZoneReader(c, zone)
    await _sync(c, reader, zone, N, octet=1)
    serial = await Client(bind_server.host, bind_server.port, key=c.key).soa_serial(zone)
    await _caught_up(bind_secondary, c, zone, serial)
    for _ in range(6):
        reader.forget()  # a full read each time: every one is a transfer
        snap = (await reader.read()).snapshot
        assert sum(1 for k in snap.rrsets if k.type == "A") == N + 1  # + ns1
    primary, second = c.health()
    print(f"round-robin: transfers {primary.transfers} / {second.transfers}")
    assert second.transfers >= 3 and primary.transfers >= 3
    assert second.updates == 0 and primary.updates > 0


async def test_a_lagging_secondary_never_rolls_the_snapshot_back(
    bind_server: BindServer, bind_secondary: BindSecondary
) -> None:
    """A secondary without NOTIFY stays behind: the read after our write and every read
    whose SOA is older than the snapshot go to the first host, so re-planning stays empty."""
    zone = "rr-lag.test"
    bind_secondary.add_secondary_zone(zone, bind_server, notify=False)
    c = _client(bind_server, bind_secondary)
    reader = ZoneReader(c, zone)
    await _sync(c, reader, zone, 50, octet=2)
    eps = endpoints(zone, 50, octet=2)
    for _ in range(4):  # alternate starts: half of them on the lagging secondary
        snap = (await reader.read()).snapshot
        assert plan(eps, snap, REGISTRY, PlanOptions(max_change_ratio=None)).changes == ()
    _, second = c.health()
    assert second.transfers == 0 and second.updates == 0


async def test_config_round_robin_metrics_per_host(
    bind_server: BindServer, bind_secondary: BindSecondary
) -> None:
    """`server.read: round-robin` from the config spreads a target's transfers over its
    hosts, and `dnssync_server_requests_total` counts them per host."""
    zone = "rr-metrics.test"
    bind_secondary.add_secondary_zone(zone, bind_server)
    key = bind_server.key
    tcfg = TargetConfig(
        name="spread",
        server=ServerConfig(
            hosts=tuple(f"{s.host}:{s.port}" for s in (bind_server, bind_secondary)),
            read="round-robin",
        ),
        zones=(zone,),
        key=KeyConfig(name=key.name, algorithm=key.algorithm, secret=SecretStr(key.secret)),
        owner_id="spread",
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
    for _ in range(4):
        target.readers[zone].forget()
        result = await loop.once()
        assert result is not None
        assert all(z.error is None for z in result.zones), [z.error for z in result.zones]
    value = metrics.registry.get_sample_value
    for h in target.transfer_client.health():
        labels = {"target": "spread", "host": f"{h.host}:{h.port}", "kind": "transfer"}
        assert h.transfers >= 1
        assert value("dnssync_server_requests_total", labels) == h.transfers
