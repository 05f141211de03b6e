"""A headless Service's records: one address per ready endpoint, as external-dns.  Pure.

external-dns v0.22 (``extractHeadlessEndpoints``) publishes, for each name of a Service
with ``clusterIP: None``, the addresses of its EndpointSlices' endpoints (those labelled
``kubernetes.io/service-name: <service>``): ready ones only, unless
``spec.publishNotReadyAddresses``; each endpoint must point at a Pod the Service selects.
A Pod with ``spec.hostname`` also gets ``<hostname>.<name>``.  Which address an endpoint
gives is :func:`dnssync.sources.access.pod_targets` (the Pod's own ``target`` annotation,
else by ``endpoints-type``: the node's ExternalIPs, the Pod's host IP, or the endpoint's
first address).  The objects come through the converter's
:class:`~dnssync.sources.lookup.Lookup`, so a changed slice, Pod or Node converts the
Service again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dnssync.errors import Ignored, InvalidInput
from dnssync.sources.access import endpoints_type_value, node_addresses, pod_targets
from dnssync.sources.annotations import find, parse_target, split_list
from dnssync.sources.convert import ObjectWork, mapping, sequence
from dnssync.sources.lookup import Lookup

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
_ADDRESS_TYPES = ("IPv4", "IPv6")


def _selected(pod: Mapping[str, Any], selector: Mapping[str, Any]) -> bool:
    labels = mapping(mapping(pod.get("metadata")).get("labels"))
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _endpoints_type(work: ObjectWork) -> str | None:
    found = work.annotation("endpoints-type")
    value, warning = endpoints_type_value(found[1] if found else None)
    if found and warning:
        work.errors.append(Ignored(warning, where=work.at(f"annotation {found[0]}")))
    return value


def _pod_target(work: ObjectWork, pod: Mapping[str, Any]) -> list[str]:
    annotations = mapping(mapping(pod.get("metadata")).get("annotations"))
    found = find(dict(annotations), "target", work.options.annotation_prefix)
    return split_list(found[1]) if found else []


def _slices(work: ObjectWork, lookup: Lookup) -> list[Mapping[str, Any]]:
    ns, name = work.ref.namespace, work.ref.name
    return [
        s
        for s in lookup.list("endpointslice", ns)
        if mapping(mapping(s.get("metadata")).get("labels")).get(SERVICE_NAME_LABEL) == name
    ]


def headless_targets(
    work: ObjectWork, spec: Mapping[str, Any], hosts: list[str], lookup: Lookup
) -> dict[str, dict[str, set[str]]]:
    """Per name (``hosts`` and ``<pod hostname>.<host>``), its targets by type."""
    kind = _endpoints_type(work)
    pod_ips = kind is None
    not_ready_too = spec.get("publishNotReadyAddresses") is True
    selector = mapping(spec.get("selector"))
    out: dict[str, dict[str, set[str]]] = {}
    for slice_ in _slices(work, lookup):
        if pod_ips and slice_.get("addressType") not in _ADDRESS_TYPES:
            continue
        for ep in map(mapping, sequence(slice_.get("endpoints"))):
            if mapping(ep.get("conditions")).get("ready") is False and not not_ready_too:
                continue
            ref = mapping(ep.get("targetRef"))
            if (
                ref.get("kind") != "Pod"
                or ref.get("apiVersion")
                or not isinstance(ref.get("name"), str)
            ):
                continue
            pod = lookup.get("pod", work.ref.namespace, ref["name"])
            if pod is None or not _selected(pod, selector):
                continue
            targets = _targets(work, kind, ep, pod, lookup)
            hostname = mapping(pod.get("spec")).get("hostname")
            for host in hosts:
                names = [
                    host,
                    *([f"{hostname}.{host}"] if isinstance(hostname, str) and hostname else []),
                ]
                for name in names:
                    for type_, value in targets:
                        out.setdefault(name, {}).setdefault(type_, set()).add(value)
    return out


def _targets(
    work: ObjectWork,
    kind: str | None,
    ep: Mapping[str, Any],
    pod: Mapping[str, Any],
    lookup: Lookup,
) -> list[tuple[str, str]]:
    node_name = mapping(pod.get("spec")).get("nodeName")
    node = lookup.get("node", "", node_name) if kind and isinstance(node_name, str) else None
    host_ip = mapping(pod.get("status")).get("hostIP")
    addresses = [a for a in sequence(ep.get("addresses")) if isinstance(a, str)]
    values = pod_targets(
        kind,
        addresses=addresses,
        host_ip=host_ip if isinstance(host_ip, str) else "",
        node=node_addresses(node) if node is not None else None,
        pod_target=_pod_target(work, pod),
    )
    parsed: list[tuple[str, str]] = []
    pod_name = mapping(pod.get("metadata")).get("name")
    for value in values:
        try:
            parsed.append(parse_target(value, where=work.at(f"pod {pod_name}")))
        except InvalidInput as e:
            work.errors.append(e)
    return [t for t in parsed if t[0] in ("A", "AAAA")]
