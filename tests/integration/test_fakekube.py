"""FakeKube against the real kubernetes-asyncio client.

These tests pin the fake API server to the protocol facts of REFERENCE.md §4
and, at the same time, pin the client behaviours dnssync builds on (how it
sends booleans, what it does on 410, on EOF, on a dropped connection), so a
change in either side shows up here first.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.leaderelection.leaderelectionrecord import LeaderElectionRecord
from kubernetes_asyncio.leaderelection.resourcelock.leaselock import LeaseLock

from tests.fakekube import DEFAULT_RESOURCES, RESTART_RV_JUMP, ApiError, FakeKube, fake_kube
from tests.fakekube.patches import PatchError, json_patch, merge_patch
from tests.fakekube.selectors import SelectorError, label_matcher
from tests.realkube import ControlPlane, cert_manager_crd

pytestmark = pytest.mark.timeout(30)

CM_GROUP, CM_VERSION, CHALLENGES = "acme.cert-manager.io", "v1", "challenges"
MERGE = "application/merge-patch+json"


@pytest.fixture
async def kube() -> AsyncIterator[FakeKube]:
    async with fake_kube() as server:
        yield server


@pytest.fixture
async def api(kube: FakeKube, tmp_path: Path) -> AsyncIterator[Any]:
    """A real ApiClient configured from a kubeconfig that points at the fake."""
    await config.load_kube_config(config_file=str(kube.write_kubeconfig(tmp_path)))
    async with client.ApiClient() as api_client:
        yield api_client


# ---- one contract, two servers ------------------------------------------------------
#
# The tests taking `server` run against the fake and against the real kube-apiserver
# (tests/realkube.py), so the fake stays honest. Each gets a fresh namespace: the real server
# keeps what earlier tests left, has a `kubernetes` Service in "default", and writes Leases of
# its own (its global resourceVersion moves without us). Tests that need the fake's knobs
# (fault injection, request log, timing) take `kube` and run on the fake only.

_namespaces = itertools.count(1)


class Server:
    """An API server under contract test; ``create``/``get`` act as the cluster admin."""

    fake: bool
    url: str
    ns: str  # a namespace of this test's own
    other_ns: str  # and a second one

    def kubeconfig(self, tmp_path: Path) -> Path:
        raise NotImplementedError

    def ssl_context(self) -> ssl.SSLContext | bool:
        return True  # aiohttp's default: verify (the fake speaks plain HTTP anyway)

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        raise NotImplementedError

    async def forget_history(self) -> None:
        """Make every resourceVersion seen so far too old to watch from or continue."""
        raise NotImplementedError


def _placed(obj: dict[str, Any], ns: str) -> dict[str, Any]:
    meta = obj.setdefault("metadata", {})
    if obj.get("kind") != "Namespace":
        meta.setdefault("namespace", ns)
    return obj


class FakeServer(Server):
    fake = True

    def __init__(self, kube: FakeKube) -> None:
        self.kube, self.url = kube, kube.url
        n = next(_namespaces)
        self.ns, self.other_ns = f"t{n}", f"t{n}-other"

    def kubeconfig(self, tmp_path: Path) -> Path:
        return self.kube.write_kubeconfig(tmp_path)

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.kube.create(_placed(obj, self.ns))

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        return self.kube.get(api_version, kind, name, namespace)

    async def forget_history(self) -> None:
        self.kube.compact()


class RealServer(Server):
    fake = False

    def __init__(self, plane: ControlPlane) -> None:
        self.plane, self.url = plane, plane.url
        n = next(_namespaces)
        self.ns, self.other_ns = f"t{n}", f"t{n}-other"

    def kubeconfig(self, tmp_path: Path) -> Path:
        return self.plane.admin_kubeconfig

    def ssl_context(self) -> ssl.SSLContext:
        return self.plane.admin_ssl()

    def _path(self, api_version: str, kind: str, namespace: str | None) -> str:
        (rtype,) = [r for r in DEFAULT_RESOURCES if (r.api_version, r.kind) == (api_version, kind)]
        return rtype.base_path(namespace)

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = _placed(obj, self.ns)
        path = self._path(obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace"))
        async with (
            aiohttp.ClientSession() as s,
            s.post(self.url + path, json=obj, ssl=self.ssl_context()) as r,
        ):
            body: dict[str, Any] = await r.json()
            if r.status >= 300:
                raise ApiError(r.status, str(body.get("message")))
        status = obj.get("status")
        if status and body.get("status") != status:
            # Like the fake's create: the status given is kept (written through /status).
            name = body["metadata"]["name"]
            async with (
                aiohttp.ClientSession() as s,
                s.patch(
                    f"{self.url}{path}/{name}/status",
                    json={"status": status},
                    headers={"Content-Type": MERGE},
                    ssl=self.ssl_context(),
                ) as r,
            ):
                body = await r.json()
        return body

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        path = self._path(api_version, kind, namespace)
        async with (
            aiohttp.ClientSession() as s,
            s.get(f"{self.url}{path}/{name}", ssl=self.ssl_context()) as r,
        ):
            if r.status == 404:
                return None
            found: dict[str, Any] = await r.json()
            return found

    async def forget_history(self) -> None:
        # etcd forgets its history, and a restarted apiserver's watch cache starts at now.
        await asyncio.to_thread(self.plane.compact_etcd)
        await asyncio.to_thread(self.plane.restart, graceful=False)


_challenge_crd_ready = False


@pytest.fixture(params=["fake", "real"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    """The fake, then the real kube-apiserver, each with this test's own namespaces."""
    global _challenge_crd_ready
    if request.param == "fake":
        async with fake_kube() as kube:
            made: Server = FakeServer(kube)
            for ns in (made.ns, made.other_ns):
                await made.create(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
                )
            yield made
        return
    plane = request.getfixturevalue("control_plane")
    if not _challenge_crd_ready:
        await asyncio.to_thread(plane.install_crd, cert_manager_crd("challenges"))
        _challenge_crd_ready = True
    made = RealServer(plane)
    for ns in (made.ns, made.other_ns):
        await made.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    yield made


