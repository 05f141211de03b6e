"""Service -> endpoints, as external-dns's service source does it.  Pure.

Names come from the ``hostname`` and ``internal-hostname`` annotations only
(external-dns's ``--fqdn-template`` and ``--compatibility`` modes are not
offered).  Targets, first match wins, per group of names:

1. the ``target`` annotation (for both groups, as in external-dns);
2. by ``spec.type`` (missing means ``ClusterIP``):

   * ``LoadBalancer``: ``internal-hostname`` names get the cluster IPs; the
     others get ``spec.externalIPs`` if set, else ``status.loadBalancer.ingress``
     (ip -> A/AAAA, hostname -> CNAME; an IP beside a host name wins);
   * ``ClusterIP``: the cluster IPs for ``internal-hostname`` names, and for
     all names with ``publish_internal``; a headless Service (``None``) gets
     its ready endpoints' addresses, and each Pod hostname its own
     (:mod:`dnssync.sources.headless`);
   * ``NodePort``: the cluster IPs for ``internal-hostname`` names; the
     others get the addresses of the Nodes (looked up: every Node), chosen by
     the ``access`` annotation (:mod:`dnssync.sources.access`), and an SRV
     record ``_<service>._<proto>.<name>`` per node port, as external-dns;
     ``externalTrafficPolicy: Local`` (the nodes its pods run on) is reported;
   * ``ExternalName``: ``spec.externalIPs`` if set, else a CNAME to
     ``spec.externalName``;

3. ``options.default_targets``;
4. none: an error saying why, and no endpoints for those names.

The ``access`` and ``endpoints-type`` annotations choose among Node and Pod
addresses (:mod:`dnssync.sources.access`); the Nodes, Pods and EndpointSlices
come through the converter's lookup.

Cluster IPs are ``spec.clusterIPs`` (both families of a dual-stack Service,
so A and AAAA) where external-dns reads only ``spec.clusterIP``.  Error
handling follows :mod:`dnssync.sources.annotations`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from dnssync.errors import Ignored, InvalidInput
from dnssync.sources.access import access_value, node_addresses, node_port_targets
from dnssync.sources.annotations import parse_target
from dnssync.sources.convert import (
    Conversion,
    ObjectWork,
    SourceOptions,
    begin,
    mapping,
    no_names,
    sequence,
)
from dnssync.sources.headless import headless_targets
from dnssync.sources.lookup import Lookup

SERVICE_TYPES: Final = frozenset({"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"})


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str) and v]
    return []


def _parse_all(work: ObjectWork, values: Sequence[str], place: str) -> list[tuple[str, str]] | None:
    targets: list[tuple[str, str]] = []
    for i, value in enumerate(values):
        try:
            targets.append(parse_target(value, where=work.at(f"{place}[{i}]")))
        except InvalidInput as e:
            work.errors.append(e)
            return None
    return targets


def _cluster_ips(spec: Mapping[str, Any]) -> list[str]:
    ips = _strings(spec.get("clusterIPs")) or _strings(spec.get("clusterIP"))
    return [ip for ip in ips if ip != "None"]


def _targets(
    work: ObjectWork,
    obj: Mapping[str, Any],
    spec: Mapping[str, Any],
    service_type: str,
    internal: bool,
    lookup: Lookup | None = None,
) -> tuple[list[tuple[str, str]] | None, str, str]:
    """``(targets or None on error, where they came from, why there are none)``."""
    headless = spec.get("clusterIP") == "None"
    external_ips = _strings(spec.get("externalIPs"))
    if service_type == "LoadBalancer":
        if internal:
            if headless:
                return [], "", "a headless service (clusterIP: None) has no cluster IP"
            return (
                _parse_all(work, _cluster_ips(spec), "spec.clusterIPs"),
                "spec.clusterIPs",
                "the service has no cluster IP yet",
            )
        if external_ips:
            return _parse_all(work, external_ips, "spec.externalIPs"), "spec.externalIPs", ""
        return (
            work.status_targets(obj),
            "status.loadBalancer.ingress",
            "the load balancer has no address yet (status.loadBalancer.ingress is empty)",
        )
    if service_type == "ClusterIP":
        if headless and lookup is not None:
            return [], "", "no ready endpoint of this headless service has an address"
        if headless:
            return [], "", "a headless service (clusterIP: None) has no address of its own"
        if internal or work.options.publish_internal:
            return (
                _parse_all(work, _cluster_ips(spec), "spec.clusterIPs"),
                "spec.clusterIPs",
                "the service has no cluster IP yet",
            )
        return (
            [],
            "",
            "a ClusterIP service publishes its cluster IP only for internal-hostname names "
            "or with publish_internal",
        )
    if service_type == "NodePort":
        return _node_port(work, spec, internal, lookup)
    # ExternalName
    if external_ips:
        return _parse_all(work, external_ips, "spec.externalIPs"), "spec.externalIPs", ""
    external_name = spec.get("externalName")
    if isinstance(external_name, str) and external_name:
        try:
            target = parse_target(external_name, where=work.at("spec.externalName"))
        except InvalidInput as e:
            work.errors.append(e)
            return None, "", ""
        return [target], "spec.externalName", ""
    return [], "", "spec.externalName is empty"


def _node_port(
    work: ObjectWork, spec: Mapping[str, Any], internal: bool, lookup: Lookup | None
) -> tuple[list[tuple[str, str]] | None, str, str]:
    """A NodePort Service's targets: its cluster IPs (internal names), else its nodes'."""
    if internal:
        ips = _cluster_ips(spec)
        return _parse_all(work, ips, "spec.clusterIPs"), "spec.clusterIPs", "no cluster IP yet"
    if lookup is None:
        return [], "", "a NodePort service points at its nodes, and no Nodes are read here"
    if spec.get("externalTrafficPolicy") == "Local":
        return [], "", "externalTrafficPolicy Local wants the nodes its pods run on (Pods unread)"
    found = work.annotation("access")
    access, warning = access_value(found[1] if found else None)
    if found and warning:
        # The default addresses are published: nothing is lost, deletes go on.
        work.errors.append(Ignored(warning, where=work.at(f"annotation {found[0]}")))
    # external-dns's defaults: --exclude-unschedulable on, --expose-internal-ipv6 off.
    nodes = [node_addresses(n) for n in lookup.list("node")]
    addresses = node_port_targets(nodes, access, exclude_unschedulable=True)
    return (
        _parse_all(work, list(addresses), "the nodes' status.addresses"),
        "the nodes' status.addresses",
        f"no node of this NodePort service has an address for access {access or '(default)'}",
    )


def _srv(
    work: ObjectWork, spec: Mapping[str, Any], host: str
) -> list[tuple[str, Mapping[str, tuple[str, ...]]]]:
    """external-dns's SRV records beside a NodePort name: ``_<svc>._<proto>.<name>``."""
    by_name: dict[str, list[str]] = {}
    for port in sequence(spec.get("ports")):
        port = mapping(port)
        node_port, protocol = port.get("nodePort"), port.get("protocol")
        if isinstance(node_port, int) and node_port > 0:
            proto = protocol.lower() if isinstance(protocol, str) and protocol else "tcp"
            # Priority 0, weight 50, as external-dns writes them.
            value = f"0 50 {node_port} {host}"
            by_name.setdefault(f"_{work.ref.name}._{proto}.{host}", []).append(value)
    return [(name, {"SRV": tuple(sorted(v))}) for name, v in sorted(by_name.items())]


