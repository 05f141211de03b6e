"""The real external-dns v0.22.0 and dnssync on one BIND zone, both ways (interop tier).

external-dns reads the objects from the fake Kubernetes API; dnssync plans the same objects,
listed from that API and converted by its own converters.  Each scenario runs in both
directions:

* ``ext→dns``: external-dns (``--once``) converges an empty zone; dnssync's plan against it
  must be empty; the objects change and dnssync applies that; external-dns ``--once
  --dry-run`` must then plan nothing.
* ``dns→ext``: dnssync converges an empty zone; external-dns ``--dry-run`` must plan nothing;
  the objects change and external-dns applies that; dnssync's plan must then be empty.

external-dns's planned changes are the ``Adding RR`` / ``Removing RR`` lines of its rfc2136
provider (logged in dry-run too), and ``All records are already up to date`` when none.
"""

from __future__ import annotations

import asyncio
import base64
import re
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import dns.query
import dns.tsig
import dns.zone
import pytest
from pydantic import SecretStr

from dnssync.config import KeyConfig, ServerConfig, TargetConfig
from dnssync.controller import Target
from dnssync.model import Endpoint, ObjectRef, Policy
from dnssync.sources.ingresses import ingress_endpoints
from dnssync.sources.lookup import Recorder
from dnssync.sources.services import service_endpoints
from tests.dnsservers import DNSServer
from tests.fakekube import DEFAULT_RESOURCES, FakeKube, fake_kube
from tests.fakekube.resources import ENDPOINT_SLICES, NODES, PODS
from tests.peers.external_dns import PEER

NEW = "external-dns.kubernetes.io/"
ALPHA = "external-dns.alpha.kubernetes.io/"
AES_KEY = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
_zones = iter(range(10_000))
SLICES = "discovery.k8s.io/v1"
_CHANGE = re.compile(r"(Adding|Removing) RR: (.*?)(\"|$)")


@dataclass(frozen=True)
class Owner:
    """One owner's settings, given to both tools alike."""

    owner_id: str = "mdapi"
    prefix: str = "extdns-"
    suffix: str = ""
    annotation_prefix: str = NEW
    manage: str = "mdapi"  # the annotation filter's value
    aes_key: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    objects: Callable[[str], list[dict[str, Any]]]  # zone -> objects
    change: Callable[[FakeKube, str], None]  # mutate the objects (zone given)
    owners: tuple[Owner, ...] = (Owner(),)
    records: str = ""  # zone file lines already in the zone


def _meta(name: str, owner: Owner, **annotations: str) -> dict[str, Any]:
    p = owner.annotation_prefix
    return {
        "name": name,
        "namespace": "web",
        "annotations": {p + "manage": owner.manage, **{p + k: v for k, v in annotations.items()}},
    }


def lb_service(name: str, owner: Owner, host: str, ip: str, **more: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, owner, hostname=host, **more),
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
    }


def external_name(name: str, owner: Owner, host: str, target: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, owner, hostname=host),
        "spec": {"type": "ExternalName", "externalName": target},
    }


def ingress(name: str, owner: Owner, host: str, lb: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(name, owner),
        "spec": {"rules": [{"host": host}]},
        "status": {"loadBalancer": {"ingress": [lb]}},
    }


def _mixed(owner: Owner) -> Callable[[str], list[dict[str, Any]]]:
    """A, AAAA and CNAME records from Services and Ingresses, one with a ttl annotation."""

    def objects(zone: str) -> list[dict[str, Any]]:
        return [
            lb_service("web", owner, f"web.{zone}", "192.0.2.10", ttl="120"),
            lb_service("v6", owner, f"v6.{zone}", "2001:db8::10"),
            external_name("alias", owner, f"alias.{zone}", "target.example.net"),
            ingress("app", owner, f"app.{zone}", {"ip": "192.0.2.20"}),
            ingress("lb", owner, f"lb.{zone}", {"hostname": "lb.example.net"}),
        ]

    return objects