@pytest.fixture
async def sapi(server: Server, tmp_path: Path) -> AsyncIterator[Any]:
    """A real ApiClient for `server`, from a kubeconfig (the admin's, on the real server)."""
    cfg = client.Configuration()
    await config.load_kube_config(
        config_file=str(server.kubeconfig(tmp_path)), client_configuration=cfg
    )
    async with client.ApiClient(configuration=cfg) as api_client:
        yield api_client


async def fresh_api(server: Server, tmp_path: Path) -> Any:
    """A new ApiClient (after a restart, the old one's pooled connections are dead)."""
    cfg = client.Configuration()
    await config.load_kube_config(
        config_file=str(server.kubeconfig(tmp_path)), client_configuration=cfg
    )
    return client.ApiClient(configuration=cfg)


def service(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    """A Service; without a namespace it lands in the request's (or the fake's "default")."""
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"ports": [{"port": 80}]},
    }


LB_SPEC = {"type": "LoadBalancer", "ports": [{"port": 80}]}


def challenge(name: str, namespace: str | None = None) -> dict[str, Any]:
    """A Challenge with every field cert-manager's CRD requires."""
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "acme.cert-manager.io/v1",
        "kind": "Challenge",
        "metadata": meta,
        "spec": {
            "authorizationURL": "https://acme.test/authz/1",
            "dnsName": "mdapi.ch",
            "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"},
            "key": "value-1",
            "solver": {"dns01": {"webhook": {"groupName": "acme.mdapi.ch", "solverName": "x"}}},
            "token": "token-1",
            "type": "DNS-01",
            "url": "https://acme.test/challenge/1",
            "wildcard": False,
        },
    }


def status_of(exc: ApiException) -> dict[str, Any]:
    """The Status object an ApiException carries as its body."""
    assert exc.body is not None
    body: dict[str, Any] = json.loads(exc.body)
    return body


async def drain(
    func: Any, *args: Any, on_event: Callable[[Any], object] | None = None, **kwargs: Any
) -> list[Any]:
    """Follow one Watch over `func` until the stream ends; return its events.

    `on_event` runs after each event (awaited if it returns an awaitable), to
    change the fake's state while the stream is open.
    """
    events = []
    async with watch.Watch() as w:
        async for event in w.stream(func, *args, **kwargs):
            events.append(event)
            if on_event is not None:
                result = on_event(event)
                if inspect.isawaitable(result):
                    await result
    return events


def watch_requests(kube: FakeKube) -> list[str]:
    return [path for method, path in kube.requests if method == "GET" and "watch=" in path]


async def raw_lines(response: Any) -> list[dict[str, Any]]:
    """Read a whole `_preload_content=False` response as JSON lines."""
    body = await response.read()
    response.release()
    return [json.loads(line) for line in body.decode().splitlines() if line]


# ---- list ---------------------------------------------------------------------


async def test_list_shape_carries_one_global_rv_and_bare_items(server: Server, sapi: Any) -> None:
    """A list is {kind: XList, apiVersion, metadata.resourceVersion (str), items without kind}."""
    core: Any = client.CoreV1Api(sapi)
    ns, other = server.ns, server.other_ns
    first = await core.create_namespaced_service(ns, service("a"))
    await server.create(service("b", ns))
    await server.create(service("c", other))
    cm = await server.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    # One counter across kinds and namespaces.
    assert int(cm["metadata"]["resourceVersion"]) > int(first.metadata.resource_version)

    response = await core.list_namespaced_service(ns, _preload_content=False)
    (body,) = await raw_lines(response)
    assert body["kind"] == "ServiceList"
    assert body["apiVersion"] == "v1"
    assert list(body["metadata"]) == ["resourceVersion"]
    # The real server's counter also moves by itself (its own Leases): at least the last write.
    assert int(body["metadata"]["resourceVersion"]) >= int(cm["metadata"]["resourceVersion"])
    assert [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]
    assert all("kind" not in i and "apiVersion" not in i for i in body["items"])
    item = body["items"][0]["metadata"]
    assert {"uid", "creationTimestamp", "resourceVersion"} <= item.keys()
    assert isinstance(item["resourceVersion"], str)

    everywhere = await core.list_service_for_all_namespaces()
    assert {(s.metadata.namespace, s.metadata.name) for s in everywhere.items} >= {
        (ns, "a"),
        (ns, "b"),
        (other, "c"),
    }
    typed = await core.list_namespaced_service(other)
    assert [s.metadata.name for s in typed.items] == ["c"]
    assert int(typed.metadata.resource_version) >= int(cm["metadata"]["resourceVersion"])


async def test_custom_resource_list_items_keep_kind(server: Server, sapi: Any) -> None:
    """CRD-served lists (unstructured) keep kind/apiVersion on every item."""
    await server.create(challenge("c1"))
    body = await client.CustomObjectsApi(sapi).list_namespaced_custom_object(
        CM_GROUP, CM_VERSION, server.ns, CHALLENGES
    )
    assert body["kind"] == "ChallengeList"
    assert body["items"][0]["kind"] == "Challenge"
    assert body["items"][0]["apiVersion"] == "acme.cert-manager.io/v1"


async def test_preload_content_false_gives_readable_raw_json(kube: FakeKube, api: Any) -> None:
    """`_preload_content=False` returns the aiohttp response; its body is the list JSON."""
    kube.create(service("raw"))
    core: Any = client.CoreV1Api(api)
    response = await core.list_namespaced_service("default", _preload_content=False)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(await response.read())
    response.release()
    assert body["items"][0]["metadata"]["name"] == "raw"


async def test_label_and_field_selectors(server: Server, sapi: Any) -> None:
    """labelSelector (=, !=, in, notin, exists, !key) and fieldSelector metadata.* filter lists."""
    ns, other = server.ns, server.other_ns
    await server.create(service("a", ns, app="web", tier="front"))
    await server.create(service("b", ns, app="db"))
    await server.create(service("c", other, app="web"))
    core: Any = client.CoreV1Api(sapi)

    async def names(**kwargs: str) -> list[str]:
        result = await core.list_service_for_all_namespaces(**kwargs)
        return [s.metadata.name for s in result.items if s.metadata.namespace in (ns, other)]

    # etcd key order: "<ns>-other/c" sorts before "<ns>/a".
    assert await names(label_selector="app=web") == ["c", "a"]
    assert await names(label_selector="app!=web") == ["b"]
    assert await names(label_selector="app in (db, cache)") == ["b"]
    assert await names(label_selector="app notin (db),tier") == ["a"]
    assert await names(label_selector="!tier") == ["c", "b"]
    assert await names(field_selector="metadata.name=c") == ["c"]
    assert await names(field_selector=f"metadata.namespace!={ns}") == ["c"]
    with pytest.raises(ApiException) as bad:
        await names(field_selector="spec.nonsense=1")
    assert bad.value.status == 400