def _headless(
    work: ObjectWork,
    spec: Mapping[str, Any],
    service_type: str,
    hosts: list[str],
    lookup: Lookup | None,
) -> list[tuple[str, Mapping[str, tuple[str, ...]]]]:
    """A headless Service's names and pod names with their endpoints' addresses, if any."""
    if service_type != "ClusterIP" or spec.get("clusterIP") != "None" or lookup is None:
        return []
    if work.annotation_targets is not None:
        return []  # the target annotation wins, as in external-dns
    found = headless_targets(work, spec, hosts, lookup)
    return [(n, {t: tuple(sorted(v)) for t, v in found[n].items()}) for n in sorted(found)]


def _resolve(
    work: ObjectWork,
    obj: Mapping[str, Any],
    spec: Mapping[str, Any],
    service_type: str,
    internal: bool,
    hosts: list[str],
    lookup: Lookup | None = None,
) -> dict[str, tuple[str, ...]] | None:
    if work.annotation_targets is not None:
        found = work.annotation("target")
        origin = f"annotation {found[0]}" if found else "annotation target"
        return work.group(work.annotation_targets, origin)
    targets, origin, why = _targets(work, obj, spec, service_type, internal, lookup)
    if targets is None:
        return None
    if not targets:
        defaults = work.default_targets()
        if defaults is None:
            return None
        if defaults:
            return work.group(defaults, "default targets")
        which = "internal-hostname" if internal else "hostname"
        hint = f"set the target annotation ({work.key('target')})"
        work.error(f"no target for {which} {', '.join(hosts)}: {why}; {hint}")
        return None
    return work.group(targets, origin)


def service_endpoints(
    obj: Mapping[str, Any], options: SourceOptions, lookup: Lookup | None = None
) -> Conversion:
    """The endpoints one Service (raw API JSON) asks for; never raises.

    ``lookup`` serves the Nodes a NodePort Service's names point at.
    """
    started = begin(obj, "service", options)
    if isinstance(started, Conversion):
        return started
    work = started
    external = work.hostnames_from("hostname") or []
    internal = work.hostnames_from("internal-hostname") or []
    if not external and not internal:
        return no_names(work, f"set annotation {work.key('hostname')}")
    spec = obj.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    service_type = spec.get("type") or "ClusterIP"
    if not isinstance(service_type, str) or service_type not in SERVICE_TYPES:
        work.error(
            f"unknown type {service_type!r}; expected one of {', '.join(sorted(SERVICE_TYPES))}",
            "spec.type",
        )
        return work.failed()
    wanted: list[tuple[str, Mapping[str, tuple[str, ...]]]] = []
    for hosts, is_internal in ((external, False), (internal, True)):
        if not hosts:
            continue
        pods = _headless(work, spec, service_type, hosts, lookup)
        if pods:
            wanted.extend(pods)
            continue
        by_type = _resolve(work, obj, spec, service_type, is_internal, hosts, lookup)
        if by_type is not None:
            wanted.extend((host, by_type) for host in hosts)
            if service_type == "NodePort" and not is_internal and lookup is not None:
                for host in hosts:
                    wanted.extend(_srv(work, spec, host))
    return work.endpoints(wanted)
