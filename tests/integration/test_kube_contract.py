"""Informer contract through the API only: runnable against the fake or a real API server.

Every test takes ``api`` (from the ``kubeconfig`` fixture: the in-repo fake,
then the real kube-apiserver of tests/realkube.py) and works in a namespace of
its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client

from dnssync.kube.client import api_client
from dnssync.kube.informer import Informer
from dnssync.kube.resources import RESOURCES
from dnssync.kube.status import StatusWriter
from dnssync.model import ObjectRef
from dnssync.retry import Backoff
from dnssync.sources.convert import SourceOptions
from dnssync.sources.index import EndpointView, ObjectIndex, trim
from dnssync.sources.selector import parse_filter
from tests.fakekube import fake_kube
from tests.realkube import ControlPlane

MANAGE = "external-dns.alpha.kubernetes.io/manage"
OPTIONS = SourceOptions(
    annotation_filter=parse_filter(f"{MANAGE}=mdapi"),
    annotation_prefix="external-dns.alpha.kubernetes.io/",
)
_spaces = itertools.count()


@pytest.fixture(params=["fake", "real"])
async def kubeconfig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Path]:
    """A kubeconfig for the fake, then for the real kube-apiserver (admin)."""
    if request.param == "fake":
        async with fake_kube() as kube:
            yield kube.write_kubeconfig(tmp_path)
        return
    plane: ControlPlane = request.getfixturevalue("control_plane")
    yield plane.admin_kubeconfig


@pytest.fixture
async def api(kubeconfig: Path) -> AsyncIterator[client.ApiClient]:
    a = await api_client(kubeconfig)
    async with a:
        yield a


@pytest.fixture
async def namespace(api: client.ApiClient) -> str:
    name = f"contract-{next(_spaces)}-{int(time.time())}"
    core: Any = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": name}})
    return name


def body(name: str, ip: str = "192.0.2.10", **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "annotations": {
                MANAGE: "mdapi",
                "external-dns.alpha.kubernetes.io/hostname": f"{name}.example.test",
                "external-dns.alpha.kubernetes.io/target": ip,
                **annotations,
            },
        },
        "spec": {"ports": [{"port": 80}]},
    }


def names(view: EndpointView) -> dict[str, tuple[str, ...]]:
    return {e.name: e.targets for e in view.endpoints()}


async def until(cond: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not cond():
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def informing(
    api: client.ApiClient, namespace: str, **kw: Any
) -> AsyncIterator[tuple[Informer, EndpointView]]:
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service"})
    informer = Informer(
        api,
        RESOURCES["service"],
        index,
        namespace=namespace,
        watch_timeout=30,
        shrink=trim,
        backoff=Backoff(initial=0.05, cap=0.5),
        **kw,
    )
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), 10)
        yield informer, view
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_api_writes_reach_the_endpoint_set(api: client.ApiClient, namespace: str) -> None:
    """Create, patch and delete through the API: the informer's view follows each."""
    core: Any = client.CoreV1Api(api)
    async with informing(api, namespace) as (informer, view):
        await core.create_namespaced_service(namespace, body("web"))
        await until(lambda: names(view) == {"web.example.test": ("192.0.2.10",)})
        patch = {
            "metadata": {"annotations": {"external-dns.alpha.kubernetes.io/target": "192.0.2.11"}}
        }
        await core.patch_namespaced_service("web", namespace, patch)
        await until(lambda: names(view) == {"web.example.test": ("192.0.2.11",)})
        await core.delete_namespaced_service("web", namespace)
        await until(lambda: names(view) == {})
        assert informer.stats.errors == 0


async def test_a_paged_list_sees_every_object(api: client.ApiClient, namespace: str) -> None:
    """Seven objects listed two per page are all in the cache after sync."""
    core: Any = client.CoreV1Api(api)
    for i in range(7):
        await core.create_namespaced_service(namespace, body(f"p{i}"))
    async with informing(api, namespace, page_size=2) as (_informer, view):
        assert len(names(view)) == 7


