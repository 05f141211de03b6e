"""Which addresses a Service's records take from Nodes and Pods: external-dns's ``access``
and ``endpoints-type`` annotations (pure).

Both only matter where a Service's targets come from other objects: ``access`` for a
NodePort Service (its nodes' addresses), ``endpoints-type`` for a headless one (one
address per ready endpoint of its EndpointSlices).  Reading those objects is the
dependency mechanism's job; this module is the rule that turns what was read into
targets, as external-dns v0.22's ``source/service.go`` does it:

* **NodePort** (``extractNodePortTargets``): ``access: public`` gives the nodes'
  ExternalIPs (plus their internal IPv6 addresses with ``expose_internal_ipv6``),
  ``access: private`` their InternalIPs; absent (or any other value, which external-dns
  ignores) gives the ExternalIPs when any node has one, else the InternalIPs.
  Unschedulable nodes are left out with ``exclude_unschedulable``.
* **Headless** (``getTargetsForDomain``): a ``target`` annotation on the Pod wins; else
  ``endpoints-type: NodeExternalIP`` gives the ExternalIPs of the Pod's node (plus its
  internal IPv6 addresses with ``expose_internal_ipv6``), ``HostIP`` the Pod's
  ``status.hostIP``, and anything else the endpoint's first address.

A value other than those is reported by :func:`access_value` /
:func:`endpoints_type_value` and the default applies, where external-dns is silent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dnssync.sources.convert import mapping, sequence

PUBLIC, PRIVATE = "public", "private"
NODE_EXTERNAL_IP, HOST_IP = "NodeExternalIP", "HostIP"
EXTERNAL, INTERNAL = "ExternalIP", "InternalIP"


@dataclass(frozen=True, slots=True)
class NodeAddresses:
    """What a Node contributes: its addresses as (type, address), and whether it is schedulable."""

    name: str
    addresses: tuple[tuple[str, str], ...]
    unschedulable: bool = False

    def of(self, kind: str) -> list[str]:
        return [a for t, a in self.addresses if t == kind]


def node_addresses(obj: Mapping[str, Any]) -> NodeAddresses:
    """A Node object's name, ``status.addresses`` and ``spec.unschedulable``; odd fields skipped."""
    found: list[tuple[str, str]] = []
    for entry in sequence(mapping(obj.get("status")).get("addresses")):
        kind, address = mapping(entry).get("type"), mapping(entry).get("address")
        if isinstance(kind, str) and isinstance(address, str):
            found.append((kind, address))
    name = mapping(obj.get("metadata")).get("name")
    unschedulable = mapping(obj.get("spec")).get("unschedulable") is True
    return NodeAddresses(name if isinstance(name, str) else "", tuple(found), unschedulable)


def _is_v6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


def _external(nodes: Iterable[NodeAddresses], expose_internal_ipv6: bool) -> list[str]:
    out: list[str] = []
    for node in nodes:
        out += node.of(EXTERNAL)
        if expose_internal_ipv6:
            out += [a for a in node.of(INTERNAL) if _is_v6(a)]
    return out


def node_port_targets(
    nodes: Sequence[NodeAddresses],
    access: str | None,
    *,
    expose_internal_ipv6: bool = False,
    exclude_unschedulable: bool = False,
) -> tuple[str, ...]:
    """The addresses a NodePort Service's names get from ``nodes``, by ``access``."""
    usable = [n for n in nodes if not (exclude_unschedulable and n.unschedulable)]
    internal = [a for n in usable for a in n.of(INTERNAL)]
    if access == PRIVATE:
        return tuple(internal)
    external = _external(usable, expose_internal_ipv6)
    if access == PUBLIC or any(n.of(EXTERNAL) for n in usable):
        return tuple(external)
    return tuple(internal)


def pod_targets(
    endpoints_type: str | None,
    *,
    addresses: Sequence[str],
    host_ip: str = "",
    node: NodeAddresses | None = None,
    pod_target: Sequence[str] = (),
    expose_internal_ipv6: bool = False,
) -> tuple[str, ...]:
    """The addresses one ready endpoint of a headless Service gives its names."""
    if pod_target:
        return tuple(pod_target)
    if endpoints_type == NODE_EXTERNAL_IP:
        return tuple(_external([node], expose_internal_ipv6)) if node is not None else ()
    if endpoints_type == HOST_IP:
        return (host_ip,) if host_ip else ()
    return (addresses[0],) if addresses else ()


def access_value(value: str | None) -> tuple[str | None, str]:
    """The ``access`` annotation's effective value and a warning ("" if none)."""
    if value is None or value in (PUBLIC, PRIVATE):
        return value, ""
    return None, f"{value!r} is not {PUBLIC!r} or {PRIVATE!r}; the default is used"


def endpoints_type_value(value: str | None) -> tuple[str | None, str]:
    """The ``endpoints-type`` annotation's effective value and a warning ("" if none)."""
    if value is None or value in (NODE_EXTERNAL_IP, HOST_IP):
        return value, ""
    return None, (
        f"{value!r} is not {NODE_EXTERNAL_IP!r} or {HOST_IP!r}; the endpoints' own addresses "
        "are used"
    )
