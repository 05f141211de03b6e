"""A burst of concurrent challenges against one BIND primary (issue #10, item 8).

N Presents posted at once to the webhook (its own process, HTTPS with a
front-proxy client certificate), then N CleanUps: reports how many succeeded,
the wall time of each wave, and whether the zone is exactly as before
afterwards (no value, no marker left).  ``--cap`` sets
``acme.servers[].max_concurrent_updates``, the UPDATEs one primary gets at once.

Run from the repository root: ``python -m bench.acme_burst [--challenges 1000] [--cap 16]``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import dns.query
import dns.zone

from bench.acme import GROUP, HEADERS, SOLVER, Tls, WebhookProcess, acme_value, body
from bench.common import report, server, tsig
from tests.dnsservers import DNSServer


async def post(session: aiohttp.ClientSession, url: str, action: str, record: str, v: str) -> str:
    """ "" on success, else the failure message."""
    try:
        async with session.post(url, json=body(action, record, v), headers=HEADERS) as resp:
            doc = await resp.json()
    except aiohttp.ClientError as e:
        return f"HTTP: {e}"
    return "" if doc["response"]["success"] else str(doc["response"]["status"]["message"])


def zone_text(s: DNSServer, zone: str) -> set[str]:
    """Every record but the SOA (a signed AXFR), as text."""
    key = tsig(s.key)
    z = dns.zone.from_xfr(dns.query.xfr(s.host, zone, port=s.port, keyring={key.name: key}))
    return {
        f"{name} {rds.rdtype.name} {rd}"
        for name, rds in z.iterate_rdatasets()
        if rds.rdtype.name != "SOA"
        for rd in rds
    }


async def burst(
    port: int, tls: Tls, zone: str, n: int
) -> tuple[list[str], float, list[str], float]:
    url = f"https://127.0.0.1:{port}/apis/{GROUP}/v1alpha1/{SOLVER}"
    # Four values per name, as apex + wildcard certificates for two accounts would.
    work = [(f"_acme-challenge.b{i // 4}.{zone}", acme_value()) for i in range(n)]
    connector = aiohttp.TCPConnector(ssl=tls.client_context(), limit=n)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        t = time.perf_counter()
        presented = await asyncio.gather(*(post(session, url, "Present", r, v) for r, v in work))
        present_s = time.perf_counter() - t
        t = time.perf_counter()
        cleaned = await asyncio.gather(*(post(session, url, "CleanUp", r, v) for r, v in work))
        cleanup_s = time.perf_counter() - t
    return list(presented), present_s, list(cleaned), cleanup_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--challenges", type=int, default=1000)
    ap.add_argument("--cap", type=int, default=16, help="max_concurrent_updates")
    args = ap.parse_args()
    with server("bind") as s, tempfile.TemporaryDirectory() as tmp:
        zone = "burst.acme.bench"
        s.add_zone(zone)
        before = zone_text(s, zone)
        tls = Tls(Path(tmp))
        cap = {"max_concurrent_updates": args.cap}
        with WebhookProcess(s, [zone], tls, server_options=cap) as hook:
            presented, present_s, cleaned, cleanup_s = asyncio.run(
                burst(hook.port, tls, zone, args.challenges)
            )
        after = zone_text(s, zone)
    failures = [m for m in presented + cleaned if m]
    n = args.challenges
    print(f"{n} concurrent Presents, one BIND primary, cap {args.cap}:")
    print(f"  Presents succeeded  {n - sum(1 for m in presented if m)}/{n}  in {present_s:.2f} s")
    print(f"  CleanUps succeeded  {n - sum(1 for m in cleaned if m)}/{n}  in {cleanup_s:.2f} s")
    print(f"  zone after CleanUps {'as before' if after == before else 'NOT clean'}", end="")
    print(f" ({len(after - before)} records left)")
    for m in sorted(set(failures))[:5]:
        print(f"  failure: {m}")
    ok_p = n - sum(1 for m in presented if m)
    ok_c = n - sum(1 for m in cleaned if m)
    clean = "zone clean" if after == before else f"{len(after - before)} records left"
    report(
        "acme_burst",
        [
            {"figure": f"{n} concurrent Presents (cap {args.cap}): {ok_p} ok", "value": present_s},
            {"figure": f"{n} concurrent CleanUps: {ok_c} ok, {clean}", "value": cleanup_s},
        ],
    )


if __name__ == "__main__":
    main()