async def test_a_300_kib_object_is_read_from_list_and_watch(
    api: client.ApiClient, namespace: str
) -> None:
    """Objects far over aiohttp's 128 KiB line limit come through list and watch alike."""
    core: Any = client.CoreV1Api(api)
    blob = {"example.org/blob": "x" * 150_000}
    await core.create_namespaced_service(namespace, body("listed", **blob))
    async with informing(api, namespace) as (informer, view):
        assert "listed.example.test" in names(view)
        await core.create_namespaced_service(namespace, body("watched", **blob))
        await until(lambda: "watched.example.test" in names(view))
        assert informer.stats.errors == 0


async def test_real_api_server_restarts_are_survived(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """The real kube-apiserver killed and restarted three times under an informer using the
    shipped ServiceAccount (RBAC on): it lives on, and each new Service reaches it."""
    sa = control_plane.service_account_kubeconfig("dnssync", "dnssync", tmp_path / "sa")
    async with await api_client(control_plane.admin_kubeconfig) as admin:
        core: Any = client.CoreV1Api(admin)
        ns = f"restart-{next(_spaces)}-{int(time.time())}"
        await core.create_namespace({"metadata": {"name": ns}})
        async with await api_client(sa) as api, informing(api, ns) as (informer, view):
            for n in range(3):
                await asyncio.to_thread(control_plane.restart, graceful=False)
                await core.create_namespaced_service(ns, body(f"r{n}"))
                wanted = f"r{n}.example.test"
                await until(lambda: wanted in names(view), within=30)  # noqa: B023
            assert informer.stats.watches > 3


CRDS = Path(__file__).resolve().parents[2] / "config" / "crd"


@pytest.fixture
def crds(request: pytest.FixtureRequest, kubeconfig: Path) -> None:
    """The CRDs dnssync ships (config/crd/) installed: the fake serves them already."""
    if request.node.callspec.params["kubeconfig"] == "real":
        plane: ControlPlane = request.getfixturevalue("control_plane")
        kustomization = yaml.safe_load((CRDS / "kustomization.yaml").read_text())
        for name in kustomization["resources"]:
            plane.install_crd(yaml.safe_load((CRDS / name).read_text()))


async def test_observed_generation_is_written_once_per_applied_generation(
    api: client.ApiClient, namespace: str, crds: None
) -> None:
    """A status PUT (RBAC: update dnsendpoints/status) sets observedGeneration and keeps the
    spec; after a spec change the next applied pass writes the new generation."""
    objs: Any = client.CustomObjectsApi(api)
    group, version, plural = "externaldns.k8s.io", "v1alpha1", "dnsendpoints"
    record = {"dnsName": "a.example.test", "recordType": "A", "targets": ["192.0.2.1"]}
    dnsendpoint = {
        "apiVersion": f"{group}/{version}",
        "kind": "DNSEndpoint",
        "metadata": {"name": "records", "annotations": {MANAGE: "mdapi"}},
        "spec": {"endpoints": [record]},
    }
    await objs.create_namespaced_custom_object(group, version, namespace, plural, dnsendpoint)
    index = ObjectIndex()
    view = index.view(OPTIONS, {"crd"})
    informer = Informer(api, RESOURCES["crd"], index, namespace=namespace, shrink=trim)
    task = asyncio.create_task(informer.run())
    writer = StatusWriter(api, lookup=index.objects.get)

    async def status() -> tuple[int, Any, Any]:
        got = await objs.get_namespaced_custom_object(group, version, namespace, plural, "records")
        observed = (got.get("status") or {}).get("observedGeneration")
        return got["metadata"]["generation"], observed, got["spec"]["endpoints"][0]["targets"]

    try:
        await asyncio.wait_for(informer.synced.wait(), 10)
        writer.applied(view.refs)
        await writer.drain()
        assert await status() == (1, 1, ["192.0.2.1"])
        record["targets"] = ["192.0.2.2"]
        patch = {"spec": {"endpoints": [record]}}
        await objs.patch_namespaced_custom_object(
            group,
            version,
            namespace,
            plural,
            "records",
            patch,
            _content_type="application/merge-patch+json",
        )
        await until(lambda: [e.targets for e in view.endpoints()] == [("192.0.2.2",)])
        writer.applied(view.refs)
        await writer.drain()
        assert await status() == (2, 2, ["192.0.2.2"])
        await until(lambda: (index.objects[view.refs()[0]].get("status") or {}) != {})
        writer.applied(view.refs)
        await writer.drain()
        assert writer.writes == 2  # nothing more to write: the watch brought the status back
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_namespaces_are_listed_and_watched_cluster_wide_with_their_labels(
    api: client.ApiClient, namespace: str
) -> None:
    """The Namespace informer (cluster-scoped, needed by route listeners' selectors) keeps
    each Namespace under namespace "" with its labels, and follows a label change."""
    core: Any = client.CoreV1Api(api)
    await core.patch_namespace(namespace, {"metadata": {"labels": {"dns": "on"}}})
    index = ObjectIndex()
    informer = Informer(api, RESOURCES["namespace"], index, shrink=trim, watch_timeout=30)
    task = asyncio.create_task(informer.run())
    ref = ObjectRef("namespace", "", namespace)

    def labels() -> dict[str, str]:
        return dict((index.objects.get(ref) or {}).get("metadata", {}).get("labels") or {})

    try:
        await asyncio.wait_for(informer.synced.wait(), 10)
        assert labels()["dns"] == "on"
        assert labels()["kubernetes.io/metadata.name"] == namespace  # set by the API server
        await core.patch_namespace(namespace, {"metadata": {"labels": {"dns": "off"}}})
        await until(lambda: labels().get("dns") == "off")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_shipped_rbac_writes_dnsendpoint_status_and_nothing_else(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """As the shipped ServiceAccount (RBAC on): DNSEndpoints are listed and watched, the
    status update goes through, and a write to the spec is refused (403)."""
    kustomization = yaml.safe_load((CRDS / "kustomization.yaml").read_text())
    for name in kustomization["resources"]:
        control_plane.install_crd(yaml.safe_load((CRDS / name).read_text()))
    group, version, plural = "externaldns.k8s.io", "v1alpha1", "dnsendpoints"
    ns = f"rbac-{next(_spaces)}-{int(time.time())}"
    record = {"dnsName": "a.example.test", "recordType": "A", "targets": ["192.0.2.1"]}
    body = {
        "apiVersion": f"{group}/{version}",
        "kind": "DNSEndpoint",
        "metadata": {"name": "records", "annotations": {MANAGE: "mdapi"}},
        "spec": {"endpoints": [record]},
    }
    async with await api_client(control_plane.admin_kubeconfig) as admin:
        core: Any = client.CoreV1Api(admin)
        await core.create_namespace({"metadata": {"name": ns}})
        admin_objs: Any = client.CustomObjectsApi(admin)
        await admin_objs.create_namespaced_custom_object(group, version, ns, plural, body)
        sa = control_plane.service_account_kubeconfig("dnssync", "dnssync", tmp_path / "sa")
        async with await api_client(sa) as api:
            index = ObjectIndex()
            view = index.view(OPTIONS, {"crd"})
            informer = Informer(api, RESOURCES["crd"], index, namespace=ns, shrink=trim)
            await informer.list_once()
            writer = StatusWriter(api, lookup=index.objects.get)
            writer.applied(view.refs)
            await writer.drain()
            assert writer.writes == 1
            got = await admin_objs.get_namespaced_custom_object(
                group, version, ns, plural, "records"
            )
            assert got["status"] == {"observedGeneration": 1}
            objs: Any = client.CustomObjectsApi(api)
            with pytest.raises(client.ApiException) as refused:
                await objs.patch_namespaced_custom_object(
                    group,
                    version,
                    ns,
                    plural,
                    "records",
                    {"spec": {"endpoints": []}},
                    _content_type="application/merge-patch+json",
                )
            assert refused.value.status == 403