async def test_pagination_with_limit_and_continue(
    server: Server, sapi: Any, tmp_path: Path
) -> None:
    """limit/continue pages a consistent snapshot; a token from before a compaction is 410."""
    ns = server.ns
    for i in range(5):
        await server.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{i}"}}
        )
    core: Any = client.CoreV1Api(sapi)
    page = await core.list_namespaced_config_map(ns, limit=2)
    assert [c.metadata.name for c in page.items] == ["cm0", "cm1"]
    assert page.metadata.remaining_item_count == 3
    snapshot_rv = page.metadata.resource_version
    await server.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm9"}})
    seen = [c.metadata.name for c in page.items]
    while page.metadata._continue:
        page = await core.list_namespaced_config_map(ns, limit=2, _continue=page.metadata._continue)
        assert page.metadata.resource_version == snapshot_rv
        seen += [c.metadata.name for c in page.items]
    assert seen == ["cm0", "cm1", "cm2", "cm3", "cm4"]  # cm9 came after the snapshot

    page = await core.list_namespaced_config_map(ns, limit=2)
    await server.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm10"}})
    await server.forget_history()
    async with await fresh_api(server, tmp_path) as api:
        with pytest.raises(ApiException) as gone:
            await client.CoreV1Api(api).list_namespaced_config_map(
                ns, limit=2, _continue=page.metadata._continue
            )
    assert gone.value.status == 410
    assert status_of(gone.value)["reason"] == "Expired"


# ---- watch ----------------------------------------------------------------------


async def test_client_sends_booleans_as_True(kube: FakeKube, api: Any) -> None:
    """The client sends watch=True, allowWatchBookmarks=True; the fake takes them as true."""
    async with watch.Watch() as w:
        async for _ in w.stream(
            client.CoreV1Api(api).list_service_for_all_namespaces,
            allow_watch_bookmarks=True,
            timeout_seconds=1,
        ):
            pass
    (path,) = watch_requests(kube)
    assert "watch=True" in path
    assert "allowWatchBookmarks=True" in path
    assert "timeoutSeconds=1" in path


async def test_boolean_query_values_parse_like_the_apiserver(server: Server) -> None:
    """watch=0 / false / False is a list; watch=True / 1 / "" (empty) is a watch."""
    await server.create(service("a"))
    async with aiohttp.ClientSession() as session:
        for value, is_watch in [
            ("0", False),
            ("false", False),
            ("False", False),
            ("True", True),
            ("1", True),
            ("", True),
        ]:
            path = f"/api/v1/namespaces/{server.ns}/services"
            url = f"{server.url}{path}?watch={value}&timeoutSeconds=1"
            async with session.get(url, ssl=server.ssl_context()) as response:
                first = json.loads(await response.content.readline())
            assert ("type" in first) == is_watch, value
            assert (first.get("kind") == "ServiceList") == (not is_watch), value


async def test_watch_replays_history_from_rv_then_streams_live(server: Server, sapi: Any) -> None:
    """A watch from RV N replays the events after N (with kind), then follows live changes."""
    core: Any = client.CoreV1Api(sapi)
    ns = server.ns
    rv = (await core.list_namespaced_service(ns)).metadata.resource_version
    await server.create(service("a"))
    await core.patch_namespaced_service("a", ns, {"metadata": {"labels": {"x": "1"}}})
    seen: list[tuple[str, str, str]] = []
    async with watch.Watch() as w:
        async for ev in w.stream(
            core.list_namespaced_service, ns, resource_version=rv, timeout_seconds=5
        ):
            raw = ev["raw_object"]
            assert raw["kind"] == "Service"
            assert raw["apiVersion"] == "v1"
            seen.append(
                (ev["type"], ev["object"].metadata.name, raw["metadata"]["resourceVersion"])
            )
            if len(seen) == 2:
                await core.delete_namespaced_service("a", ns)  # live, while the stream is open
            if len(seen) == 3:
                break
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    rvs = [int(r) for _, _, r in seen]
    assert rvs == sorted(rvs)
    assert rvs[0] > int(rv)
    assert w.resource_version == str(rvs[-1])  # what the client would resume from


async def test_watch_from_zero_starts_with_synthetic_added(server: Server, sapi: Any) -> None:
    """resourceVersion absent or "0" starts with an ADDED per existing object."""
    await server.create(service("a"))
    await server.create(service("b"))
    core: Any = client.CoreV1Api(sapi)
    for rv in (None, "0"):
        names = []
        async with watch.Watch() as w:
            kwargs: dict[str, Any] = {"timeout_seconds": 5}
            if rv is not None:
                kwargs["resource_version"] = rv
            async for ev in w.stream(core.list_namespaced_service, server.ns, **kwargs):
                assert ev["type"] == "ADDED"
                names.append(ev["object"].metadata.name)
                if len(names) == 2:
                    break
        assert sorted(names) == ["a", "b"]


async def test_watch_selector_transitions(server: Server, sapi: Any) -> None:
    """With a label selector, an object entering the selection is ADDED and leaving is DELETED."""
    core: Any = client.CoreV1Api(sapi)
    ns = server.ns
    created = await server.create(service("a", app="other"))
    rv = created["metadata"]["resourceVersion"]
    await core.patch_namespaced_service("a", ns, {"metadata": {"labels": {"app": "web"}}})
    await core.patch_namespaced_service("a", ns, {"metadata": {"labels": {"tier": "x"}}})
    await core.patch_namespaced_service("a", ns, {"metadata": {"labels": {"app": "gone"}}})
    types = []
    async with watch.Watch() as w:
        async for ev in w.stream(
            core.list_namespaced_service,
            ns,
            label_selector="app=web",
            resource_version=rv,
            timeout_seconds=5,
        ):
            types.append(ev["type"])
            if len(types) == 3:
                break
    assert types == ["ADDED", "MODIFIED", "DELETED"]


