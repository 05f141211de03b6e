"""Gateway API routes end to end: the fake Kubernetes API -> dnssync's service -> real BIND.

The Gateway is watched as a dependency: a new address on it moves the records of
its routes (no route changed), a route becomes visible once its Gateway accepts it,
and a listener that stops admitting a route withdraws its records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dnssync.app import App
from dnssync.kinds import KINDS
from tests.dnsservers import DNSServer
from tests.fakekube import FakeKube
from tests.integration.test_cluster_plan import _config as cluster_config
from tests.integration.test_cluster_plan import dnssync
from tests.integration.test_service import config, kube, lookup, running, target, until

__all__ = ["kube"]  # the fixture, shared with test_service

GW = "gateway.networking.k8s.io/v1"
MANAGE = {"external-dns.alpha.kubernetes.io/manage": "mdapi"}
_zones = iter(range(10_000))


def gateway(zone: str, ip: str) -> dict[str, Any]:
    listener = {
        "name": "https",
        "protocol": "HTTPS",
        "port": 443,
        "hostname": f"*.{zone}",
        "allowedRoutes": {
            "namespaces": {"from": "Selector", "selector": {"matchLabels": {"dns": "yes"}}}
        },
    }
    return {
        "apiVersion": GW,
        "kind": "Gateway",
        "metadata": {"name": "edge", "namespace": "infra"},
        "spec": {"gatewayClassName": "example", "listeners": [listener]},
        "status": {"addresses": [{"type": "IPAddress", "value": ip}]},
    }


def httproute(name: str, host: str, *, accepted: bool) -> dict[str, Any]:
    ref = {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "name": "edge",
        "namespace": "infra",
    }
    status = "True" if accepted else "False"
    return {
        "apiVersion": GW,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": "web", "annotations": MANAGE},
        "spec": {"parentRefs": [ref], "hostnames": [host]},
        "status": {
            "parents": [
                {
                    "parentRef": ref,
                    "controllerName": "example.org/gateway",
                    "conditions": [{"type": "Accepted", "status": status, "reason": "Test"}],
                }
            ]
        },
    }


def _accept(kube: FakeKube, name: str) -> None:
    route = kube.get(GW, "HTTPRoute", name, "web")
    assert route is not None
    parents = route["status"]["parents"]
    parents[0]["conditions"][0]["status"] = "True"
    kube.patch(GW, "HTTPRoute", name, "web", {"status": {"parents": parents}})


async def test_gateway_changes_drive_the_records_of_its_routes(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """Route published through its Gateway; the Gateway's address, acceptance and listener
    selector (a Namespace's labels) each move the records, with no change to the route."""
    zone = f"gw{next(_zones)}.test"
    bind_server.add_zone(zone)
    cfg = target("internal", bind_server, zone, sources=("gateway-httproute",))
    app = App(config(kube.write_kubeconfig(tmp_path), cfg))
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "web", "labels": {"dns": "yes"}},
        }
    )
    kube.create(gateway(zone, "192.0.2.10"))
    kube.create(httproute("app", f"app.{zone}", accepted=True))
    kube.create(httproute("later", f"later.{zone}", accepted=False))
    async with running(app):
        await until(lambda: lookup(bind_server, f"app.{zone}"))
        assert await lookup(bind_server, f"app.{zone}") == ["192.0.2.10"]
        assert await lookup(bind_server, f"later.{zone}") == []

        kube.patch(
            GW,
            "Gateway",
            "edge",
            "infra",
            {"status": {"addresses": [{"type": "Hostname", "value": f"lb.{zone}"}]}},
        )
        await until(lambda: _is(lookup(bind_server, f"app.{zone}", "CNAME"), [f"lb.{zone}."]))

        _accept(kube, "later")
        await until(lambda: _is(lookup(bind_server, f"later.{zone}", "CNAME"), [f"lb.{zone}."]))

        kube.patch("v1", "Namespace", "web", None, {"metadata": {"labels": {"dns": "no"}}})
        await until(lambda: _is(lookup(bind_server, f"app.{zone}", "CNAME"), []))
        assert await lookup(bind_server, f"later.{zone}", "CNAME") == []


