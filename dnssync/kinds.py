"""The source registry: every Kubernetes kind dnssync can publish from, one entry each.

Pure data (no I/O, no imports of the layers above): the config validates a
target's ``sources:`` against it, the Kubernetes edge builds its informers and
Event references from it, the object index trims objects to the fields an
entry names, the manifests reader picks documents by its kinds and API
groups, and the shipped RBAC is checked against it.  An entry names its
converter (``module:function``, a pure function from one raw object to a
:class:`~dnssync.sources.convert.Conversion`) by path, so this table stays
below the converters it lists.

Adding a source kind is one converter module plus one entry here.  The
``name`` is external-dns's ``--source`` value, so flags translate one to one.

**Kinds a converter depends on** (a Gateway for its routes; Nodes or
EndpointSlices for NodePort and headless Services) are no source: they ask
for no records themselves.  Each is one :class:`Kind` in :data:`NEEDED`, and a
source entry lists the ones its converter reads in ``needs``.  Such a
converter takes a third argument, a :class:`~dnssync.sources.lookup.Lookup`,
and reads the other objects only through it (``lookup.get(kind, namespace,
name)``).  The object index records what each conversion looked up (found or
not) and converts the object again when one of those objects appears,
changes or goes; the manifests reader serves the lookup from the same
directory.  The Kubernetes edge watches every needed kind of an enabled
source, trimmed to the entry's fields like the sources, and the shipped RBAC
grants it get/list/watch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True, kw_only=True)
class Kind:
    """A Kubernetes kind dnssync reads: where it is served, what of it is kept."""

    #: dnssync's name of the kind (an ``ObjectRef.kind``: in logs, Events, metrics).
    ref: str
    #: API group ("" for the core group), the version read, Kind and plural.
    group: str
    version: str
    kind: str
    plural: str
    #: The ``spec`` and ``status`` fields the converters read; the rest is dropped
    #: when an object is stored (memory on large clusters).
    spec_fields: tuple[str, ...]
    status_fields: tuple[str, ...] = ()
    #: Other API groups whose apiVersion a manifest of this kind may carry.
    legacy_groups: tuple[str, ...] = ()
    #: False for cluster-scoped kinds (Namespaces): listed once, namespace "".
    namespaced: bool = True
    #: ``metadata.labels`` are kept (a listener's namespace selector reads them).
    labels: bool = False
    #: Top-level fields kept beside ``spec`` and ``status`` (an EndpointSlice's
    #: ``addressType`` and ``endpoints`` have no spec around them).
    top_fields: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def fits(self, api_version: object) -> bool:
        """Whether a manifest's ``apiVersion`` belongs to this kind's group."""
        if api_version is None:
            return True  # items of a raw API list carry no apiVersion
        if not isinstance(api_version, str):
            return False
        group = api_version.rpartition("/")[0]
        return group == self.group or group in self.legacy_groups


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceKind(Kind):
    """One kind of object that may ask for DNS records."""

    #: external-dns's ``--source`` value (``service``, ``ingress``, ...).
    name: str
    #: The converter, ``module:function``.
    converter: str
    #: ``ref`` of the :data:`NEEDED` kinds the converter looks up.
    needs: tuple[str, ...] = ()
    #: dnssync writes ``status.observedGeneration`` after a successful apply, as
    #: external-dns does for DNSEndpoints (RBAC: update on ``<plural>/status``).
    writes_status: bool = False


_GATEWAY_API: Final = "gateway.networking.k8s.io"
#: What every route converter reads (the Gateway itself is looked up).
_ROUTE_SPEC: Final = ("hostnames", "parentRefs")
_ROUTE_STATUS: Final = ("parents",)

#: Kinds converters depend on, by ``ref``.
NEEDED: Final = {
    "gateway": Kind(
        ref="gateway",
        group=_GATEWAY_API,
        version="v1",
        kind="Gateway",
        plural="gateways",
        spec_fields=("listeners",),
        status_fields=("addresses",),
    ),
    "node": Kind(
        ref="node",
        group="",
        version="v1",
        kind="Node",
        plural="nodes",
        spec_fields=("unschedulable",),
        status_fields=("addresses",),
        namespaced=False,
    ),
    "pod": Kind(
        ref="pod",
        group="",
        version="v1",
        kind="Pod",
        plural="pods",
        spec_fields=("hostname", "nodeName"),
        status_fields=("hostIP",),
        labels=True,  # matched against the headless Service's selector
    ),
    "endpointslice": Kind(
        ref="endpointslice",
        group="discovery.k8s.io",
        version="v1",
        kind="EndpointSlice",
        plural="endpointslices",
        spec_fields=(),
        labels=True,  # kubernetes.io/service-name names the Service
        top_fields=("addressType", "endpoints"),
    ),
    "namespace": Kind(
        ref="namespace",
        group="",
        version="v1",
        kind="Namespace",
        plural="namespaces",
        spec_fields=(),
        namespaced=False,
        labels=True,
    ),
}
_ROUTE_NEEDS: Final = ("gateway", "namespace")


KINDS: Final = (
    SourceKind(
        name="service",
        ref="service",
        group="",
        version="v1",
        kind="Service",
        plural="services",
        converter="dnssync.sources.services:service_endpoints",
        spec_fields=(
            "type",
            "externalName",
            "clusterIP",
            "clusterIPs",
            "externalIPs",
            "ports",
            "externalTrafficPolicy",
            "selector",
            "publishNotReadyAddresses",
        ),
        status_fields=("loadBalancer",),
        # A NodePort Service's targets are its nodes' addresses; a headless
        # one's are its ready endpoints' (EndpointSlices, their Pods, Nodes).
        needs=("node", "pod", "endpointslice"),
    ),
    SourceKind(
        name="ingress",
        ref="ingress",
        group="networking.k8s.io",
        version="v1",
        kind="Ingress",
        plural="ingresses",
        converter="dnssync.sources.ingresses:ingress_endpoints",
        spec_fields=("rules", "tls", "ingressClassName"),
        status_fields=("loadBalancer",),
        legacy_groups=("extensions",),
    ),
    SourceKind(
        name="crd",
        ref="crd",  # external-dns's resource label: crd/<namespace>/<name>
        group="externaldns.k8s.io",
        version="v1alpha1",
        kind="DNSEndpoint",
        plural="dnsendpoints",
        converter="dnssync.sources.dnsendpoints:dnsendpoint_endpoints",
        spec_fields=("endpoints",),
        status_fields=("observedGeneration",),
        writes_status=True,
    ),
    SourceKind(
        name="gateway-httproute",
        ref="httproute",  # external-dns's resource label: httproute/<namespace>/<name>
        group=_GATEWAY_API,
        version="v1",
        kind="HTTPRoute",
        plural="httproutes",
        converter="dnssync.sources.gateway.httproutes:httproute_endpoints",
        spec_fields=_ROUTE_SPEC,
        status_fields=_ROUTE_STATUS,
        needs=_ROUTE_NEEDS,
    ),
    SourceKind(
        name="gateway-grpcroute",
        ref="grpcroute",
        group=_GATEWAY_API,
        version="v1",
        kind="GRPCRoute",
        plural="grpcroutes",
        converter="dnssync.sources.gateway.grpcroutes:grpcroute_endpoints",
        spec_fields=_ROUTE_SPEC,
        status_fields=_ROUTE_STATUS,
        needs=_ROUTE_NEEDS,
    ),
    SourceKind(
        name="gateway-tlsroute",
        ref="tlsroute",
        group=_GATEWAY_API,
        version="v1",
        kind="TLSRoute",
        plural="tlsroutes",
        converter="dnssync.sources.gateway.tlsroutes:tlsroute_endpoints",
        spec_fields=_ROUTE_SPEC,
        status_fields=_ROUTE_STATUS,
        needs=_ROUTE_NEEDS,
    ),
    SourceKind(
        name="gateway-tcproute",
        ref="tcproute",
        group=_GATEWAY_API,
        version="v1alpha2",
        kind="TCPRoute",
        plural="tcproutes",
        converter="dnssync.sources.gateway.tcproutes:tcproute_endpoints",
        spec_fields=_ROUTE_SPEC,
        status_fields=_ROUTE_STATUS,
        needs=_ROUTE_NEEDS,
    ),
    SourceKind(
        name="gateway-udproute",
        ref="udproute",
        group=_GATEWAY_API,
        version="v1alpha2",
        kind="UDPRoute",
        plural="udproutes",
        converter="dnssync.sources.gateway.udproutes:udproute_endpoints",
        spec_fields=_ROUTE_SPEC,
        status_fields=_ROUTE_STATUS,
        needs=_ROUTE_NEEDS,
    ),
)

#: By ``--source`` name, and by dnssync's kind name.
BY_NAME: Final = {k.name: k for k in KINDS}
BY_REF: Final = {k.ref: k for k in KINDS}
#: Every kind read: the sources, then the kinds they need.
WATCHED: Final[dict[str, Kind]] = {k.ref: k for k in KINDS} | {
    n: NEEDED[n] for k in KINDS for n in k.needs
}
#: What ``sources:`` defaults to: external-dns's usual pair.
DEFAULT_SOURCES: Final = ("service", "ingress")


def with_needs(refs: Iterable[str]) -> tuple[str, ...]:
    """The kinds to watch for sources ``refs``: those, then the kinds they need, sorted."""
    wanted = set(refs)
    return tuple(sorted(wanted | {n for r in wanted for n in BY_REF[r].needs}))