async def test_bookmarks_arrive_only_when_asked(kube: FakeKube, api: Any) -> None:
    """allowWatchBookmarks gets periodic BOOKMARKs carrying only kind, apiVersion and the RV."""
    kube.bookmark_interval = 0.1
    kube.create(service("a"))
    core: Any = client.CoreV1Api(api)
    rv = str(kube.resource_version)
    async with watch.Watch() as w:
        async for ev in w.stream(
            core.list_service_for_all_namespaces,
            resource_version=rv,
            allow_watch_bookmarks=True,
            timeout_seconds=5,
        ):
            assert ev["type"] == "BOOKMARK"
            assert ev["raw_object"] == {
                "kind": "Service",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": rv},
            }
            # The client does not deserialize bookmarks but does resume from them.
            assert isinstance(ev["object"], dict)
            assert w.resource_version == rv
            break
    # Without allowWatchBookmarks the stream stays silent until it times out.
    events = []
    async with watch.Watch() as w:
        async for ev in w.stream(
            core.list_service_for_all_namespaces, resource_version=rv, timeout_seconds=1
        ):
            events.append(ev)
    assert events == []


async def test_send_initial_events_ends_with_marked_bookmark(kube: FakeKube, api: Any) -> None:
    """sendInitialEvents=true: ADDED per object, then a BOOKMARK annotated initial-events-end."""
    kube.create(service("a"))
    response = await client.CoreV1Api(api).list_service_for_all_namespaces(
        watch=True,
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        allow_watch_bookmarks=True,
        timeout_seconds=1,
        _preload_content=False,
    )
    lines = await raw_lines(response)
    assert [line["type"] for line in lines] == ["ADDED", "BOOKMARK"]
    end = lines[1]["object"]["metadata"]
    assert end["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert end["resourceVersion"] == str(kube.resource_version)


async def test_watch_stays_open_until_timeout_then_ends_cleanly(kube: FakeKube, api: Any) -> None:
    """An idle watch lasts timeoutSeconds (never closes at once) and then ends the iteration."""
    started = time.monotonic()
    async with watch.Watch() as w:
        events = [
            ev
            async for ev in w.stream(
                client.CoreV1Api(api).list_service_for_all_namespaces,
                resource_version=str(kube.resource_version),
                timeout_seconds=1,
            )
        ]
    assert events == []
    assert 0.9 < time.monotonic() - started < 3


async def test_expired_watch_raises_410_when_timeout_is_set(kube: FakeKube, api: Any) -> None:
    """expire_watches sends the in-stream 410 ERROR; with timeout_seconds the client raises it."""
    kube.create(service("a"))
    seen: list[str] = []

    def expire(event: Any) -> None:
        seen.append(event["type"])
        kube.expire_watches()

    core: Any = client.CoreV1Api(api)
    with pytest.raises(ApiException) as gone:
        await drain(core.list_service_for_all_namespaces, timeout_seconds=5, on_event=expire)
    assert seen == ["ADDED"]
    assert gone.value.status == 410
    assert str(gone.value.reason).startswith("Expired: too old resource version")
    assert len(watch_requests(kube)) == 1  # no retry when timeout_seconds is given


async def test_compacted_history_gives_in_stream_410(
    server: Server, sapi: Any, tmp_path: Path
) -> None:
    """After compaction, a watch from an older RV is HTTP 200, one ERROR 410 line, then EOF."""
    core: Any = client.CoreV1Api(sapi)
    old = (await core.list_namespaced_service(server.ns)).metadata.resource_version
    await server.create(service("a"))
    await server.forget_history()
    async with await fresh_api(server, tmp_path) as api:
        core = client.CoreV1Api(api)
        response = await core.list_namespaced_service(
            server.ns, watch=True, resource_version=old, timeout_seconds=5, _preload_content=False
        )
        assert response.status == 200
        (line,) = await raw_lines(response)
        assert line["type"] == "ERROR"
        status = line["object"]
        assert status["kind"] == "Status"
        assert status["status"] == "Failure"
        assert status["reason"] == "Expired"
        assert status["code"] == 410
        assert re.fullmatch(rf"too old resource version: {old} \(\d+\)", status["message"])

        with pytest.raises(ApiException) as gone:
            await drain(
                core.list_namespaced_service, server.ns, resource_version=old, timeout_seconds=5
            )
        assert gone.value.status == 410
        # Watching from the current RV (what a relist returns) works again.
        current = (await core.list_namespaced_service(server.ns)).metadata.resource_version
        await drain(
            core.list_namespaced_service, server.ns, resource_version=current, timeout_seconds=1
        )


async def test_410_without_timeout_is_retried_once_then_raised(kube: FakeKube, api: Any) -> None:
    """Without timeout_seconds the client retries a 410 once with the same RV, then raises."""
    old = str(kube.resource_version)
    kube.create(service("a"))
    kube.compact()
    core: Any = client.CoreV1Api(api)
    with pytest.raises(ApiException) as gone:
        await drain(core.list_service_for_all_namespaces, resource_version=old)
    assert gone.value.status == 410
    paths = watch_requests(kube)
    assert len(paths) == 2
    assert all(f"resourceVersion={old}" in p for p in paths)


async def test_without_timeout_client_reconnects_from_last_rv(kube: FakeKube, api: Any) -> None:
    """Without timeout_seconds an ended stream is reopened at once, from the last RV seen."""
    kube.default_watch_timeout = 0.3  # the server ends each stream after 0.3 s
    core: Any = client.CoreV1Api(api)
    rv = str(kube.resource_version)

    async def changes() -> str:
        await kube.wait_for_watches(1)
        first = kube.create(service("first"))
        await asyncio.sleep(0.8)  # outlive at least two streams
        kube.create(service("second"))
        return str(first["metadata"]["resourceVersion"])

    task = asyncio.create_task(changes())
    names = []
    async with watch.Watch() as w:
        async for ev in w.stream(core.list_service_for_all_namespaces, resource_version=rv):
            names.append(ev["object"].metadata.name)
            if len(names) == 2:
                break
    first_rv = await task
    assert names == ["first", "second"]
    paths = watch_requests(kube)
    assert f"resourceVersion={rv}" in paths[0]
    assert all(f"resourceVersion={first_rv}" in p for p in paths[1:])
    # One reconnect per server-side end of stream: no hot loop.
    assert 2 <= len(paths) <= 5


async def test_drop_connections_ends_stream_with_payload_error(kube: FakeKube, api: Any) -> None:
    """An abruptly closed watch surfaces as aiohttp.ClientPayloadError, not as a clean end."""
    kube.create(service("a"))
    core: Any = client.CoreV1Api(api)
    with pytest.raises(aiohttp.ClientPayloadError):
        await drain(
            core.list_service_for_all_namespaces,
            timeout_seconds=5,
            on_event=lambda _: kube.drop_connections(),
        )
    assert kube.watch_count == 0


async def test_stream_delay_slows_each_event(kube: FakeKube, api: Any) -> None:
    """stream_delay holds every watch event back by that many seconds."""
    kube.create(service("a"))
    kube.create(service("b"))
    kube.stream_delay = 0.2
    started = time.monotonic()
    count = 0
    async with watch.Watch() as w:
        async for _ in w.stream(
            client.CoreV1Api(api).list_service_for_all_namespaces, timeout_seconds=5
        ):
            count += 1
            if count == 2:
                break
    assert time.monotonic() - started >= 0.4


async def test_restart_keeps_state_and_jumps_resource_versions(kube: FakeKube, api: Any) -> None:
    """restart() keeps objects and port; RVs jump far ahead and old RVs get 410."""
    core: Any = client.CoreV1Api(api)
    await core.create_namespaced_service("default", service("a"))
    before = (await core.list_service_for_all_namespaces()).metadata.resource_version
    url = kube.url
    await kube.restart()
    assert kube.url == url
    after = await core.list_service_for_all_namespaces()
    assert [s.metadata.name for s in after.items] == ["a"]
    assert int(after.metadata.resource_version) >= int(before) + RESTART_RV_JUMP
    with pytest.raises(ApiException) as gone:
        await drain(
            core.list_service_for_all_namespaces, resource_version=before, timeout_seconds=5
        )
    assert gone.value.status == 410
    created = await core.create_namespaced_service("default", service("b"))
    assert int(created.metadata.resource_version) > int(after.metadata.resource_version)


async def test_restart_breaks_open_watches(kube: FakeKube, api: Any) -> None:
    """A watch open across restart() ends with a connection error, like a crashed apiserver."""
    kube.create(service("a"))
    core: Any = client.CoreV1Api(api)
    with pytest.raises(aiohttp.ClientError):
        await drain(
            core.list_service_for_all_namespaces,
            timeout_seconds=5,
            on_event=lambda _: kube.restart(),
        )


# ---- failures -------------------------------------------------------------------


async def test_fail_next_gives_api_exceptions(kube: FakeKube, api: Any) -> None:
    """fail_next codes come back as ApiException with a Status body, one per request, in order."""
    core: Any = client.CoreV1Api(api)
    kube.fail_next = [500, 503]
    for code in (500, 503):
        with pytest.raises(ApiException) as failed:
            await core.list_service_for_all_namespaces()
        assert failed.value.status == code
        status = status_of(failed.value)
        assert status["kind"] == "Status"
        assert status["code"] == code
    await core.list_service_for_all_namespaces()

    # A watch request that fails: _preload_content=False skips the status check,
    # so the client learns of it from the Status line it reads as an event.
    kube.fail_next = [503]
    with pytest.raises(ApiException) as failed:
        await drain(core.list_service_for_all_namespaces, timeout_seconds=1)
    assert failed.value.status == 503
    assert kube.fail_next == []


async def test_fail_filter_limits_failures_to_matching_requests(kube: FakeKube, api: Any) -> None:
    """fail_filter(method, path_qs) picks which requests consume fail_next."""
    kube.fail_next = [429]
    kube.fail_filter = lambda method, path: method == "POST"
    core: Any = client.CoreV1Api(api)
    await core.list_service_for_all_namespaces()
    with pytest.raises(ApiException) as failed:
        await core.create_namespaced_service("default", service("a"))
    assert failed.value.status == 429
    assert failed.value.headers is not None
    assert failed.value.headers["Retry-After"] == "1"
    await core.create_namespaced_service("default", service("a"))


async def test_error_statuses(server: Server, sapi: Any) -> None:
    """404 NotFound, 409 AlreadyExists, 422 Invalid carry the real Status shape."""
    core: Any = client.CoreV1Api(sapi)
    ns = server.ns
    with pytest.raises(ApiException) as missing:
        await core.read_namespaced_service("nope", ns)
    body = status_of(missing.value)
    assert missing.value.status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'services "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "services"},
        "code": 404,
    }
    await core.create_namespaced_service(ns, service("a"))
    with pytest.raises(ApiException) as taken:
        await core.create_namespaced_service(ns, service("a"))
    assert taken.value.status == 409
    assert status_of(taken.value)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as bad:
        await core.create_namespaced_service(ns, service("Not_Valid"))
    assert bad.value.status == 422
    assert status_of(bad.value)["reason"] == "Invalid"