def _move_web(kube: FakeKube, zone: str) -> None:
    kube.patch(
        "v1",
        "Service",
        "web",
        "web",
        {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.11"}]}}},
    )


#: What the migration zone holds besides the cluster's records: manual and DHCP records, a
#: user's TXT, and a record of another owner -- two of them at names an object asks for.
MIGRATION_RECORDS = """
manual 300 IN A 192.0.2.90
printer-dhcp 3600 IN A 192.0.2.91
note 300 IN TXT "a user's note"
other 300 IN A 192.0.2.92
extdns-a-other 300 IN TXT "heritage=external-dns,external-dns/owner=someone-else"
"""


def _migration(zone: str) -> list[dict[str, Any]]:
    owner = Owner()
    return [
        *_mixed(owner)(zone),
        lb_service("wants-manual", owner, f"manual.{zone}", "192.0.2.93"),
        lb_service("wants-other", owner, f"other.{zone}", "192.0.2.94"),
    ]


def _wildcards(owner: Owner) -> Callable[[str], list[dict[str, Any]]]:
    def objects(zone: str) -> list[dict[str, Any]]:
        return [
            ingress("star", owner, f"*.apps.{zone}", {"ip": "192.0.2.30"}),
            ingress("cstar", owner, f"*.c.{zone}", {"hostname": "lb.example.net"}),
        ]

    return objects


def _move_star(kube: FakeKube, zone: str) -> None:
    kube.patch(
        "networking.k8s.io/v1",
        "Ingress",
        "star",
        "web",
        {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.31"}]}}},
    )


def _two_owners(zone: str) -> list[dict[str, Any]]:
    a, b = Owner(owner_id="alpha", manage="a"), Owner(owner_id="beta", manage="b")
    return [
        lb_service("a-web", a, f"a.{zone}", "192.0.2.40"),
        lb_service("b-web", b, f"b.{zone}", "192.0.2.41"),
        ingress("b-app", b, f"bapp.{zone}", {"hostname": "lb.example.net"}),
    ]


def _move_both(kube: FakeKube, zone: str) -> None:
    for name, ip in (("a-web", "192.0.2.42"), ("b-web", "192.0.2.43")):
        kube.patch(
            "v1", "Service", name, "web", {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}
        )


def _node(name: str, *addresses: tuple[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"addresses": [{"type": t, "address": a} for t, a in addresses]},
    }


def node_port(name: str, owner: Owner, host: str, **more: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, owner, hostname=host, **more),
        "spec": {
            "type": "NodePort",
            "externalTrafficPolicy": "Cluster",
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
        },
    }


def _node_ports(zone: str) -> list[dict[str, Any]]:
    """Two NodePort Services (default and access=private) over two nodes, and their Nodes."""
    n = int(re.sub(r"\D", "", zone.split(".")[0]) or 0) % 200
    owner = Owner()
    return [
        _node(f"np{n}-a", ("ExternalIP", f"198.51.100.{n}"), ("InternalIP", f"10.1.{n}.1")),
        _node(f"np{n}-b", ("ExternalIP", f"203.0.113.{n}"), ("InternalIP", f"10.1.{n}.2")),
        node_port("np", owner, f"np.{zone}"),
        node_port("np-private", owner, f"private.{zone}", access="private"),
    ]


def _move_node(kube: FakeKube, zone: str) -> None:
    n = int(re.sub(r"\D", "", zone.split(".")[0]) or 0) % 200
    addresses = [{"type": "ExternalIP", "address": f"203.0.113.{n + 50}"}]
    addresses.append({"type": "InternalIP", "address": f"10.1.{n}.3"})
    kube.patch("v1", "Node", f"np{n}-b", None, {"status": {"addresses": addresses}})


def _headless(zone: str) -> list[dict[str, Any]]:
    """A headless Service, its two Pods (one with a hostname) and their EndpointSlice."""
    owner = Owner()
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta("db", owner, hostname=f"db.{zone}"),
        "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]},
    }
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "web", "labels": {"app": "db"}},
            "spec": {"hostname": hostname, "containers": [{"name": "db", "image": "db"}]},
        }
        for name, hostname in (("db-0", "db-0"), ("db-1", ""))
    ]
    return [svc, *pods, _db_slice(ready=True)]


def _db_slice(*, ready: bool) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "db-abc",
            "namespace": "web",
            "labels": {"kubernetes.io/service-name": "db"},
        },
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [ip],
                "targetRef": {"kind": "Pod", "name": name, "namespace": "web"},
                "conditions": {"ready": ok},
            }
            for name, ip, ok in (("db-0", "10.2.0.1", True), ("db-1", "10.2.0.2", ready))
        ],
    }


