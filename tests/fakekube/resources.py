"""The resource kinds the fake API server serves, and how each one behaves.

A kind is one frozen `ResourceType`: its URL coordinates (group, version,
plural), its Kind, and the handful of per-kind rules where the real
kube-apiserver differs between kinds (status subresource, generation,
custom-resource quirks, what DELETE answers, which field selectors exist).
Adding a kind to the fake is one more entry in `DEFAULT_RESOURCES`.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

JsonObj = dict[str, Any]


@dataclass(frozen=True, eq=False)  # identity hashing: a kind is a dict key
class ResourceType:
    """One served kind, with the per-kind rules the real server applies."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    # Served by a CustomResourceDefinition: strategic merge patch is refused
    # (415), list items keep kind/apiVersion, PUT needs metadata.resourceVersion.
    custom: bool = False
    # Has a /status subresource: writes to the main resource keep the stored
    # status, writes to /status keep everything else.
    status_subresource: bool = False
    # metadata.generation is set on create and bumped when anything outside
    # metadata and status changes (Ingress, CRs); Services, ConfigMaps, Leases
    # and Events carry no generation in a real cluster.
    generation: bool = False
    # DELETE answers with the deleted object (Services, Namespaces, CRs) rather
    # than a Status "Success" (ConfigMaps, Leases, Events, Ingresses).
    return_deleted: bool = False
    # PUT on a missing object creates it (Events); otherwise 404.
    create_on_update: bool = False
    # PUT without metadata.resourceVersion is refused (422), as for custom resources (Leases).
    update_needs_resource_version: bool = False
    # Field selectors beyond metadata.name / metadata.namespace (others -> 400).
    field_labels: frozenset[str] = frozenset()
    # Status a create through the API starts with (the API drops any status
    # sent on create for kinds with a status subresource).
    initial_status: JsonObj | None = None
    short_names: tuple[str, ...] = ()
    # Fills server-side defaults on create (e.g. a Service's clusterIP).
    defaulter: Callable[[JsonObj], None] | None = field(default=None, compare=False)
    # Kind-specific validation of API writes: (field, message) per problem -> 422.
    validator: Callable[[JsonObj], list[tuple[str, str]]] | None = field(
        default=None, compare=False
    )

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """The name error messages use: `services`, `leases.coordination.k8s.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def base_path(self, namespace: str | None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None and self.namespaced:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"


# Service cluster IPs come from 10.96.0.0/12, as in a kubeadm cluster.
_cluster_ips: Iterator[ipaddress.IPv4Address] = (
    ipaddress.IPv4Address("10.96.0.10") + i for i in itertools.count()
)


def _default_service(obj: JsonObj) -> None:
    """Apply the defaults the real Service REST storage fills on create."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP"):
            ip = str(next(_cluster_ips))
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])


def _validate_service(obj: JsonObj) -> list[tuple[str, str]]:
    spec = obj.get("spec") or {}
    if spec.get("type") == "ExternalName":
        if not spec.get("externalName"):
            return [("spec.externalName", "Required value")]
        return []
    causes = []
    if not spec.get("ports") and spec.get("clusterIP") != "None":
        causes.append(("spec.ports", "Required value"))
    lb = (obj.get("status") or {}).get("loadBalancer") or {}
    if lb.get("ingress") and spec.get("type") != "LoadBalancer":
        causes.append(
            (
                "status.loadBalancer.ingress",
                "Forbidden: may only be used when `spec.type` is 'LoadBalancer'",
            )
        )
    return causes


def _validate_core_event(obj: JsonObj) -> list[tuple[str, str]]:
    # core/v1 Events must sit in their involved object's namespace ("default"
    # for cluster-scoped objects).
    namespace = obj["metadata"].get("namespace")
    involved = (obj.get("involvedObject") or {}).get("namespace") or ""
    if (involved and involved != namespace) or (not involved and namespace not in ("default", "")):
        return [
            (
                "involvedObject.namespace",
                f"Invalid value: {involved!r}: does not match event.namespace",
            )
        ]
    return []


def _validate_events_v1(obj: JsonObj) -> list[tuple[str, str]]:
    # events.k8s.io/v1 is the strict Event API: these fields are required.
    causes = [
        (f, "Required value")
        for f in ("eventTime", "reportingController", "reportingInstance", "action", "reason")
        if not obj.get(f)
    ]
    if obj.get("type") not in ("Normal", "Warning"):
        causes.append(
            (
                "type",
                f'Unsupported value: {obj.get("type")!r}: supported values: "Normal", "Warning"',
            )
        )
    return causes