async def test_direct_create_enforces_uniqueness(kube: FakeKube) -> None:
    """The fake's direct path refuses a name that is taken, as the API does."""
    kube.create(service("a"))
    with pytest.raises(ApiError):
        kube.create(service("a"))


# ---- writes -------------------------------------------------------------------------


async def test_merge_patch_on_challenge_and_refused_patch_types(server: Server, sapi: Any) -> None:
    """Challenges take merge patch; a dict without content type (json-patch) is 400; SMP 415."""
    ns = server.ns
    await server.create(challenge("c1"))
    custom: Any = client.CustomObjectsApi(sapi)
    patched = await custom.patch_namespaced_custom_object(
        CM_GROUP,
        CM_VERSION,
        ns,
        CHALLENGES,
        "c1",
        {"metadata": {"labels": {"seen": "yes"}}, "spec": {"key": "value-2"}},
        _content_type=MERGE,
    )
    assert patched["spec"]["key"] == "value-2"
    assert patched["spec"]["dnsName"] == "mdapi.ch"
    assert patched["metadata"]["labels"] == {"seen": "yes"}
    assert patched["metadata"]["generation"] == 2

    with pytest.raises(ApiException) as json_patch:
        await custom.patch_namespaced_custom_object(
            CM_GROUP, CM_VERSION, ns, CHALLENGES, "c1", {"spec": {"key": "x"}}
        )
    assert json_patch.value.status == 400
    assert "cannot unmarshal object into Go value" in status_of(json_patch.value)["message"]

    with pytest.raises(ApiException) as smp:
        await custom.patch_namespaced_custom_object(
            CM_GROUP,
            CM_VERSION,
            ns,
            CHALLENGES,
            "c1",
            {"spec": {"key": "x"}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert smp.value.status == 415
    assert status_of(smp.value)["reason"] == "UnsupportedMediaType"

    # A list body is a JSON patch and works.
    patched = await custom.patch_namespaced_custom_object(
        CM_GROUP,
        CM_VERSION,
        ns,
        CHALLENGES,
        "c1",
        [{"op": "replace", "path": "/spec/key", "value": "value-3"}],
    )
    assert patched["spec"]["key"] == "value-3"


async def test_status_changes_only_through_status_subresource(server: Server, sapi: Any) -> None:
    """Writes to the object keep .status; writes to /status change nothing but .status."""
    ns = server.ns
    custom: Any = client.CustomObjectsApi(sapi)
    created = await custom.create_namespaced_custom_object(
        CM_GROUP, CM_VERSION, ns, CHALLENGES, {**challenge("c1"), "status": {"presented": True}}
    )
    assert "status" not in created  # create drops status when there is a subresource
    main = await custom.patch_namespaced_custom_object(
        CM_GROUP,
        CM_VERSION,
        ns,
        CHALLENGES,
        "c1",
        {"status": {"presented": True}},
        _content_type=MERGE,
    )
    assert "status" not in main
    assert main["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]  # no-op
    status = await custom.patch_namespaced_custom_object_status(
        CM_GROUP,
        CM_VERSION,
        ns,
        CHALLENGES,
        "c1",
        {"status": {"presented": True}, "spec": {"key": "sneaky"}},
        _content_type=MERGE,
    )
    assert status["status"] == {"presented": True}
    assert status["spec"]["key"] == "value-1"
    assert status["metadata"]["generation"] == 1  # status writes do not bump generation

    # Same for a built-in kind: a Service's load balancer status.
    core: Any = client.CoreV1Api(sapi)
    # (Only a LoadBalancer Service may have load balancer addresses.)
    await core.create_namespaced_service(ns, {**service("lb"), "spec": LB_SPEC})
    lb_status = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
    await core.patch_namespaced_service("lb", ns, {"status": lb_status})
    assert (await core.read_namespaced_service("lb", ns)).status.load_balancer.ingress is None
    await core.patch_namespaced_service_status("lb", ns, {"status": lb_status})
    svc = await core.read_namespaced_service_status("lb", ns)
    assert svc.status.load_balancer.ingress[0].ip == "192.0.2.1"


async def test_server_side_apply_needs_field_manager_and_creates(server: Server, sapi: Any) -> None:
    """apply-patch+yaml without fieldManager is 422; with one it creates, then merges."""
    core: Any = client.CoreV1Api(sapi)
    ns = server.ns
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied"},
    }
    apply = "application/apply-patch+yaml"
    with pytest.raises(ApiException) as refused:
        await core.patch_namespaced_config_map("applied", ns, body, _content_type=apply)
    assert refused.value.status == 422
    created = await core.patch_namespaced_config_map(
        "applied", ns, body, field_manager="dnssync", _content_type=apply
    )
    assert created.metadata.namespace == ns
    body["data"] = {"k": "v"}
    applied = await core.patch_namespaced_config_map(
        "applied", ns, body, field_manager="dnssync", _content_type=apply
    )
    assert applied.data == {"k": "v"}


async def test_unconditional_put_on_custom_resource_is_refused(server: Server, sapi: Any) -> None:
    """A CR replace needs metadata.resourceVersion (422 without it), unlike built-in kinds."""
    ns = server.ns
    await server.create(challenge("c1"))
    custom: Any = client.CustomObjectsApi(sapi)
    with pytest.raises(ApiException) as refused:
        await custom.replace_namespaced_custom_object(
            CM_GROUP, CM_VERSION, ns, CHALLENGES, "c1", challenge("c1", ns)
        )
    assert refused.value.status == 422
    current = await custom.get_namespaced_custom_object(CM_GROUP, CM_VERSION, ns, CHALLENGES, "c1")
    current["spec"]["key"] = "value-2"
    replaced = await custom.replace_namespaced_custom_object(
        CM_GROUP, CM_VERSION, ns, CHALLENGES, "c1", current
    )
    assert replaced["spec"]["key"] == "value-2"


async def test_stale_put_on_lease_conflicts(server: Server, sapi: Any) -> None:
    """Replacing a Lease with a stale resourceVersion is 409 Conflict; with none it goes through."""
    coord: Any = client.CoordinationV1Api(sapi)
    ns = server.ns
    body = {"metadata": {"name": "dnssync"}, "spec": {"holderIdentity": "a"}}
    await coord.create_namespaced_lease(ns, body)
    lease = await coord.read_namespaced_lease("dnssync", ns)
    lease.spec.holder_identity = "b"
    await coord.replace_namespaced_lease("dnssync", ns, lease)
    lease.spec.holder_identity = "c"  # same, now stale, resourceVersion
    with pytest.raises(ApiException) as stale:
        await coord.replace_namespaced_lease("dnssync", ns, lease)
    assert stale.value.status == 409
    status = status_of(stale.value)
    assert status["reason"] == "Conflict"
    assert status["message"].startswith(
        'Operation cannot be fulfilled on leases.coordination.k8s.io "dnssync"'
    )
    # Unlike a Service or ConfigMap, a Lease cannot be replaced without a resourceVersion.
    lease.metadata.resource_version = None
    with pytest.raises(ApiException) as unconditional:
        await coord.replace_namespaced_lease("dnssync", ns, lease)
    assert unconditional.value.status == 422
    lease.metadata.resource_version = (
        await coord.read_namespaced_lease("dnssync", ns)
    ).metadata.resource_version
    forced = await coord.replace_namespaced_lease("dnssync", ns, lease)
    assert forced.spec.holder_identity == "c"


async def test_kubernetes_asyncio_lease_lock_loses_race(server: Server, sapi: Any) -> None:
    """The client's own LeaseLock: of two candidates updating from one read, one wins."""
    # Non-zero microseconds: the client writes times with isoformat(), which drops a zero
    # fraction, and the real server refuses a Lease time without one (see the next test).
    now = "2025-01-01 00:00:00.100000"
    later = "2025-01-01 00:00:05.100000"
    ns = server.ns
    a = LeaseLock("dnssync", ns, "a", sapi)
    b = LeaseLock("dnssync", ns, "b", sapi)
    assert await a.create("dnssync", ns, LeaderElectionRecord("a", "15", now, now))
    assert (await a.get("dnssync", ns))[0]
    assert (await b.get("dnssync", ns))[0]
    assert await a.update("dnssync", ns, LeaderElectionRecord("a", "15", now, later))
    # b updates from its now stale read: 409 inside, False outside (and a logged error).
    assert not await b.update("dnssync", ns, LeaderElectionRecord("b", "15", now, later))
    holder = await server.get("coordination.k8s.io/v1", "Lease", "dnssync", ns)
    assert holder is not None
    assert holder["spec"]["holderIdentity"] == "a"


async def test_ingress_crud(server: Server, sapi: Any) -> None:
    """networking.k8s.io/v1 Ingress: create, read, list, patch (generation), status, delete."""
    net: Any = client.NetworkingV1Api(sapi)
    ns = server.ns
    body = {
        "metadata": {
            "name": "web",
            "annotations": {"external-dns.alpha.kubernetes.io/manage": "mdapi"},
        },
        "spec": {"rules": [{"host": "web.home.tillo.ch"}]},
    }
    created = await net.create_namespaced_ingress(ns, body)
    assert created.metadata.generation == 1
    assert (await net.read_namespaced_ingress("web", ns)).spec.rules[0].host == (
        "web.home.tillo.ch"
    )
    listed = await net.list_namespaced_ingress(ns)
    assert [i.metadata.name for i in listed.items] == ["web"]
    patched = await net.patch_namespaced_ingress(
        "web", ns, {"spec": {"rules": [{"host": "www.home.tillo.ch"}]}}
    )
    assert patched.metadata.generation == 2
    assert patched.spec.rules[0].host == "www.home.tillo.ch"
    with_status = await net.patch_namespaced_ingress_status(
        "web", ns, {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}}}
    )
    assert with_status.status.load_balancer.ingress[0].ip == "192.0.2.7"
    assert with_status.metadata.generation == 2
    deleted = await net.delete_namespaced_ingress("web", ns)
    assert deleted.status == "Success"  # Ingress DELETE answers with a Status
    assert await server.get("networking.k8s.io/v1", "Ingress", "web", ns) is None