def _db_1_not_ready(kube: FakeKube, zone: str) -> None:
    kube.update(_db_slice(ready=False))


SCENARIOS = (
    Scenario("services+ingresses, prefix", _mixed(Owner()), _move_web),
    Scenario("NodePort services (access)", _node_ports, _move_node),
    Scenario("headless service (EndpointSlices, pod hostname)", _headless, _db_1_not_ready),
    Scenario(
        "migration zone: manual, DHCP, foreign owner",
        _migration,
        _move_web,
        records=MIGRATION_RECORDS,
    ),
    Scenario(
        "suffix",
        _mixed(Owner(prefix="", suffix="-own")),
        _move_web,
        (Owner(prefix="", suffix="-own"),),
    ),
    Scenario(
        "templated prefix",
        _mixed(Owner(prefix="%{record_type}-tpl.")),
        _move_web,
        (Owner(prefix="%{record_type}-tpl."),),
    ),
    Scenario(
        "templated, no separator",
        _mixed(Owner(prefix="%{record_type}x.")),
        _move_web,
        (Owner(prefix="%{record_type}x."),),
    ),
    Scenario("wildcards", _wildcards(Owner()), _move_star),
    Scenario(
        "encrypted TXT, alpha prefix",
        _mixed(Owner(annotation_prefix=ALPHA, aes_key=AES_KEY)),
        _move_web,
        (Owner(annotation_prefix=ALPHA, aes_key=AES_KEY),),
    ),
    Scenario(
        "two owners in one zone",
        _two_owners,
        _move_both,
        (Owner(owner_id="alpha", manage="a"), Owner(owner_id="beta", manage="b")),
    ),
)

#: scenario, direction, step -> changes; printed as a table after the module (pytest -s).
RESULTS: dict[tuple[str, str, str], int] = {}


@pytest.fixture(scope="module", autouse=True)
def _table() -> Iterator[None]:
    yield
    for (scenario, direction, step), count in sorted(RESULTS.items()):
        print(f"interop | {scenario:30} | {direction} | {step:45} | {count}")


@pytest.fixture
async def kube() -> AsyncIterator[FakeKube]:
    async with fake_kube((*DEFAULT_RESOURCES, PODS, NODES, ENDPOINT_SLICES)) as k:
        yield k


def _external_dns(
    kube_config: Path, server: DNSServer, zone: str, owner: Owner, *, dry_run: bool
) -> int:
    """Run external-dns once; the number of record changes it planned."""
    returncode, changes, log = _run_external_dns(kube_config, server, (zone,), owner, dry_run)
    assert returncode == 0, log[-3000:]
    if not changes:
        assert "All records are already up to date" in log, log[-3000:]
    return len(changes)


def _run_external_dns(
    kube_config: Path,
    server: DNSServer,
    zones: tuple[str, ...],
    owner: Owner,
    dry_run: bool,
    *,
    domain_filter: bool = True,
    more: tuple[str, ...] = (),
) -> tuple[int, list[str], str]:
    """Run external-dns once over ``zones``: its exit status, planned RRs and log."""
    args = [
        str(PEER.path("bin/external-dns")),
        "--source=service",
        "--source=ingress",
        f"--kubeconfig={kube_config}",
        "--provider=rfc2136",
        f"--rfc2136-host={server.host}",
        f"--rfc2136-port={server.port}",
        *(f"--rfc2136-zone={z}" for z in zones),
        f"--rfc2136-tsig-keyname={server.key.name}",
        f"--rfc2136-tsig-secret={server.key.secret}",
        f"--rfc2136-tsig-secret-alg={server.key.algorithm}",
        "--rfc2136-tsig-axfr",
        *(f"--domain-filter={z}" for z in (zones if domain_filter else ())),
        *more,
        "--registry=txt",
        f"--txt-owner-id={owner.owner_id}",
        f"--annotation-prefix={owner.annotation_prefix}",
        f"--annotation-filter={owner.annotation_prefix}manage={owner.manage}",
        "--policy=upsert-only",
        "--once",
        "--log-level=debug",
        "--metrics-address=127.0.0.1:0",
    ]
    if owner.prefix:
        args.append(f"--txt-prefix={owner.prefix}")
    if owner.suffix:
        args.append(f"--txt-suffix={owner.suffix}")
    if owner.aes_key:
        args += ["--txt-encrypt-enabled", f"--txt-encrypt-aes-key={owner.aes_key}"]
    if dry_run:
        args.append("--dry-run")
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    log = done.stdout + done.stderr
    return done.returncode, [m.group(2) for m in _CHANGE.finditer(log)], log