def _default_namespace(obj: JsonObj) -> None:
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")
    labels = obj["metadata"].setdefault("labels", {})
    labels.setdefault("kubernetes.io/metadata.name", obj["metadata"]["name"])


_CORE_EVENT_FIELDS = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    }
)
_EVENTS_V1_FIELDS = frozenset(
    {
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "reason",
        "reportingController",
        "type",
    }
)

SERVICES = ResourceType(
    "",
    "v1",
    "services",
    "Service",
    status_subresource=True,
    return_deleted=True,
    initial_status={"loadBalancer": {}},
    short_names=("svc",),
    field_labels=frozenset({"spec.type", "spec.clusterIP"}),
    defaulter=_default_service,
    validator=_validate_service,
)
CONFIGMAPS = ResourceType("", "v1", "configmaps", "ConfigMap", short_names=("cm",))
EVENTS = ResourceType(
    "",
    "v1",
    "events",
    "Event",
    create_on_update=True,
    short_names=("ev",),
    field_labels=_CORE_EVENT_FIELDS,
    validator=_validate_core_event,
)
NAMESPACES = ResourceType(
    "",
    "v1",
    "namespaces",
    "Namespace",
    namespaced=False,
    status_subresource=True,
    return_deleted=True,
    short_names=("ns",),
    field_labels=frozenset({"status.phase"}),
    defaulter=_default_namespace,
)
INGRESSES = ResourceType(
    "networking.k8s.io",
    "v1",
    "ingresses",
    "Ingress",
    status_subresource=True,
    generation=True,
    initial_status={"loadBalancer": {}},
    short_names=("ing",),
)
LEASES = ResourceType(
    "coordination.k8s.io", "v1", "leases", "Lease", update_needs_resource_version=True
)
EVENTS_V1 = ResourceType(
    "events.k8s.io",
    "v1",
    "events",
    "Event",
    create_on_update=True,
    short_names=("ev",),
    field_labels=_EVENTS_V1_FIELDS,
    validator=_validate_events_v1,
)
CHALLENGES = ResourceType(
    "acme.cert-manager.io",
    "v1",
    "challenges",
    "Challenge",
    custom=True,
    status_subresource=True,
    generation=True,
    return_deleted=True,
)

# external-dns's DNSEndpoint CRD (config/crd/): a custom resource with a status
# subresource, as the CRD declares it.
DNSENDPOINTS = ResourceType(
    "externaldns.k8s.io",
    "v1alpha1",
    "dnsendpoints",
    "DNSEndpoint",
    custom=True,
    status_subresource=True,
    generation=True,
    return_deleted=True,
)

# The Gateway API (its CRDs: Gateways and every route kind, at the versions
# external-dns v0.22 reads), custom resources with a status subresource.
GATEWAY_API: tuple[ResourceType, ...] = tuple(
    ResourceType(
        "gateway.networking.k8s.io",
        version,
        plural,
        kind,
        custom=True,
        status_subresource=True,
        generation=True,
        return_deleted=True,
    )
    for version, plural, kind in (
        ("v1", "gateways", "Gateway"),
        ("v1", "httproutes", "HTTPRoute"),
        ("v1", "grpcroutes", "GRPCRoute"),
        ("v1", "tlsroutes", "TLSRoute"),
        ("v1alpha2", "tcproutes", "TCPRoute"),
        ("v1alpha2", "udproutes", "UDPRoute"),
    )
)

# What external-dns's service source watches besides Services (its informers for
# headless and NodePort Services); listed and watched like any other resource.
PODS = ResourceType(
    "", "v1", "pods", "Pod", status_subresource=True, return_deleted=True, short_names=("po",)
)
NODES = ResourceType(
    "",
    "v1",
    "nodes",
    "Node",
    namespaced=False,
    status_subresource=True,
    short_names=("no",),
)
ENDPOINT_SLICES = ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")

DEFAULT_RESOURCES: tuple[ResourceType, ...] = (
    SERVICES,
    CONFIGMAPS,
    EVENTS,
    NAMESPACES,
    INGRESSES,
    LEASES,
    EVENTS_V1,
    CHALLENGES,
    DNSENDPOINTS,
    *GATEWAY_API,
    NODES,
    PODS,
    ENDPOINT_SLICES,
)
