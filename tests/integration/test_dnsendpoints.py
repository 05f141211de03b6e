"""DNSEndpoints end to end: the fake Kubernetes API -> dnssync's service -> real BIND.

TXT, MX and SRV records round-trip (written with their ownership TXT, read
back, re-planned empty), ``status.observedGeneration`` follows each applied
generation as external-dns writes it, and a bad entry is one Warning Event
while the rest of its object is published.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dnssync.app import App
from tests.dnsservers import DNSServer
from tests.fakekube import FakeKube
from tests.integration.test_service import config, kube, lookup, running, target, until

__all__ = ["kube"]  # the fixture, shared with test_service

CRD = "externaldns.k8s.io/v1alpha1"
_zones = iter(range(10_000))


def dnsendpoint(name: str, endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": CRD,
        "kind": "DNSEndpoint",
        "metadata": {
            "name": name,
            "namespace": "web",
            "annotations": {"external-dns.alpha.kubernetes.io/manage": "mdapi"},
        },
        "spec": {"endpoints": endpoints},
    }


def observed(kube: FakeKube, name: str) -> tuple[int, int | None]:
    obj = kube.get(CRD, "DNSEndpoint", name, "web")
    assert obj is not None
    return obj["metadata"]["generation"], (obj.get("status") or {}).get("observedGeneration")


async def test_records_of_every_kind_round_trip_and_status_follows(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """A, TXT, MX and SRV go to BIND, re-plan empty; observedGeneration tracks each applied spec."""
    zone = f"crd{next(_zones)}.test"
    bind_server.add_zone(zone)
    cfg = target(
        "internal",
        bind_server,
        zone,
        sources=("crd",),
        managed_record_types=("A", "AAAA", "CNAME", "TXT", "MX", "SRV"),
    )
    app = App(config(kube.write_kubeconfig(tmp_path), cfg))
    records: list[dict[str, Any]] = [
        {"dnsName": f"www.{zone}", "recordType": "A", "targets": ["192.0.2.10"]},
        {"dnsName": zone, "recordType": "TXT", "targets": ["v=spf1 -all", "x" * 300]},
        {"dnsName": zone, "recordType": "MX", "targets": [f"10 mail.{zone}"], "recordTTL": 600},
        {"dnsName": f"_sip._tcp.{zone}", "recordType": "SRV", "targets": [f"0 5 5060 sip.{zone}."]},
        {"dnsName": f"bad.{zone}", "recordType": "A", "targets": ["192.0.2.300"]},
    ]
    async with running(app):
        kube.create(dnsendpoint("records", records))
        await until(lambda: lookup(bind_server, f"_sip._tcp.{zone}", "SRV"))
        assert await lookup(bind_server, f"www.{zone}") == ["192.0.2.10"]
        assert await lookup(bind_server, zone, "MX") == [f"10 mail.{zone}."]
        assert await lookup(bind_server, f"_sip._tcp.{zone}", "SRV") == [f"0 5 5060 sip.{zone}."]
        txt = await lookup(bind_server, zone, "TXT")
        assert '"v=spf1 -all"' in txt and f'"{"x" * 255}" "{"x" * 45}"' in txt
        await until(lambda: observed(kube, "records") == (1, 1))

        loop = app.loops[0]
        again = await loop.target.reconcile(loop.feed.endpoints(), apply=False)
        assert again.pending == 0, [z.plan for z in again.zones]

        def warned() -> list[dict[str, Any]]:
            events = kube.list("v1", "Event", "web")
            return [e for e in events if e.get("reason") == "Invalid"]

        await until(warned)
        [event] = warned()
        assert event["type"] == "Warning" and event["involvedObject"]["kind"] == "DNSEndpoint"
        assert "spec.endpoints[4].targets" in event["message"]

        records[0]["targets"] = ["192.0.2.11"]
        kube.patch(CRD, "DNSEndpoint", "records", "web", {"spec": {"endpoints": records}})
        await until(lambda: _is(lookup(bind_server, f"www.{zone}"), ["192.0.2.11"]))
        await until(lambda: observed(kube, "records") == (2, 2))


async def _is(values: Any, expected: list[str]) -> bool:
    return bool(await values == expected)


async def test_ignored_fields_do_not_hold_deletes(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """A setIdentifier is reported as ignored, yet under sync a dropped entry is deleted:
    nothing is missing because of it (a bad entry, by contrast, holds deletes)."""
    zone = f"crd{next(_zones)}.test"
    bind_server.add_zone(zone)
    app = App(
        config(
            kube.write_kubeconfig(tmp_path), target("internal", bind_server, zone, sources=("crd",))
        )
    )
    keep = {
        "dnsName": f"keep.{zone}",
        "recordType": "A",
        "targets": ["192.0.2.1"],
        "setIdentifier": "eu",
    }
    drop = {"dnsName": f"drop.{zone}", "recordType": "A", "targets": ["192.0.2.2"]}
    async with running(app):
        kube.create(dnsendpoint("records", [keep, drop]))
        await until(lambda: lookup(bind_server, f"drop.{zone}"))
        kube.patch(CRD, "DNSEndpoint", "records", "web", {"spec": {"endpoints": [keep]}})
        await until(lambda: _is(lookup(bind_server, f"drop.{zone}"), []))
        assert await lookup(bind_server, f"keep.{zone}") == ["192.0.2.1"]
        assert [str(e) for e in app.loops[0].feed.errors()] == [
            "crd web/records: spec.endpoints[0].setIdentifier: "
            "ignored: RFC 2136 has no routing policies to tell record sets apart"
        ]