async def test_delete_answers_and_events(server: Server, sapi: Any) -> None:
    """DELETE returns the object (Services) and emits DELETED with a new RV."""
    core: Any = client.CoreV1Api(sapi)
    ns = server.ns
    created = await core.create_namespaced_service(ns, service("a"))
    rv = created.metadata.resource_version
    deleted = await core.delete_namespaced_service("a", ns)
    assert deleted.metadata.name == "a"
    async with watch.Watch() as w:
        async for ev in w.stream(
            core.list_namespaced_service, ns, resource_version=rv, timeout_seconds=5
        ):
            assert ev["type"] == "DELETED"
            assert int(ev["raw_object"]["metadata"]["resourceVersion"]) > int(rv)
            break
    with pytest.raises(ApiException) as missing:
        await core.delete_namespaced_service("a", ns)
    assert missing.value.status == 404


async def test_finalizers_delay_deletion(server: Server, sapi: Any) -> None:
    """A Challenge with finalizers is only marked on DELETE; dropping the finalizer deletes it."""
    custom: Any = client.CustomObjectsApi(sapi)
    ns = server.ns
    body = challenge("c1")
    body["metadata"]["finalizers"] = ["finalizer.acme.cert-manager.io"]
    await server.create(body)
    marked = await custom.delete_namespaced_custom_object(
        CM_GROUP, CM_VERSION, ns, CHALLENGES, "c1"
    )
    assert marked["metadata"]["deletionTimestamp"]
    assert await server.get("acme.cert-manager.io/v1", "Challenge", "c1", ns) is not None
    await custom.patch_namespaced_custom_object(
        CM_GROUP,
        CM_VERSION,
        ns,
        CHALLENGES,
        "c1",
        {"metadata": {"finalizers": None}},
        _content_type=MERGE,
    )
    assert await server.get("acme.cert-manager.io/v1", "Challenge", "c1", ns) is None


