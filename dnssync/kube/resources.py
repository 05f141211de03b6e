"""The table of Kubernetes kinds dnssync reads: how to name, list and watch each.

One :class:`Resource` per kind of the source registry (:mod:`dnssync.kinds`)
and per kind its converters need (Gateways, Namespaces), plus cert-manager's
Challenges, keyed by dnssync's lower-case name (the ``kind`` of an
:class:`~dnssync.model.ObjectRef`): its ``apiVersion`` and
``Kind`` (for Events' ``involvedObject``), its plural (for messages), and the
client calls that list it cluster-wide or in one namespace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from kubernetes_asyncio import client

from dnssync.kinds import WATCHED, Kind

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


#: The core group's list calls by plural (its paths are not /apis/<group>/...).
_CORE: Final[dict[str, tuple[str, str]]] = {
    "services": ("list_service_for_all_namespaces", "list_namespaced_service"),
    # Cluster-scoped: listed whole, whatever namespaces the sources are read in.
    "namespaces": ("list_namespace", "list_namespace"),
    "nodes": ("list_node", "list_node"),
    "pods": ("list_pod_for_all_namespaces", "list_namespaced_pod"),
}


def _core(plural: str) -> tuple[Any, Any]:
    all_name, one_name = _CORE[plural]
    return (
        lambda api: getattr(client.CoreV1Api(api), all_name),
        lambda api: getattr(client.CoreV1Api(api), one_name),
    )


def source(kind: Kind) -> Resource:
    """How to list and watch one kind of the source registry (or one it needs)."""
    if not kind.group:
        return Resource(kind.ref, kind.api_version, kind.kind, kind.plural, *_core(kind.plural))
    return custom(kind.ref, kind.group, kind.version, kind.plural, kind.kind)


CHALLENGES = custom("challenge", "acme.cert-manager.io", "v1", "challenges", "Challenge")
RESOURCES = {ref: source(k) for ref, k in WATCHED.items()} | {CHALLENGES.kind: CHALLENGES}
