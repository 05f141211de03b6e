"""Engine figures (issue: RFC 2136 engine), each against raw dnspython in the same run.

- apply 10,000 A records + ownership TXTs from empty on BIND9: dnssync's
  plan + apply vs a raw dnspython client sending the same records in
  1000-record messages;
- full read of the 10,000-record zone: dnssync's ZoneReader vs a bare
  dnspython AXFR (``dns.query.xfr`` consumed to the end);
- unchanged-zone check: a cached read (one signed SOA query).

Run: ``python bench/engine.py [--records N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import dns.query
import dns.update
import dns.zone

from bench.common import median, report, server, tsig
from dnssync.dns import applier
from dnssync.dns.client import Client
from dnssync.dns.zones import ZoneReader
from dnssync.model import Endpoint, ObjectRef
from dnssync.plan import PlanOptions, plan
from dnssync.registry import Registry, RegistryOptions
from tests.dnsservers import DNSServer

REGISTRY = Registry(RegistryOptions(owner_id="bench", prefix="extdns-"))


def _endpoints(zone: str, n: int) -> list[Endpoint]:
    return [
        Endpoint(
            f"h{i}.{zone}",
            "A",
            (f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",),
            ObjectRef("service", "bench", f"h{i}"),
            300,
        )
        for i in range(n)
    ]


def raw_apply(s: DNSServer, zone: str, n: int, per_message: int = 500) -> float:
    """The floor: plain dnspython, the same A + TXT records, 500 RRs a message.

    1000 RRs with their ~90-byte ownership TXTs would pass the 65,535-byte
    cap, so the floor sends the most that fit comfortably.
    """
    key = tsig(s.key)
    rows = []
    for i in range(n):
        name = f"h{i}.{zone}."
        txt = REGISTRY.ownership(f"h{i}.{zone}", "A", zone=zone, resource=f"service/bench/h{i}")
        rows.append((name, f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}", txt))
    t = time.perf_counter()
    upd = dns.update.UpdateMessage(zone + ".", keyring=key)
    count = 0
    for name, ip, txt in rows:
        upd.add(name, 300, "A", ip)
        upd.add(txt.name + ".", 300, "TXT", f'"{txt.value}"')
        count += 2
        if count >= per_message:
            assert dns.query.tcp(upd, s.host, port=s.port, timeout=30).rcode() == 0
            upd = dns.update.UpdateMessage(zone + ".", keyring=key)
            count = 0
    if count:
        assert dns.query.tcp(upd, s.host, port=s.port, timeout=30).rcode() == 0
    return time.perf_counter() - t


async def dnssync_apply(s: DNSServer, zone: str, n: int) -> tuple[float, int]:
    eps = _endpoints(zone, n)
    c = Client(s.host, s.port, key=tsig(s.key))
    t = time.perf_counter()
    snap = (await ZoneReader(c, zone).read()).snapshot
    p = plan(eps, snap, REGISTRY, PlanOptions(max_change_ratio=None))
    result = await applier.apply(c, zone, p.changes)
    elapsed = time.perf_counter() - t
    assert len(result.applied) == n, result.rejected[:3]
    return elapsed, result.messages


def raw_axfr(s: DNSServer, zone: str) -> float:
    t = time.perf_counter()
    key = tsig(s.key)
    msgs = list(
        dns.query.xfr(s.host, zone + ".", port=s.port, keyring={key.name: key}, lifetime=60)
    )
    assert msgs
    return time.perf_counter() - t


def raw_axfr_zone(s: DNSServer, zone: str) -> float:
    t = time.perf_counter()
    key = tsig(s.key)
    dns.zone.from_xfr(dns.query.xfr(s.host, zone + ".", port=s.port, keyring={key.name: key}))
    return time.perf_counter() - t


async def dnssync_read(s: DNSServer, zone: str) -> float:
    c = Client(s.host, s.port, key=tsig(s.key))
    t = time.perf_counter()
    read = await ZoneReader(c, zone).read()
    assert read.transfer == "axfr"
    return time.perf_counter() - t


async def cached_check(s: DNSServer, zone: str, rounds: int) -> float:
    reader = ZoneReader(Client(s.host, s.port, key=tsig(s.key)), zone)
    await reader.read()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        read = await reader.read()
        times.append(time.perf_counter() - t)
        assert read.transfer == "none"
    return median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.records
    with server("bind") as s:
        raw_t, ours_t, msgs = [], [], 0
        for r in range(args.rounds):
            z_raw, z_ours = f"raw{r}.bench", f"ours{r}.bench"
            s.add_zone(z_raw)
            s.add_zone(z_ours)
            raw_t.append(raw_apply(s, z_raw, n))
            t, msgs = asyncio.run(dnssync_apply(s, z_ours, n))
            ours_t.append(t)
        zone = f"ours{args.rounds - 1}.bench"
        axfr_raw = median([raw_axfr(s, zone) for _ in range(args.rounds)])
        axfr_zone = median([raw_axfr_zone(s, zone) for _ in range(args.rounds)])
        axfr_ours = median([asyncio.run(dnssync_read(s, zone)) for _ in range(args.rounds)])
        check = asyncio.run(cached_check(s, zone, 50))
    rows = [
        {"figure": f"raw dnspython apply {n} A+TXT (500 RR/msg)", "value": median(raw_t)},
        {
            "figure": f"dnssync read+plan+apply {n} A+TXT ({msgs} msgs)",
            "value": median(ours_t),
            "ratio": median(ours_t) / median(raw_t),
            "goal": 1.3,
        },
        {"figure": f"raw dnspython AXFR {n} (dns.query.xfr)", "value": axfr_raw},
        {"figure": f"raw dnspython AXFR {n} into dns.zone", "value": axfr_zone},
        {
            "figure": f"dnssync full read {n}",
            "value": axfr_ours,
            "ratio": axfr_ours / axfr_raw,
            "goal": 1.2,
        },
        {"figure": "dnssync unchanged-zone check (median of 50)", "value": check},
    ]
    report("engine", rows)


if __name__ == "__main__":
    main()
