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
     all names with ``publish_internal``; a headless Service (``None``) has
     none: dnssync does not read Endpoints or Pods, so it publishes no pod
     addresses (external-dns does);
   * ``NodePort``: nothing of its own (external-dns reads Node addresses and
     writes SRV records; dnssync publishes A/AAAA/CNAME only);
   * ``ExternalName``: ``spec.externalIPs`` if set, else a CNAME to
     ``spec.externalName``;

3. ``options.default_targets``;
4. none: an error saying why, and no endpoints for those names.

Cluster IPs are ``spec.clusterIPs`` (both families of a dual-stack Service,
so A and AAAA) where external-dns reads only ``spec.clusterIP``.  Error
handling follows :mod:`dnssync.sources.annotations`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from dnssync.errors import InvalidInput
from dnssync.sources.annotations import parse_target
from dnssync.sources.convert import Conversion, ObjectWork, SourceOptions, begin, no_names

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
        if headless:
            return (
                [],
                "",
                "a headless service (clusterIP: None) has no address of its own, "
                "and dnssync does not publish pod addresses",
            )
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
        return [], "", "dnssync does not publish the node addresses of a NodePort service"
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


def _resolve(
    work: ObjectWork,
    obj: Mapping[str, Any],
    spec: Mapping[str, Any],
    service_type: str,
    internal: bool,
    hosts: list[str],
) -> dict[str, tuple[str, ...]] | None:
    if work.annotation_targets is not None:
        found = work.annotation("target")
        origin = f"annotation {found[0]}" if found else "annotation target"
        return work.group(work.annotation_targets, origin)
    targets, origin, why = _targets(work, obj, spec, service_type, internal)
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


def service_endpoints(obj: Mapping[str, Any], options: SourceOptions) -> Conversion:
    """The endpoints one Service (raw API JSON) asks for; never raises."""
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
        by_type = _resolve(work, obj, spec, service_type, is_internal, hosts)
        if by_type is not None:
            wanted.extend((host, by_type) for host in hosts)
    return work.endpoints(wanted)