async def test_no_op_write_keeps_resource_version(server: Server, sapi: Any) -> None:
    """A patch that changes nothing is not written: same RV, no watch event."""
    core: Any = client.CoreV1Api(sapi)
    ns = server.ns
    created = await core.create_namespaced_service(ns, service("a", app="web"))
    same = await core.patch_namespaced_service("a", ns, {"metadata": {"labels": {"app": "web"}}})
    assert same.metadata.resource_version == created.metadata.resource_version
    events = await drain(
        core.list_namespaced_service,
        ns,
        resource_version=created.metadata.resource_version,
        timeout_seconds=1,
    )
    assert events == []


async def test_events_with_generate_name(server: Server, sapi: Any) -> None:
    """core/v1 and events.k8s.io/v1 Events get a generated name and a namespace from the path."""
    core: Any = client.CoreV1Api(sapi)
    ns = server.ns
    event = await core.create_namespaced_event(
        ns,
        {
            "metadata": {"generateName": "dnssync-"},
            "involvedObject": {"kind": "Service", "name": "a", "namespace": ns},
            "reason": "Conflict",
            "message": "name taken",
            "type": "Warning",
        },
    )
    assert event.metadata.name.startswith("dnssync-")
    assert len(event.metadata.name) == len("dnssync-") + 5
    assert event.metadata.namespace == ns

    events_v1: Any = client.EventsV1Api(sapi)
    new = await events_v1.create_namespaced_event(
        ns,
        {
            "metadata": {"generateName": "dnssync-"},
            "eventTime": "2025-01-01T00:00:00.000000Z",
            "reportingController": "dnssync.mdapi.ch/controller",
            "reportingInstance": "dnssync-0",
            "action": "Reconcile",
            "reason": "Conflict",
            "type": "Warning",
            "regarding": {"kind": "Service", "name": "a", "namespace": ns},
        },
    )
    assert new.metadata.name.startswith("dnssync-")
    with pytest.raises(ApiException) as invalid:
        await events_v1.create_namespaced_event(ns, {"metadata": {"name": "bare"}})
    assert invalid.value.status == 422