def _target(server: DNSServer, zone: str | tuple[str, ...], owner: Owner, **more: Any) -> Target:
    return Target(
        TargetConfig(
            name=owner.owner_id,
            server=ServerConfig(host=server.host, port=server.port, timeout=2.0),
            zones=(zone,) if isinstance(zone, str) else zone,
            key=KeyConfig(
                name=server.key.name,
                algorithm=server.key.algorithm,
                secret=SecretStr(server.key.secret),
            ),
            policy=Policy.UPSERT_ONLY,
            owner_id=owner.owner_id,
            txt_prefix=owner.prefix,
            txt_suffix=owner.suffix,
            txt_encrypt_key=SecretStr(owner.aes_key) if owner.aes_key else None,
            annotation_prefix=owner.annotation_prefix,
            annotation_filter=f"{owner.annotation_prefix}manage={owner.manage}",
            **more,
        )
    )


def _endpoints(kube: FakeKube, target: Target) -> list[Endpoint]:
    """The same objects external-dns lists, through dnssync's converters."""
    options = target.source_options
    found: list[Endpoint] = []
    needed = {ObjectRef("node", "", n["metadata"]["name"]): n for n in kube.list("v1", "Node")}
    for api_version, kind, ref in (
        ("v1", "Pod", "pod"),
        (SLICES, "EndpointSlice", "endpointslice"),
    ):
        for o in kube.list(api_version, kind):
            needed[ObjectRef(ref, o["metadata"]["namespace"], o["metadata"]["name"])] = o
    for obj in kube.list("v1", "Service"):
        result = service_endpoints(obj, options, Recorder(needed))
        assert result.errors == (), result.errors
        found.extend(result.endpoints)
    for obj in kube.list("networking.k8s.io/v1", "Ingress"):
        result = ingress_endpoints(obj, options)
        assert result.errors == (), result.errors
        found.extend(result.endpoints)
    return found


def _untouched(server: DNSServer, zone: str, records: str) -> None:
    """Every record the zone held before either tool ran is still there, unchanged."""
    key = dns.tsig.Key(server.key.name, server.key.secret, server.key.algorithm)
    xfr = dns.query.xfr(server.host, zone + ".", port=server.port, keyring={key.name: key})
    now = dns.zone.from_xfr(xfr)
    before = dns.zone.from_text(records, origin=zone + ".", check_origin=False)
    for name, rdataset in before.iterate_rdatasets():
        assert now.get_rdataset(name, rdataset.rdtype) == rdataset, name


async def _dnssync(
    kube: FakeKube, server: DNSServer, zone: str, owner: Owner, *, apply: bool
) -> int:
    """Plan (and apply) once with dnssync; the number of changes it planned."""
    target = _target(server, zone, owner)
    result = await target.reconcile(_endpoints(kube, target), apply=apply)
    assert result.ok, [z.error for z in result.zones]
    (zr,) = result.zones
    assert zr.plan is not None
    assert zr.plan.conflicts == () and not zr.plan.refused
    return len(zr.plan.changes)


async def _ext(
    kube_config: Path, server: DNSServer, zone: str, owners: tuple[Owner, ...], *, dry_run: bool
) -> int:
    # external-dns blocks on its informers: run it off the loop the fake API serves on.
    counts = [
        await asyncio.to_thread(_external_dns, kube_config, server, zone, o, dry_run=dry_run)
        for o in owners
    ]
    return sum(counts)