async def _is(values: Any, expected: list[str]) -> bool:
    return bool(await values == expected)


#: Every route kind of the registry, and the listener protocol it attaches to.
ROUTE_KINDS = [k for k in KINDS if "gateway" in k.needs]
_PROTOCOL = {"HTTPRoute": "HTTP", "GRPCRoute": "HTTPS", "TLSRoute": "TLS", "TCPRoute": "TCP"}


async def test_every_route_kind_is_published_through_its_gateway(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """One route of each registry route kind, named by the hostname annotation, gets the
    Gateway's address: informers, lookups and RBAC-relevant plurals hold for all of them."""
    zone = f"gw{next(_zones)}.test"
    bind_server.add_zone(zone)
    sources = tuple(k.name for k in ROUTE_KINDS)
    app = App(
        config(
            kube.write_kubeconfig(tmp_path), target("internal", bind_server, zone, sources=sources)
        )
    )
    listeners = [
        {"name": k.plural, "protocol": _PROTOCOL.get(k.kind, "UDP"), "port": 1000 + i}
        for i, k in enumerate(ROUTE_KINDS)
    ]
    kube.create(
        {
            "apiVersion": GW,
            "kind": "Gateway",
            "metadata": {"name": "edge", "namespace": "web"},
            "spec": {"gatewayClassName": "example", "listeners": listeners},
            "status": {"addresses": [{"type": "IPAddress", "value": "192.0.2.44"}]},
        }
    )
    for k in ROUTE_KINDS:
        ref = {"name": "edge", "sectionName": k.plural}
        accepted = {"type": "Accepted", "status": "True", "reason": "Accepted"}
        kube.create(
            {
                "apiVersion": k.api_version,
                "kind": k.kind,
                "metadata": {
                    "name": "r",
                    "namespace": "web",
                    "annotations": {
                        **MANAGE,
                        "external-dns.alpha.kubernetes.io/hostname": f"{k.ref}.{zone}",
                    },
                },
                "spec": {"parentRefs": [ref]},
                "status": {
                    "parents": [
                        {"parentRef": ref, "controllerName": "x/y", "conditions": [accepted]}
                    ]
                },
            }
        )
    async with running(app):
        for k in ROUTE_KINDS:

            async def published(name: str = f"{k.ref}.{zone}") -> bool:
                return await lookup(bind_server, name) == ["192.0.2.44"]

            await until(published)
    assert {k.kind for k in ROUTE_KINDS} == {
        "HTTPRoute",
        "GRPCRoute",
        "TLSRoute",
        "TCPRoute",
        "UDPRoute",
    }


async def test_a_one_shot_plan_lists_routes_with_their_gateways(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """`dnssync plan` / `sync --once` against the cluster list the routes, the Gateways and
    the Namespaces they need (no watch), and publish through them."""
    zone = f"gw{next(_zones)}.test"
    bind_server.add_zone(zone)
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "web", "labels": {"dns": "yes"}},
        }
    )
    kube.create(gateway(zone, "192.0.2.71"))
    kube.create(httproute("app", f"app.{zone}", accepted=True))
    path = cluster_config(tmp_path, kube.write_kubeconfig(tmp_path), bind_server, zone)
    cfg = yaml.safe_load(path.read_text())
    cfg["targets"][0]["sources"] = ["gateway-httproute"]
    path.write_text(yaml.safe_dump(cfg))
    code, out, err = await dnssync("plan", "-c", str(path))
    assert code == 2, out + err
    assert f"app.{zone}" in out and "httproute/web/app" in out
    code, out, err = await dnssync("sync", "--once", "-c", str(path))
    assert code == 0, out + err
    assert await lookup(bind_server, f"app.{zone}") == ["192.0.2.71"]
    assert not [p for _method, p in kube.requests if "watch=" in p]