async def test_namespaces_and_discovery(server: Server, sapi: Any) -> None:
    """Namespaces are cluster-scoped; /version, /api and /apis answer discovery."""
    core: Any = client.CoreV1Api(sapi)
    ns = await core.read_namespace(server.ns)
    assert ns.status.phase == "Active"
    assert ns.metadata.namespace is None
    assert ns.metadata.labels == {"kubernetes.io/metadata.name": server.ns}
    version = await client.VersionApi(sapi).get_code()
    assert version.major == "1"
    groups = await client.ApisApi(sapi).get_api_versions()
    assert {"networking.k8s.io", "coordination.k8s.io", "acme.cert-manager.io"} <= {
        g.name for g in groups.groups
    }
    resources = await core.get_api_resources()
    names = {r.name for r in resources.resources}
    assert {"services", "services/status", "configmaps", "namespaces", "events"} <= names


async def test_direct_state_manipulation_reaches_watchers(kube: FakeKube, api: Any) -> None:
    """create/update/patch/delete on the fake itself bump the RV and emit watch events."""
    rv = str(kube.resource_version)
    created = kube.create(
        {**service("lb"), "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}]}}}
    )
    assert created["status"]["loadBalancer"]["ingress"][0]["ip"] == "192.0.2.9"  # kept
    assert created["spec"]["clusterIP"]  # defaults still applied
    updated = kube.update({**created, "metadata": {**created["metadata"], "labels": {"a": "b"}}})
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    kube.patch("v1", "Service", "lb", "default", {"status": {"loadBalancer": {"ingress": None}}})
    kube.delete("v1", "Service", "lb", "default")
    assert kube.list("v1", "Service") == []
    types = []
    async with watch.Watch() as w:
        async for ev in w.stream(
            client.CoreV1Api(api).list_service_for_all_namespaces,
            resource_version=rv,
            timeout_seconds=5,
        ):
            types.append(ev["type"])
            if len(types) == 4:
                break
    assert types == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]


async def test_wait_for_watches_tracks_open_streams(kube: FakeKube, api: Any) -> None:
    """wait_for_watches returns once a client follows; a client hanging up ends its watch."""

    async def follow() -> str:
        async with watch.Watch() as w:
            async for ev in w.stream(
                client.CoreV1Api(api).list_service_for_all_namespaces,
                resource_version=str(kube.resource_version),
                timeout_seconds=5,
            ):
                return str(ev["object"].metadata.name)
        return ""

    task = asyncio.create_task(follow())
    await kube.wait_for_watches(1)
    assert kube.watch_count == 1
    kube.create(service("live"))
    assert await task == "live"
    # The client hung up mid-stream: the server notices at once, not at timeout.
    await kube.wait_for_no_watches(within=1)


async def test_tls_and_bearer_token_with_incluster_config(tmp_path: Path) -> None:
    """Over TLS with a required token, load_incluster_config(token/cert files, environ) works."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_file = tmp_path / "ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))
    token_file = tmp_path / "token"
    async with fake_kube(ssl_context=server_ctx, require_token=True) as kube:
        assert kube.url.startswith("https://127.0.0.1:")
        environ = {
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(kube.port),
        }
        for token, expected in [("wrong", 401), (kube.token, 200)]:
            token_file.write_text(token)
            cfg = client.Configuration()
            config.load_incluster_config(
                client_configuration=cfg,
                token_filename=str(token_file),
                cert_filename=str(ca_file),
                environ=environ,
            )
            async with client.ApiClient(configuration=cfg) as api:
                core: Any = client.CoreV1Api(api)
                try:
                    await core.list_namespaced_service("default")
                    status = 200
                except ApiException as exc:
                    status = exc.status
            assert status == expected

        # The kubeconfig route, with the CA file.
        cfg = client.Configuration()
        await config.load_kube_config(
            config_file=str(kube.write_kubeconfig(tmp_path, certificate_authority=ca_file)),
            client_configuration=cfg,
        )
        async with client.ApiClient(configuration=cfg) as api:
            core = client.CoreV1Api(api)
            assert (await core.list_namespaced_service("default")).items == []


def test_patch_and_selector_building_blocks() -> None:
    """RFC 6902 ops and errors, RFC 7386 null-deletes, label selector edge cases."""
    ops = [
        {"op": "add", "path": "/a/-", "value": 3},
        {"op": "move", "from": "/a/0", "path": "/b"},
        {"op": "test", "path": "/b", "value": 1},
        {"op": "copy", "from": "/b", "path": "/c~1d"},
        {"op": "remove", "path": "/a/0"},
    ]
    assert json_patch({"a": [1, 2]}, ops) == {"a": [3], "b": 1, "c/d": 1}
    with pytest.raises(PatchError) as failed:
        json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    assert failed.value.code == 422
    with pytest.raises(PatchError) as not_a_list:
        json_patch({"a": 1}, {"a": 2})
    assert not_a_list.value.code == 400
    assert merge_patch({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": None}, "l": [2]}) == {
        "a": {"c": 2},
        "l": [2],
    }

    def labels(**values: str) -> dict[str, Any]:
        return {"metadata": {"labels": values}}

    matches = label_matcher("app in (a, b),!x,n>1")
    assert matches(labels(app="a", n="2"))
    assert not matches(labels(app="a", n="1"))
    assert not matches(labels(app="a", n="2", x=""))
    assert label_matcher("app!=a")(labels())  # != also matches a missing label
    with pytest.raises(SelectorError):
        label_matcher("a b")