async def _dns(
    kube: FakeKube, server: DNSServer, zone: str, owners: tuple[Owner, ...], *, apply: bool
) -> int:
    return sum([await _dnssync(kube, server, zone, o, apply=apply) for o in owners])


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_external_dns_then_dnssync(
    scenario: Scenario, kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """external-dns converges; dnssync plans nothing, applies a change; external-dns agrees."""
    zone = f"ext{next(_zones)}.test"
    bind_server.add_zone(zone, scenario.records)
    kube_config = kube.write_kubeconfig(tmp_path)
    for obj in scenario.objects(zone):
        kube.create(obj)
    owners = scenario.owners
    first = await _ext(kube_config, bind_server, zone, owners, dry_run=False)
    assert first > 0
    planned = await _dns(kube, bind_server, zone, owners, apply=False)
    scenario.change(kube, zone)
    applied = await _dns(kube, bind_server, zone, owners, apply=True)
    back = await _ext(kube_config, bind_server, zone, owners, dry_run=True)
    RESULTS[(scenario.name, "ext→dns", "1 external-dns applied (RRs)")] = first
    RESULTS[(scenario.name, "ext→dns", "2 dnssync plan (changes)")] = planned
    RESULTS[(scenario.name, "ext→dns", "3 dnssync applied (changes)")] = applied
    RESULTS[(scenario.name, "ext→dns", "4 external-dns dry-run (RRs)")] = back
    _untouched(bind_server, zone, scenario.records)
    assert applied > 0
    assert (planned, back) == (0, 0)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_dnssync_then_external_dns(
    scenario: Scenario, kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """dnssync converges; external-dns plans nothing, applies a change; dnssync agrees."""
    zone = f"dns{next(_zones)}.test"
    bind_server.add_zone(zone, scenario.records)
    kube_config = kube.write_kubeconfig(tmp_path)
    for obj in scenario.objects(zone):
        kube.create(obj)
    owners = scenario.owners
    first = await _dns(kube, bind_server, zone, owners, apply=True)
    assert first > 0
    planned = await _ext(kube_config, bind_server, zone, owners, dry_run=True)
    scenario.change(kube, zone)
    applied = await _ext(kube_config, bind_server, zone, owners, dry_run=False)
    back = await _dns(kube, bind_server, zone, owners, apply=False)
    RESULTS[(scenario.name, "dns→ext", "1 dnssync applied (changes)")] = first
    RESULTS[(scenario.name, "dns→ext", "2 external-dns dry-run (RRs)")] = planned
    RESULTS[(scenario.name, "dns→ext", "3 external-dns applied (RRs)")] = applied
    RESULTS[(scenario.name, "dns→ext", "4 dnssync plan (changes)")] = back
    _untouched(bind_server, zone, scenario.records)
    assert applied > 0
    assert (planned, back) == (0, 0)


# --- the apex: where external-dns's ownership name for it lands --------------------------


def _zone_has(server: DNSServer, zone: str, name: str, rdtype: str) -> bool:
    key = dns.tsig.Key(server.key.name, server.key.secret, server.key.algorithm)
    xfr = dns.query.xfr(server.host, zone + ".", port=server.port, keyring={key.name: key})
    return dns.zone.from_xfr(xfr).get_rdataset(name + ".", rdtype) is not None


@pytest.mark.parametrize("domain_filter", [True, False], ids=["domain filter", "none"])
async def test_external_dns_apex_txt_with_prefix_never_lands(
    domain_filter: bool, kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """Prefix extdns-: the apex TXT extdns-a-<zone> is dropped by the filter or refused NOTZONE."""
    zone = f"apex{next(_zones)}.test"
    bind_server.add_zone(zone)
    kube.create(lb_service("apex", Owner(), zone, "192.0.2.50"))
    config = kube.write_kubeconfig(tmp_path)
    _, changes, log = await asyncio.to_thread(
        partial(_run_external_dns, domain_filter=domain_filter),
        config,
        bind_server,
        (zone,),
        Owner(),
        False,
    )
    assert not _zone_has(bind_server, zone, f"extdns-a-{zone}", "TXT")
    if domain_filter:
        # Its provider drops the TXT as outside the filter and writes the A alone: nobody's.
        assert f"Skipping record extdns-a-{zone}" in log, log[-3000:]
        assert changes == [f"{zone} 0 A 192.0.2.50"]
        assert _zone_has(bind_server, zone, zone, "A")
        target = _target(bind_server, zone, Owner())
        result = await target.reconcile(_endpoints(kube, target), apply=False)
        (zr,) = result.zones
        assert zr.plan is not None and zr.plan.changes == ()
        assert [s.reason for s in zr.plan.skipped] == [
            "not managed by external-dns or dnssync (no ownership record)"
        ]
    else:
        # The A and its TXT travel in one message, which BIND refuses whole.
        assert f"extdns-a-{zone}" in " ".join(changes), log[-3000:]
        assert "NOTZONE" in log, log[-3000:]
        assert not _zone_has(bind_server, zone, zone, "A")


async def test_external_dns_apex_txt_in_the_parent_zone_is_read(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """Suffix -own: external-dns puts a child zone's apex TXT in the parent; dnssync owns it."""
    n = next(_zones)
    parent, child = f"par{n}.test", f"kid.par{n}.test"
    owner = Owner(prefix="", suffix="-own")
    bind_server.add_zone(parent)
    bind_server.add_zone(child)
    kube.create(lb_service("apex", owner, child, "192.0.2.60"))
    kube.create(lb_service("www", owner, f"www.{child}", "192.0.2.61"))
    config = kube.write_kubeconfig(tmp_path)
    code, first, log = await asyncio.to_thread(
        _run_external_dns, config, bind_server, (child, parent), owner, False
    )
    assert code == 0 and len(first) == 4, log[-3000:]
    assert _zone_has(bind_server, parent, f"a-kid-own.{parent}", "TXT")
    target = _target(bind_server, (parent, child), owner)
    planned = await target.reconcile(_endpoints(kube, target), apply=False)
    assert planned.ok and [len(z.plan.changes) for z in planned.zones if z.plan] == [0, 0]
    assert sum(z.plan.owned for z in planned.zones if z.plan) == 2
    kube.patch(
        "v1",
        "Service",
        "apex",
        "web",
        {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.62"}]}}},
    )
    applied = await target.reconcile(_endpoints(kube, target), apply=True)
    assert applied.ok, [z.error for z in applied.zones]
    assert [len(z.plan.changes) for z in applied.zones if z.plan] == [0, 1]
    code, back, log = await asyncio.to_thread(
        _run_external_dns, config, bind_server, (child, parent), owner, True
    )
    assert code == 0 and back == [], log[-3000:]
    RESULTS[("apex TXT in the parent, suffix", "ext→dns", "1 external-dns applied (RRs)")] = len(
        first
    )
    RESULTS[("apex TXT in the parent, suffix", "ext→dns", "2 dnssync plan (changes)")] = 0
    RESULTS[("apex TXT in the parent, suffix", "ext→dns", "3 dnssync applied (changes)")] = 1
    RESULTS[("apex TXT in the parent, suffix", "ext→dns", "4 external-dns dry-run (RRs)")] = 0


# --- reverse records: --create-ptr ------------------------------------------------------

PTR_FLAGS = (
    "--create-ptr",
    *(f"--managed-record-types={t}" for t in ("A", "AAAA", "CNAME", "PTR")),
)


def _ptr_setup(kube: FakeKube, server: DNSServer) -> tuple[str, str, int]:
    n = next(_zones)
    assert n < 256
    fwd, rev = f"ptr{n}.test", f"{n}.10.in-addr.arpa"
    server.add_zone(fwd)
    server.add_zone(rev)
    kube.create(lb_service("web", Owner(), f"web.{fwd}", f"10.{n}.0.1"))
    kube.create(lb_service("api", Owner(), f"api.{fwd}", f"10.{n}.0.4"))
    kube.create(lb_service("db", Owner(), f"db.{fwd}", f"10.{n}.0.2", **{"record-type": ""}))
    return fwd, rev, n


async def _ext_ptr(config: Path, server: DNSServer, zones: tuple[str, str], dry_run: bool) -> int:
    code, changes, log = await asyncio.to_thread(
        partial(_run_external_dns, more=PTR_FLAGS), config, server, zones, Owner(), dry_run
    )
    assert code == 0, log[-3000:]
    return len(changes)


async def _dns_ptr(kube: FakeKube, server: DNSServer, zones: tuple[str, str], apply: bool) -> int:
    managed = ("A", "AAAA", "CNAME", "PTR")
    target = _target(server, zones, Owner(), create_ptr=True, managed_record_types=managed)
    result = await target.reconcile(_endpoints(kube, target), apply=apply)
    assert result.ok, [z.error for z in result.zones]
    return sum(len(z.plan.changes) for z in result.zones if z.plan)


def _move_web_to(kube: FakeKube, ip: str) -> None:
    kube.patch(
        "v1", "Service", "web", "web", {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}
    )


def _ptr_values(server: DNSServer, rev: str) -> dict[str, set[str]]:
    key = dns.tsig.Key(server.key.name, server.key.secret, server.key.algorithm)
    xfr = dns.query.xfr(server.host, rev + ".", port=server.port, keyring={key.name: key})
    zone = dns.zone.from_xfr(xfr)
    return {
        str(name): {str(rd.target).rstrip(".") for rd in rdataset}
        for name, rdataset in zone.iterate_rdatasets("PTR")
    }


async def test_create_ptr_external_dns_then_dnssync(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """external-dns --create-ptr writes A + PTR; dnssync plans nothing, moves one; it agrees.

    The opted-out Service (record-type "") gets no PTR from either tool.
    """
    fwd, rev, n = _ptr_setup(kube, bind_server)
    config = kube.write_kubeconfig(tmp_path)
    first = await _ext_ptr(config, bind_server, (fwd, rev), False)
    assert _ptr_values(bind_server, rev) == {"1.0": {f"web.{fwd}"}, "4.0": {f"api.{fwd}"}}
    planned = await _dns_ptr(kube, bind_server, (fwd, rev), False)
    _move_web_to(kube, f"10.{n}.0.3")
    applied = await _dns_ptr(kube, bind_server, (fwd, rev), True)
    assert _ptr_values(bind_server, rev)["3.0"] == {f"web.{fwd}"}
    back = await _ext_ptr(config, bind_server, (fwd, rev), True)
    for step, count in (("1 external-dns applied (RRs)", first), ("2 dnssync plan", planned)):
        RESULTS[("create-ptr, forward + reverse zone", "ext→dns", step)] = count
    RESULTS[("create-ptr, forward + reverse zone", "ext→dns", "3 dnssync applied")] = applied
    RESULTS[("create-ptr, forward + reverse zone", "ext→dns", "4 external-dns dry-run")] = back
    assert first > 0 and applied > 0
    assert (planned, back) == (0, 0)


async def test_create_ptr_dnssync_then_external_dns(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """dnssync create_ptr writes A + PTR; external-dns plans nothing, moves one; dnssync agrees."""
    fwd, rev, n = _ptr_setup(kube, bind_server)
    config = kube.write_kubeconfig(tmp_path)
    first = await _dns_ptr(kube, bind_server, (fwd, rev), True)
    assert _ptr_values(bind_server, rev) == {"1.0": {f"web.{fwd}"}, "4.0": {f"api.{fwd}"}}
    planned = await _ext_ptr(config, bind_server, (fwd, rev), True)
    _move_web_to(kube, f"10.{n}.0.3")
    applied = await _ext_ptr(config, bind_server, (fwd, rev), False)
    back = await _dns_ptr(kube, bind_server, (fwd, rev), False)
    RESULTS[("create-ptr, forward + reverse zone", "dns→ext", "1 dnssync applied")] = first
    RESULTS[("create-ptr, forward + reverse zone", "dns→ext", "2 external-dns dry-run")] = planned
    RESULTS[("create-ptr, forward + reverse zone", "dns→ext", "3 external-dns applied")] = applied
    RESULTS[("create-ptr, forward + reverse zone", "dns→ext", "4 dnssync plan")] = back
    assert first > 0 and applied > 0
    assert (planned, back) == (0, 0)


async def test_external_dns_churns_on_its_own_shared_ptr(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """Two names, one address: external-dns re-writes its own two-value PTR each pass; dnssync not.

    Its rfc2136 provider keeps the trailing dot of every value read after the first
    (``api.x;web.x.``), so the set never equals the one it wants.  dnssync plans nothing.
    """
    fwd, rev, n = _ptr_setup(kube, bind_server)
    kube.patch(
        "v1",
        "Service",
        "api",
        "web",
        {"status": {"loadBalancer": {"ingress": [{"ip": f"10.{n}.0.1"}]}}},
    )
    config = kube.write_kubeconfig(tmp_path)
    assert await _ext_ptr(config, bind_server, (fwd, rev), False) > 0
    assert _ptr_values(bind_server, rev) == {"1.0": {f"web.{fwd}", f"api.{fwd}"}}
    again = await _ext_ptr(config, bind_server, (fwd, rev), True)
    planned = await _dns_ptr(kube, bind_server, (fwd, rev), False)
    RESULTS[("create-ptr, two names one address", "ext→ext", "external-dns dry-run (RRs)")] = again
    RESULTS[("create-ptr, two names one address", "ext→dns", "dnssync plan")] = planned
    assert again > 0
    assert planned == 0
