"""What every Gateway API route kind shares, as external-dns v0.22's gateway sources.  Pure.

A route converter (one module per kind) names its :class:`RouteKind` and
calls :func:`route_endpoints` with the :class:`~dnssync.sources.lookup.Lookup`
it was given; Gateways (and, for a namespace selector, Namespaces) are read
only through it, so the object index knows which route to convert again when
a Gateway changes.

**Names** (external-dns's ``gatewayRouteResolver.hosts``): ``spec.hostnames``
(HTTPRoute, GRPCRoute, TLSRoute; TCPRoute and UDPRoute have none), or, when
there are none, whatever the listeners' hostnames are; plus the ``hostname``
annotation.  ``gateway-hostname-source``: ``annotation-only`` takes the
annotation alone, ``defined-hosts-only`` ``spec.hostnames`` alone (neither
inherits listener hostnames); another value is reported and ignored.  Every
name, the annotation's included, is intersected with the listeners.

**Parents**: each ``status.parents[]`` entry whose ``parentRef`` is one of
``spec.parentRefs`` (same group, kind, namespace and name), names a Gateway
(ListenerSets are read by external-dns only with ``--gateway-listener-sets``;
dnssync does not read them) and has condition ``Accepted`` ``True``; its
``sectionName`` and ``port`` narrow the listeners.  In a manifests directory
there is no status: every ``spec.parentRefs[]`` entry counts as accepted,
provided its Gateway is in the directory (else that is reported) and one of
its listeners admits the route.

**Listeners** of a parent: those its ``sectionName`` names (all without one),
of the route's protocol (HTTP and HTTPS are one; a TCPRoute attaches to TLS
listeners too), on the parent's ``port`` if set, whose ``allowedRoutes``
admits the route: namespaces ``from`` ``Same`` (the default), ``All`` or
``Selector`` (matched against the labels of the route's Namespace, looked up,
with the ``kubernetes.io/metadata.name`` label the API server always sets),
and ``kinds`` when listed.

**Hostname intersection** (external-dns's ``gwMatchingHost``, the Gateway API
rule): a listener without hostname takes the route's name, a route without
names takes the listener's; ``*.example.org`` matches any name below
``example.org`` (one label or more), never ``example.org`` itself; the more
specific of the two is published.  Two empty sides publish nothing.

**Targets** of a name: over every parent whose listeners matched it, the
Gateway's ``target`` annotation if set (external-dns reads it from the
Gateway, never from the route: a route's own ``target`` annotation is
reported as ignored), else its ``status.addresses`` (IPs -> A/AAAA, other
values -> CNAME; addresses win over host names, as for a load balancer's
status), else the target's ``default_targets``; none at all is an error.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from dnssync import names
from dnssync.errors import Ignored, InvalidInput
from dnssync.sources.annotations import parse_target, parse_targets
from dnssync.sources.convert import Conversion, ObjectWork, SourceOptions, begin, mapping, sequence
from dnssync.sources.lookup import Lookup
from dnssync.sources.selector import (
    EQUALS,
    EXISTS,
    IN,
    NOT_EXISTS,
    NOT_IN,
    Requirement,
)

GROUP: Final = "gateway.networking.k8s.io"
ANNOTATION_ONLY: Final = "annotation-only"
DEFINED_HOSTS_ONLY: Final = "defined-hosts-only"
#: The label the API server puts on every Namespace (selectors often use it).
NAME_LABEL: Final = "kubernetes.io/metadata.name"
#: Listener protocols that attach the same routes (external-dns's gwProtocolMatches).
_SAME_PROTOCOL: Final = {"HTTPS": "HTTP"}
#: A LabelSelector's matchExpressions operators, as selector requirements.
_OPERATORS: Final = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": NOT_EXISTS}


@dataclass(frozen=True, slots=True)
class RouteKind:
    """What tells one route kind from another."""

    ref: str  # dnssync's kind name: httproute, tcproute, ...
    kind: str  # the Kubernetes Kind, for listeners' allowedRoutes.kinds
    protocol: str  # the listener protocol it attaches to
    hostnames: bool  # whether its spec has hostnames


@dataclass(frozen=True, slots=True)
class _Parent:
    """A Gateway that accepted the route, and the part of it the route attached to."""

    gateway: Mapping[str, Any]
    namespace: str
    name: str
    section: str | None
    port: object


def matching_host(listener: str, route: str) -> str | None:
    """The more specific of two canonical names if they overlap ("" matches any), else None."""
    a, b = listener, route
    if not a:
        return b
    if not b or a == b:
        return a
    if len(b) < len(a) or (len(a) == len(b) and b.startswith("*.")):
        a, b = b, a
    if a.startswith("*.") and b.endswith(a[1:]):
        return b
    return None


def protocol_matches(route: str, listener: object) -> bool:
    """Whether a route of ``route``'s protocol attaches to a listener of ``listener``'s."""
    if not isinstance(listener, str):
        return False
    r, lis = _SAME_PROTOCOL.get(route, route), _SAME_PROTOCOL.get(listener, listener)
    if r == "TCP" and lis == "TLS":
        lis = "TCP"
    return r == lis


def _listener_host(value: object) -> str | None:
    """A listener's hostname, canonical ("" for none); None when it is no valid name."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        return None  # an address is no hostname (external-dns's gwHost)
    try:
        return names.normalize(value, wildcard=True)
    except InvalidInput:
        return None


