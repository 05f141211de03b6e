"""The table of Kubernetes kinds dnssync reads: how to name, list and watch each.

One :class:`Resource` per kind, keyed by dnssync's lower-case name (the
``kind`` of an :class:`~dnssync.model.ObjectRef`): its ``apiVersion`` and
``Kind`` (for Events' ``involvedObject``), its plural (for messages), and the
client calls that list it cluster-wide or in one namespace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client

ListCall = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Resource:
    """How to name, list and watch one kind, cluster-wide or in one namespace."""

    kind: str  # dnssync's name: service, ingress, challenge, ...
    api_version: str
    kind_name: str  # the Kubernetes Kind: Service, Ingress, Challenge
    plural: str
    all_namespaces: Callable[[client.ApiClient], ListCall]
    namespaced: Callable[[client.ApiClient], ListCall]


def _custom(group: str, version: str, plural: str) -> tuple[Any, Any]:
    def all_ns(api: client.ApiClient) -> ListCall:
        objs = client.CustomObjectsApi(api)

        async def call(**kw: Any) -> Any:
            return await objs.list_cluster_custom_object(group, version, plural, **kw)

        return call

    def one_ns(api: client.ApiClient) -> ListCall:
        objs = client.CustomObjectsApi(api)

        async def call(namespace: str, **kw: Any) -> Any:
            return await objs.list_namespaced_custom_object(group, version, namespace, plural, **kw)

        return call

    return all_ns, one_ns


def custom(kind: str, group: str, version: str, plural: str, kind_name: str) -> Resource:
    """A custom resource served by a CRD."""
    return Resource(kind, f"{group}/{version}", kind_name, plural, *_custom(group, version, plural))


SERVICES = Resource(
    "service",
    "v1",
    "Service",
    "services",
    lambda api: client.CoreV1Api(api).list_service_for_all_namespaces,
    lambda api: client.CoreV1Api(api).list_namespaced_service,
)
INGRESSES = Resource(
    "ingress",
    "networking.k8s.io/v1",
    "Ingress",
    "ingresses",
    lambda api: client.NetworkingV1Api(api).list_ingress_for_all_namespaces,
    lambda api: client.NetworkingV1Api(api).list_namespaced_ingress,
)
CHALLENGES = custom("challenge", "acme.cert-manager.io", "v1", "challenges", "Challenge")
RESOURCES = {r.kind: r for r in (SERVICES, INGRESSES, CHALLENGES)}
