"""Builders for Gateway API test objects (raw JSON, as the API serves them), and a runner.

The cases themselves are data in the test modules; these only spell out the
objects the way the API server would hand them to dnssync, and push them
through an :class:`~dnssync.sources.index.ObjectIndex` (so every case also
exercises the lookup of Gateways and Namespaces).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dnssync.sources.convert import SourceOptions
from dnssync.sources.index import ObjectIndex

GROUP = "gateway.networking.k8s.io"
PREFIX = "external-dns.kubernetes.io/"
Obj = dict[str, Any]
#: What a case expects: (name, type, targets, ttl) per endpoint, sorted.
Want = list[tuple[str, str, tuple[str, ...], int | None]]


def listener(
    protocol: str = "HTTP",
    hostname: str | None = None,
    *,
    name: str = "",
    port: int = 80,
    allowed: Obj | None = None,
) -> Obj:
    out: Obj = {"name": name or protocol.lower(), "protocol": protocol, "port": port}
    if hostname is not None:
        out["hostname"] = hostname
    if allowed is not None:
        out["allowedRoutes"] = allowed
    return out


ALL_NAMESPACES: Obj = {"namespaces": {"from": "All"}}


def gateway(
    namespace: str,
    name: str,
    listeners: Sequence[Obj],
    addresses: Sequence[str] = (),
    *,
    annotations: dict[str, str] | None = None,
    address_type: str = "IPAddress",
) -> Obj:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": {"gatewayClassName": "test", "listeners": list(listeners)},
        "status": {"addresses": [{"type": address_type, "value": a} for a in addresses]},
    }


def parent(
    namespace: str, name: str, *, section: str | None = None, port: int | None = None
) -> Obj:
    ref: Obj = {"group": GROUP, "kind": "Gateway", "name": name, "namespace": namespace}
    if section is not None:
        ref["sectionName"] = section
    if port is not None:
        ref["port"] = port
    return ref


def route(
    namespace: str,
    name: str,
    *,
    hostnames: Sequence[str] | None = None,
    parents: Sequence[Obj] = (),
    accepted_by: Sequence[Obj] | None = None,
    accepted: bool = True,
    annotations: dict[str, str] | None = None,
    kind: str = "HTTPRoute",
) -> Obj:
    """A route; ``accepted_by`` (default: its ``parents``) is what its status lists."""
    spec: Obj = {"parentRefs": list(parents)}
    if hostnames is not None:
        spec["hostnames"] = list(hostnames)
    condition = {"type": "Accepted" if accepted else "NotAccepted", "status": "True"}
    status = [
        {"parentRef": ref, "controllerName": "example.org/gw", "conditions": [condition]}
        for ref in (parents if accepted_by is None else accepted_by)
    ]
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": spec,
        "status": {"parents": status},
    }


def namespace(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
    }


@dataclass(frozen=True)
class Case:
    upstream: str  # external-dns v0.22.0 test function, and the row's title
    gateways: list[Obj]
    routes: list[Obj]
    want: Want
    namespaces: list[Obj] = field(default_factory=list)
    #: Substrings of the errors reported, one per error, in order.
    errors: list[str] = field(default_factory=list)
    options: SourceOptions = field(default_factory=lambda: SourceOptions(annotation_prefix=PREFIX))


def run(ref: str, case: Case, *, routes_first: bool = False) -> tuple[Want, list[str]]:
    """The endpoints and error texts the case's routes give, through an object index."""
    index = ObjectIndex()
    view = index.view(case.options, {ref})
    dependencies: Iterable[tuple[str, Obj]] = [
        *(("namespace", n) for n in case.namespaces),
        *(("gateway", g) for g in case.gateways),
    ]
    routes = [(ref, r) for r in case.routes]
    for kind, obj in [*routes, *dependencies] if routes_first else [*dependencies, *routes]:
        index.upsert(kind, obj)
    got = sorted((e.name, e.type, e.targets, e.ttl) for e in view.endpoints())
    return got, [str(e) for e in view.errors()]