def _route_hosts(work: ObjectWork, spec: Mapping[str, Any], route: RouteKind) -> list[str]:
    """The route's names; "" stands for "the listener's hostname"."""
    use_spec = use_annotation = inherit = True
    found = work.annotation("gateway-hostname-source")
    mode = found[1].strip().lower() if found else ""
    if mode == ANNOTATION_ONLY:
        use_spec = inherit = False
    elif mode == DEFINED_HOSTS_ONLY:
        use_annotation = inherit = False
    elif found is not None and mode:
        work.error(
            f"{found[1]!r} is not a hostname source; "
            f"expected {ANNOTATION_ONLY!r} or {DEFINED_HOSTS_ONLY!r}; every source is used",
            f"annotation {found[0]}",
        )
    declared = sequence(spec.get("hostnames")) if route.hostnames else ()
    hosts: list[str] = []
    if use_spec:
        for i, value in enumerate(declared):
            host = work.host_field(value, f"spec.hostnames[{i}]")
            if host:
                hosts.append(host)
    if inherit and not declared:
        hosts.append("")
    if use_annotation:
        hosts.extend(work.hostnames_from("hostname") or [])
    return [h for h in hosts if not _is_address(work, h)]


def _is_address(work: ObjectWork, host: str) -> bool:
    """Whether a name is an IP address: reported, it names nothing (external-dns's gwHost)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    work.error(f"{host!r} is an IP address, not a host name; skipped")
    return True


def _same_ref(a: Mapping[str, Any], b: Mapping[str, Any], namespace: str) -> bool:
    """Whether two parentRefs name one object (external-dns's gwRouteHasParentRef)."""
    return all(
        (a.get(key) or default) == (b.get(key) or default)
        for key, default in (("group", GROUP), ("kind", "Gateway"), ("namespace", namespace))
    ) and a.get("name") == b.get("name")


def _is_accepted(parent: Mapping[str, Any]) -> bool:
    for condition in sequence(parent.get("conditions")):
        condition = mapping(condition)
        if condition.get("type") == "Accepted":
            return condition.get("status") == "True"
    return False


def _candidates(
    work: ObjectWork, obj: Mapping[str, Any], declared: list[Mapping[str, Any]]
) -> list[tuple[str, Mapping[str, Any]]]:
    """``(where, parentRef)`` of the parents that accepted the route."""
    if work.options.manifests:
        return [(f"spec.parentRefs[{i}]", ref) for i, ref in enumerate(declared)]
    parents = sequence(mapping(obj.get("status")).get("parents"))
    accepted = [mapping(mapping(p).get("parentRef")) for p in parents if _is_accepted(mapping(p))]
    namespace = work.ref.namespace
    return [
        ("status.parents", ref)
        for ref in accepted
        if any(_same_ref(ref, d, namespace) for d in declared)
    ]


def _parents(work: ObjectWork, obj: Mapping[str, Any], lookup: Lookup) -> list[_Parent]:
    """The Gateways that accepted the route (in manifests: that it names and that exist)."""
    declared = [mapping(r) for r in sequence(mapping(obj.get("spec")).get("parentRefs"))]
    out: list[_Parent] = []
    for place, ref in _candidates(work, obj, declared):
        if (ref.get("group") or GROUP) != GROUP or (ref.get("kind") or "Gateway") != "Gateway":
            continue  # a ListenerSet or another implementation's parent: not read
        namespace, name = ref.get("namespace") or work.ref.namespace, ref.get("name")
        if not isinstance(namespace, str) or not isinstance(name, str):
            continue
        gateway = lookup.get("gateway", namespace, name)
        if gateway is None:
            if work.options.manifests:
                work.error(f"parent Gateway {namespace}/{name} is not in the manifests", place)
            continue
        out.append(
            _Parent(gateway, namespace, name, ref.get("sectionName") or None, ref.get("port"))
        )
    return out


def _selector(raw: Mapping[str, Any]) -> list[Requirement] | None:
    """A LabelSelector as requirements; None when it is malformed (it then selects nothing)."""
    requirements = [
        Requirement(str(k), EQUALS, (str(v),)) for k, v in mapping(raw.get("matchLabels")).items()
    ]
    for expression in sequence(raw.get("matchExpressions")):
        expression = mapping(expression)
        operator = _OPERATORS.get(str(expression.get("operator")))
        values = tuple(str(v) for v in sequence(expression.get("values")))
        if operator is None or not isinstance(expression.get("key"), str):
            return None
        requirements.append(Requirement(expression["key"], operator, values))
    return requirements


def _from_selector(work: ObjectWork, raw: Mapping[str, Any], lookup: Lookup) -> bool:
    requirements = _selector(mapping(raw.get("selector")))
    if requirements is None:
        return False
    namespace = lookup.get("namespace", "", work.ref.namespace) or {}
    labels = {
        str(k): str(v) for k, v in mapping(mapping(namespace.get("metadata")).get("labels")).items()
    }
    labels[NAME_LABEL] = work.ref.namespace
    return all(r.matches(labels) for r in requirements)


#: ``allowedRoutes.namespaces.from``: whether a route in the work's namespace may attach.
_FROM: Final[dict[str, Callable[[ObjectWork, _Parent, Mapping[str, Any], Lookup], bool]]] = {
    "All": lambda work, parent, raw, lookup: True,
    "Same": lambda work, parent, raw, lookup: parent.namespace == work.ref.namespace,
    "Selector": lambda work, parent, raw, lookup: _from_selector(work, raw, lookup),
}


def _admits(
    work: ObjectWork, route: RouteKind, parent: _Parent, listener: Mapping[str, Any], lookup: Lookup
) -> bool:
    """Whether a listener's ``allowedRoutes`` admits the route (external-dns's routeIsAllowed)."""
    allowed = mapping(listener.get("allowedRoutes"))
    namespaces = mapping(allowed.get("namespaces"))
    rule = _FROM.get(str(namespaces.get("from") or "Same"))
    if rule is None or not rule(work, parent, namespaces, lookup):
        return False
    kinds = [mapping(k) for k in sequence(allowed.get("kinds"))]
    return not kinds or any(
        (k.get("group") or GROUP) == GROUP and k.get("kind") == route.kind for k in kinds
    )


def _listeners(
    work: ObjectWork, route: RouteKind, parent: _Parent, lookup: Lookup
) -> Iterable[Mapping[str, Any]]:
    """The listeners of a parent the route attaches to."""
    for raw in sequence(mapping(parent.gateway.get("spec")).get("listeners")):
        listener = mapping(raw)
        if parent.section is not None and listener.get("name") != parent.section:
            continue
        if not protocol_matches(route.protocol, listener.get("protocol")):
            continue
        if parent.port is not None and listener.get("port") != parent.port:
            continue
        if _admits(work, route, parent, listener, lookup):
            yield listener


def _matched(listeners: Iterable[Mapping[str, Any]], hosts: list[str]) -> set[str]:
    """The names the route publishes through these listeners."""
    out: set[str] = set()
    for listener in listeners:
        own = _listener_host(listener.get("hostname"))
        if own is None:
            continue
        for host in hosts:
            if own or host:
                found = matching_host(own, host)
                if found:
                    out.add(found)
    return out


def _addresses(work: ObjectWork, parent: _Parent, where: str) -> list[tuple[str, str]] | None:
    """``status.addresses`` as targets (IPs win over host names); None when one is bad."""
    ips: list[tuple[str, str]] = []
    hosts: list[tuple[str, str]] = []
    for i, raw in enumerate(sequence(mapping(parent.gateway.get("status")).get("addresses"))):
        value = mapping(raw).get("value")
        if not isinstance(value, str) or not value:
            continue
        try:
            found = parse_target(value, where=work.at(f"{where} status.addresses[{i}]"))
        except InvalidInput as e:
            work.errors.append(e)
            return None
        (hosts if found[0] == "CNAME" else ips).append(found)
    return ips or hosts


def _targets(work: ObjectWork, parent: _Parent) -> list[tuple[str, str]] | None:
    """A parent's targets: its target annotation, its addresses, the defaults; None: none."""
    where = f"Gateway {parent.namespace}/{parent.name}"
    key = work.key("target")
    annotations = mapping(mapping(parent.gateway.get("metadata")).get("annotations"))
    text = annotations.get(key)
    if isinstance(text, str) and text.strip():
        try:
            return parse_targets(text, where=work.at(f"{where} annotation {key}"))
        except InvalidInput as e:
            work.errors.append(e)
            return None
    targets = _addresses(work, parent, where)
    if targets is None:
        return None
    if not targets:
        targets = work.default_targets()
        if targets is None:
            return None
    if not targets:
        work.error(
            f"no target: {where} has no address yet (status.addresses is empty); "
            f"set the target annotation ({key}) on the Gateway"
        )
        return None
    return targets


def _without_target(obj: Mapping[str, Any], key: str) -> tuple[Mapping[str, Any], bool]:
    """The route without its ``target`` annotation (routes take targets from Gateways)."""
    meta = mapping(obj.get("metadata"))
    annotations = mapping(meta.get("annotations"))
    if key not in annotations:
        return obj, False
    kept = {k: v for k, v in annotations.items() if k != key}
    return {**obj, "metadata": {**meta, "annotations": kept}}, True


def route_endpoints(
    route: RouteKind, obj: Mapping[str, Any], options: SourceOptions, lookup: Lookup
) -> Conversion:
    """The endpoints one route (raw API JSON) asks for; never raises."""
    key = options.annotation_prefix + "target"
    bare, had_target = _without_target(obj, key) if isinstance(obj, Mapping) else (obj, False)
    started = begin(bare, route.ref, options)
    if isinstance(started, Conversion):
        return started
    work = started
    if had_target:
        why = "ignored on a route (as in external-dns): set it on the Gateway"
        work.errors.append(Ignored(why, where=work.at(f"annotation {key}")))
    hosts = _route_hosts(work, mapping(obj.get("spec")), route)
    wanted: dict[str, list[tuple[str, str]]] = {}
    for parent in _parents(work, obj, lookup) if hosts else ():
        matched = _matched(_listeners(work, route, parent, lookup), hosts)
        targets = _targets(work, parent) if matched else None
        for host in sorted(matched) if targets is not None else ():
            wanted.setdefault(host, []).extend(targets or ())
    grouped = [(host, work.group(targets, "Gateway targets")) for host, targets in wanted.items()]
    return work.endpoints((host, by_type) for host, by_type in grouped if by_type is not None)
