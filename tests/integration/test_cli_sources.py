"""DNSEndpoints and Gateway API routes in a manifests directory: `dnssync plan` shows them,
`sync --once` publishes them to real BIND9, and a second run has nothing to do."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import yaml

from tests.dnsservers import DNSServer
from tests.integration.test_cli import _config, _rr, axfr, dnssync

MANAGE = {"external-dns.alpha.kubernetes.io/manage": "mdapi"}
_count = itertools.count()


def _zone(server: DNSServer) -> str:
    zone = f"cli-sources{next(_count)}.test"
    server.add_zone(zone)
    return zone


def _write(path: Path, *docs: dict[str, Any]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "objects.yaml").write_text(yaml.safe_dump_all(docs))
    return path


def dnsendpoint(zone: str) -> dict[str, Any]:
    return {
        "apiVersion": "externaldns.k8s.io/v1alpha1",
        "kind": "DNSEndpoint",
        "metadata": {"name": "mail", "namespace": "infra", "annotations": MANAGE},
        "spec": {
            "endpoints": [
                {"dnsName": zone, "recordType": "MX", "targets": [f"10 mx.{zone}"]},
                {"dnsName": zone, "recordType": "TXT", "targets": ["v=spf1 mx -all"]},
                {
                    "dnsName": f"_imaps._tcp.{zone}",
                    "recordType": "SRV",
                    "targets": [f"0 1 993 mx.{zone}"],
                    "recordTTL": 3600,
                },
                {"dnsName": f"mx.{zone}", "recordType": "A", "targets": ["192.0.2.25"]},
            ]
        },
    }


def test_a_dnsendpoint_is_planned_synced_and_then_idle(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """plan lists each record of the DNSEndpoint; sync --once writes them; a rerun changes none."""
    zone = _zone(bind_server)
    manifests = _write(tmp_path / "manifests", dnsendpoint(zone))
    cfg = _config(
        tmp_path,
        bind_server,
        zone,
        manifests,
        sources=["crd"],
        managed_record_types=["A", "AAAA", "CNAME", "TXT", "MX", "SRV"],
    )
    planned = dnssync("plan", "-c", str(cfg))
    assert planned.returncode == 2, planned.stdout + planned.stderr  # changes pending
    for shown in (f"_imaps._tcp.{zone}", "SRV", "MX", "v=spf1 mx -all", "crd/infra/mail"):
        assert shown in planned.stdout, (shown, planned.stdout)
    synced = dnssync("sync", "--once", "-c", str(cfg))
    assert synced.returncode == 0, synced.stderr
    z = axfr(bind_server, zone)
    assert _rr(z, "@", "MX") == [f"10 mx.{zone}."]
    assert '"v=spf1 mx -all"' in _rr(z, "@", "TXT")
    assert _rr(z, "_imaps._tcp", "SRV") == [f"0 1 993 mx.{zone}."]
    assert _rr(z, "mx", "A") == ["192.0.2.25"]
    serial = z.get_soa().serial
    again = dnssync("sync", "--once", "-c", str(cfg))
    assert again.returncode == 0 and "in step" in again.stdout, again.stdout + again.stderr
    assert axfr(bind_server, zone).get_soa().serial == serial, "a no-op run sent an UPDATE"
    assert dnssync("plan", "-c", str(cfg)).returncode == 0


def gateway_and_route(zone: str) -> list[dict[str, Any]]:
    """A Gateway (in a manifest: no status, a target annotation) and a route elsewhere."""
    gw = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {
            "name": "edge",
            "namespace": "infra",
            "annotations": {"external-dns.alpha.kubernetes.io/target": "192.0.2.80"},
        },
        "spec": {
            "gatewayClassName": "example",
            "listeners": [
                {
                    "name": "https",
                    "protocol": "HTTPS",
                    "port": 443,
                    "hostname": f"*.{zone}",
                    "allowedRoutes": {"namespaces": {"from": "All"}},
                }
            ],
        },
    }
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "shop", "namespace": "web", "annotations": MANAGE},
        "spec": {
            "parentRefs": [{"name": "edge", "namespace": "infra"}],
            "hostnames": [f"shop.{zone}", "shop.elsewhere.example"],
        },
    }
    return [route, gw]  # the route first: its Gateway is found wherever it is


def test_an_httproute_is_planned_through_its_gateway_and_synced(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """plan shows the route's name (the listener's wildcard admits it, the other name is not
    under it); sync --once writes it with the Gateway's target; a rerun sends nothing."""
    zone = _zone(bind_server)
    manifests = _write(tmp_path / "manifests", *gateway_and_route(zone), dnsendpoint(zone))
    cfg = _config(tmp_path, bind_server, zone, manifests, sources=["gateway-httproute", "crd"])
    planned = dnssync("plan", "-c", str(cfg))
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert f"shop.{zone}" in planned.stdout and "httproute/web/shop" in planned.stdout
    assert "elsewhere" not in planned.stdout + planned.stderr
    synced = dnssync("sync", "--once", "-c", str(cfg))
    assert synced.returncode == 0, synced.stdout + synced.stderr
    z = axfr(bind_server, zone)
    assert _rr(z, "shop", "A") == ["192.0.2.80"]
    assert _rr(z, "mx", "A") == ["192.0.2.25"]  # the DNSEndpoint beside it (A is managed)
    assert _rr(z, "extdns-a-shop", "TXT") == [
        '"heritage=external-dns,external-dns/owner=cli-test,'
        'external-dns/resource=httproute/web/shop"'
    ]
    again = dnssync("sync", "--once", "-c", str(cfg))
    assert again.returncode == 0 and "in step" in again.stdout, again.stdout + again.stderr
