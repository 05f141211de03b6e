"""`FakeKube`: the HTTP face of the fake API server, plus the tests' control panel.

An aiohttp server on a free 127.0.0.1 port that speaks the kube-apiserver
REST protocol closely enough for the real kubernetes-asyncio client (see
REFERENCE.md §4): discovery, list (with selectors and pagination), chunked
watch streams with history replay, bookmarks and in-stream 410s, create /
replace / patch / delete with the real status codes and Status bodies, and
`/status` subresources. State and its rules live in `store.Store`; this module
maps URLs to it and owns everything that is about connections: watch
streams, fault injection (`fail_next`, `fail_for`, `disconnect_next`,
`retry_after`, `request_delay`, `expire_watches`, `drop_connections`,
`restart`, `stream_delay`) and the request log tests use to spot hot loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from .errors import ApiError, expired, injected, not_found
from .resources import DEFAULT_RESOURCES, JsonObj, ResourceType
from .selectors import SelectorError, field_matcher, label_matcher
from .store import APPLY_PATCH, Store, Watcher

logger = logging.getLogger(__name__)

# How far resourceVersions jump on `restart()`: far above anything a test
# could have seen, like an etcd restore with --bump-revision.
RESTART_RV_JUMP = 1_000_000

VERSION_INFO: JsonObj = {
    "major": "1",
    "minor": "34",
    "gitVersion": "v1.34.0-fakekube",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2025-08-27T00:00:00Z",
    "goVersion": "go1.24.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _dumps(obj: Any) -> bytes:
    # Compact and newline-terminated, like Go's json.Encoder: a Status must be
    # one line, because Watch reads an error body with readline().
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def _flag(query: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter as the apiserver converts it.

    Any value but "0" or (case-insensitive) "false" is true, including the
    "True" kubernetes-asyncio sends and the empty string.
    """
    if name not in query:
        return False
    value = query[name]
    return value != "0" and value.lower() != "false"


# Aliases: inside FakeKube, `list` names its method, not the builtin.
_Events = list[tuple[str, JsonObj]]
_Names = list[str]
_Objects = list[JsonObj]


class FakeKube:
    """A fake kube-apiserver; `async with FakeKube() as kube:` starts and stops it."""

    def __init__(
        self,
        *,
        resources: Iterable[ResourceType] = DEFAULT_RESOURCES,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        token: str = "fakekube-token",
        require_token: bool = False,
    ) -> None:
        self.store = Store(resources)
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.token = token
        # When set, requests without `Authorization: Bearer <token>` get 401.
        self.require_token = require_token
        self.url = ""
        # Fault injection: queued HTTP error codes, consumed one per matching
        # request (all requests, or those `fail_filter(method, path_qs)` accepts).
        self.fail_next: list[int] = []
        self.fail_filter: Callable[[str, str], bool] | None = None
        # The Retry-After injected 429 / 503 answers carry.
        self.retry_after = "1"
        # Time-based refusals (`fail_for`): code, until (loop time), filter.
        self._failing: list[tuple[int, float, Callable[[str, str], bool] | None]] = []
        # Requests (matching `disconnect_filter`) whose connection is closed
        # before any answer: the client sees ServerDisconnectedError.
        self.disconnect_next = 0
        self.disconnect_filter: Callable[[str, str], bool] | None = None
        # Seconds every request (matching `delay_filter`) waits before it is
        # handled: a slow or overloaded API server.
        self.request_delay = 0.0
        self.delay_filter: Callable[[str, str], bool] | None = None
        self.stream_delay = 0.0  # seconds before each watch event is written
        self.bookmark_interval = 60.0  # the real server sends one about a minute
        # A watch without timeoutSeconds lasts this long (the real server picks
        # 30-60 minutes); it is never closed at once, which would make
        # kubernetes-asyncio reconnect in a tight loop.
        self.default_watch_timeout = 1800.0
        self.requests: list[tuple[str, str]] = []
        # Unexpected exceptions in the fake itself (see `_handle`).
        self.internal_errors: list[Exception] = []
        self._runner: web.AppRunner | None = None
        # Set whenever a watch opens or closes (for the waits above).
        self._watchers_changed = asyncio.Event()

    # ---- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=3 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A short shutdown timeout: open watches are ended by us before cleanup.
        # handler_cancellation: when a client hangs up on an idle watch, the
        # handler is cancelled at once, so the watcher does not linger (and
        # watch_count / wait_for_watches stay truthful).
        runner = web.AppRunner(
            app, shutdown_timeout=1.0, access_log=None, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=self.ssl_context)
        await site.start()
        self._runner = runner
        # Remember the port picked for port=0 so restart() binds the same one.
        self.port = int(runner.addresses[0][1])
        scheme = "https" if self.ssl_context else "http"
        self.url = f"{scheme}://{self.host}:{self.port}"

    async def close(self) -> None:
        await self._end_watches("close")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self, *, refuse_for: float = 0.0) -> None:
        """Crash and come back on the same port: state kept, history gone, RVs jump.

        ``refuse_for``: for that many seconds after coming back, every API
        request gets 403 -- a real server's RBAC cache is empty at first.
        """
        await self._end_watches("drop")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.store.rebase(RESTART_RV_JUMP)
        if refuse_for > 0:
            self.fail_for(403, refuse_for)
        await self.start()

    async def __aenter__(self) -> FakeKube:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _end_watches(self, signal: str) -> None:
        for watcher in list(self.store.watchers):
            watcher.notify(signal)
        # Let each stream handler act on it before the server goes away.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                while self.store.watchers:
                    self._watchers_changed.clear()
                    await self._watchers_changed.wait()

    def write_kubeconfig(self, path: Path, certificate_authority: Path | None = None) -> Path:
        """Write a kubeconfig for this server; `path` may be a directory. Returns the file."""
        if path.is_dir():
            path = path / "kubeconfig"
        cluster: JsonObj = {"server": self.url}
        if self.ssl_context is not None:
            if certificate_authority is not None:
                cluster["certificate-authority"] = str(certificate_authority)
            else:
                cluster["insecure-skip-tls-verify"] = True
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fakekube", "cluster": cluster}],
            "users": [{"name": "fakekube", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "fakekube",
                    "context": {"cluster": "fakekube", "user": "fakekube", "namespace": "default"},
                }
            ],
            "current-context": "fakekube",
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    # ---- direct state manipulation (tests) ----------------------------------

    def create(self, obj: JsonObj) -> JsonObj:
        """Store a new object as the API would, but keep any status given. ApiError 409 if taken."""
        rtype = self.store.by_kind(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        return self.store.create(rtype, meta.get("namespace"), obj, api=False)

    def update(self, obj: JsonObj) -> JsonObj:
        """Replace a whole object (status included) without a resourceVersion check."""
        return self.store.force_replace(self.store.by_kind(obj["apiVersion"], obj["kind"]), obj)

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        merge_patch: JsonObj,
    ) -> JsonObj:
        """RFC 7386 merge patch on any part of the object, status included."""
        rtype = self.store.by_kind(api_version, kind)
        obj, _ = self.store.patch(
            rtype, namespace, name, "application/merge-patch+json", merge_patch, api=False
        )
        return obj

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None) -> None:
        """Remove an object at once, finalizers or not."""
        self.store.delete(self.store.by_kind(api_version, kind), namespace, name, api=False)

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JsonObj | None:
        return self.store.get(self.store.by_kind(api_version, kind), namespace, name)

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[JsonObj]:
        rtype = self.store.by_kind(api_version, kind)
        return json.loads(json.dumps(self.store.select(rtype, namespace)))  # type: ignore[no-any-return]

    @property
    def resource_version(self) -> int:
        """The current global resourceVersion."""
        return self.store.rv

    # ---- fault injection ----------------------------------------------------

    def expire_watches(self) -> None:
        """Every open watch gets the in-stream 410 ERROR then EOF; history is compacted."""
        self.store.compact()
        for watcher in list(self.store.watchers):
            watcher.notify("expire")

    def compact(self) -> None:
        """Forget history: a watch from an older resourceVersion gets 410."""
        self.store.compact()

    def fail_for(
        self, code: int, seconds: float, *, only: Callable[[str, str], bool] | None = None
    ) -> None:
        """Answer `code` to every API request (or those `only(method, path_qs)` takes) a while."""
        until = asyncio.get_running_loop().time() + seconds
        self._failing.append((code, until, only))

    def stop_failing(self) -> None:
        """End every `fail_for` refusal now."""
        self._failing.clear()

    def _time_fault(self, method: str, path_qs: str) -> int | None:
        now = asyncio.get_running_loop().time()
        self._failing = [f for f in self._failing if f[1] > now]
        for code, _until, only in self._failing:
            if only is None or only(method, path_qs):
                return code
        return None

    def drop_connections(self) -> None:
        """Abruptly close every open watch connection (no ERROR line, no final chunk)."""
        for watcher in list(self.store.watchers):
            watcher.notify("drop")

    @property
    def watch_count(self) -> int:
        return len(self.store.watchers)

    async def wait_for_watches(self, count: int = 1, within: float = 5.0) -> None:
        """Wait until at least `count` watches are open (a client is following)."""
        async with asyncio.timeout(within):
            while len(self.store.watchers) < count:
                self._watchers_changed.clear()
                await self._watchers_changed.wait()

    async def wait_for_no_watches(self, within: float = 5.0) -> None:
        """Wait until every watch has ended (clients hung up or streams closed)."""
        async with asyncio.timeout(within):
            while self.store.watchers:
                self._watchers_changed.clear()
                await self._watchers_changed.wait()

    # ---- HTTP --------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method, path_qs = request.method, request.path_qs
        self.requests.append((method, path_qs))
        try:
            if (
                self.require_token
                and request.headers.get("Authorization") != f"Bearer {self.token}"
            ):
                raise ApiError(401, "Unauthorized")
            if self.disconnect_next and (
                self.disconnect_filter is None or self.disconnect_filter(method, path_qs)
            ):
                self.disconnect_next -= 1
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)  # never reaches the client
            if self.request_delay > 0 and (
                self.delay_filter is None or self.delay_filter(method, path_qs)
            ):
                await asyncio.sleep(self.request_delay)
            api_call = request.path.startswith(("/api/", "/apis/"))
            code = self._time_fault(method, path_qs) if api_call else None
            if code is not None:
                raise injected(code, self.retry_after)
            if self.fail_next and (self.fail_filter is None or self.fail_filter(method, path_qs)):
                raise injected(self.fail_next.pop(0), self.retry_after)
            return await self._route(request)
        except ApiError as exc:
            return self._error(exc)
        except Exception as exc:
            # A bug in the fake, not a fault to inject: answer 500 like the real
            # server would, but keep it so fake_kube() fails the test at exit.
            logger.exception("FakeKube failed on %s %s", method, path_qs)
            self.internal_errors.append(exc)
            return self._error(ApiError(500, f"Internal error occurred: FakeKube bug: {exc!r}"))

    @staticmethod
    def _json(obj: Any, status: int = 200) -> web.Response:
        return web.Response(body=_dumps(obj), status=status, content_type="application/json")

    def _error(self, exc: ApiError) -> web.Response:
        response = self._json(exc.status(), exc.code)
        response.headers.update(exc.headers)
        return response

    async def _route(self, request: web.Request) -> web.StreamResponse:
        # The client asks for "/version/", "/api/" and "/apis/": trailing
        # slashes are insignificant, as on the real server.
        path = request.path.rstrip("/") or "/"
        segments = [s for s in path.split("/") if s]
        if path == "/version":
            return self._json(VERSION_INFO)
        if path in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok")
        if not segments or segments[0] not in ("api", "apis"):
            raise ApiError(404, "the server could not find the requested resource")
        if segments[0] == "api":
            if len(segments) == 1:
                return self._json(self._api_versions())
            group, version, rest = "", segments[1], segments[2:]
        else:
            if len(segments) == 1:
                return self._json(self._group_list())
            if len(segments) == 2:
                return self._json(self._group(segments[1]))
            group, version, rest = segments[1], segments[2], segments[3:]
        if not rest:
            return self._json(self._resource_list(group, version))

        namespace: str | None = None
        # /namespaces/{ns}/{plural}/... but not /namespaces/{name}/status|finalize,
        # which are subresources of the cluster-scoped Namespace itself.
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise ApiError(404, "the server could not find the requested resource")
        rtype = self.store.by_path(group, version, rest[0])
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if (
            rtype is None
            or (namespace is not None and not rtype.namespaced)
            or (sub is not None and (sub != "status" or not rtype.status_subresource))
            or (rtype.namespaced and namespace is None and name is not None)
        ):
            raise ApiError(404, "the server could not find the requested resource")

        query = request.query
        dry_run = "dryRun" in query
        if name is None:
            if request.method == "GET":
                matches = self._matcher(rtype, query)
                if _flag(query, "watch"):
                    return await self._watch(request, rtype, namespace, matches)
                return self._list(rtype, namespace, matches, query)
            if request.method == "POST" and (namespace is not None or not rtype.namespaced):
                obj = self.store.create(
                    rtype, namespace, await self._body(request), dry_run=dry_run
                )
                return self._json(obj, 201)
            if request.method == "DELETE" and (namespace is not None or not rtype.namespaced):
                return self._delete_collection(rtype, namespace, query, dry_run)
            raise ApiError(405, "the server does not allow this method on the requested resource")

        if request.method == "GET":
            found = self.store.get(rtype, namespace, name)
            if found is None:
                raise not_found(rtype, name)
            return self._json(found)
        if request.method == "PUT":
            obj, created = self.store.replace(
                rtype, namespace, name, await self._body(request), subresource=sub, dry_run=dry_run
            )
            return self._json(obj, 201 if created else 200)
        if request.method == "PATCH":
            content_type = request.headers.get("Content-Type", "")
            obj, created = self.store.patch(
                rtype,
                namespace,
                name,
                content_type,
                await self._body(request, yaml_ok=content_type.startswith(APPLY_PATCH)),
                subresource=sub,
                field_manager=query.get("fieldManager"),
                dry_run=dry_run,
            )
            return self._json(obj, 201 if created else 200)
        if request.method == "DELETE" and sub is None:
            raw = await request.read()
            try:
                options = json.loads(raw) if raw.strip() else None
            except ValueError as exc:
                raise ApiError(400, f"invalid DeleteOptions: {exc}") from None
            obj, gone = self.store.delete(rtype, namespace, name, options=options, dry_run=dry_run)
            if rtype.return_deleted or not gone:
                return self._json(obj)
            # Kinds without ReturnDeletedObject answer with a Status "Success".
            details: JsonObj = {"name": name, "kind": rtype.plural, "uid": obj["metadata"]["uid"]}
            if rtype.group:
                details = {"name": name, "group": rtype.group, **details}
            return self._json(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                }
            )
        raise ApiError(405, "the server does not allow this method on the requested resource")

    @staticmethod
    async def _body(request: web.Request, yaml_ok: bool = False) -> Any:
        raw = await request.read()
        if not raw.strip():
            raise ApiError(400, "the body of the request is empty")
        try:
            if yaml_ok:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise ApiError(400, f"couldn't get version/kind; json parse error: {exc}") from None

    @staticmethod
    def _matcher(rtype: ResourceType, query: Mapping[str, str]) -> Callable[[JsonObj], bool]:
        try:
            labels = label_matcher(query.get("labelSelector", ""))
            fields = field_matcher(query.get("fieldSelector", ""), rtype)
        except SelectorError as exc:
            raise ApiError(400, str(exc)) from None
        return lambda obj: labels(obj) and fields(obj)

    def _list(
        self,
        rtype: ResourceType,
        namespace: str | None,
        matches: Callable[[JsonObj], bool],
        query: Mapping[str, str],
    ) -> web.Response:
        try:
            limit = int(query.get("limit", "0") or 0)
        except ValueError:
            raise ApiError(400, "limit must be an integer") from None
        rv, items, token, remaining = self.store.list_page(
            rtype, namespace, matches, limit, query.get("continue")
        )
        meta: JsonObj = {"resourceVersion": str(rv)}
        if token is not None:
            meta["continue"] = token
            meta["remainingItemCount"] = remaining
        if not rtype.custom:
            # Typed lists carry kind/apiVersion once, on the list, not per item.
            items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]
        return self._json(
            {
                "kind": rtype.list_kind,
                "apiVersion": rtype.api_version,
                "metadata": meta,
                "items": items,
            }
        )

    def _delete_collection(
        self, rtype: ResourceType, namespace: str | None, query: Mapping[str, str], dry_run: bool
    ) -> web.Response:
        matches = self._matcher(rtype, query)
        deleted = []
        for obj in self.store.select(rtype, namespace, matches):
            meta = obj["metadata"]
            last, _ = self.store.delete(rtype, meta.get("namespace"), meta["name"], dry_run=dry_run)
            deleted.append(
                {k: v for k, v in last.items() if rtype.custom or k not in ("kind", "apiVersion")}
            )
        return self._json(
            {
                "kind": rtype.list_kind,
                "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": str(self.store.rv)},
                "items": deleted,
            }
        )

    # ---- watch streams -------------------------------------------------------

    async def _watch(
        self,
        request: web.Request,
        rtype: ResourceType,
        namespace: str | None,
        matches: Callable[[JsonObj], bool],
    ) -> web.StreamResponse:
        query = request.query
        bookmarks = _flag(query, "allowWatchBookmarks")
        send_initial = _flag(query, "sendInitialEvents")
        try:
            timeout = float(query["timeoutSeconds"]) if "timeoutSeconds" in query else None
        except ValueError:
            raise ApiError(400, "timeoutSeconds must be an integer") from None
        if timeout is None or timeout <= 0:
            # Absent or 0 means "server's choice", as on the real server.
            timeout = self.default_watch_timeout
        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"},
        )
        response.enable_chunked_encoding()
        try:
            initial, watcher = self.store.open_watch(
                rtype, namespace, matches, query.get("resourceVersion"), send_initial
            )
        except ApiError as exc:
            if exc.code != 410:
                raise
            # Too old: the real server answers 200 and reports it in the stream.
            await response.prepare(request)
            await response.write(_dumps({"type": "ERROR", "object": exc.status()}))
            await response.write_eof()
            return response
        self._watchers_changed.set()
        # With sendInitialEvents the end of the initial ADDED burst is marked by
        # a bookmark at the RV the snapshot was taken at.
        initial_end = self.store.rv if send_initial and bookmarks else None
        try:
            await response.prepare(request)
            await self._stream(
                request, response, rtype, watcher, initial, initial_end, timeout, bookmarks
            )
        except ConnectionError:
            pass  # the client went away
        finally:
            self.store.close_watch(watcher)
            self._watchers_changed.set()
        return response

    async def _stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        rtype: ResourceType,
        watcher: Watcher,
        initial: _Events,
        initial_end: int | None,
        lifetime: float,
        bookmarks: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + lifetime
        last_bookmark = loop.time()
        pending = deque(initial)
        last_rv = self.store.rv

        def bookmark(rv: int, annotations: dict[str, str] | None = None) -> bytes:
            meta: JsonObj = {"resourceVersion": str(rv)}
            if annotations:
                meta["annotations"] = annotations
            obj = {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta}
            return _dumps({"type": "BOOKMARK", "object": obj})

        while watcher.signal is None:
            if pending:
                item: tuple[str, JsonObj] | None = pending.popleft()
            elif initial_end is not None:
                await response.write(bookmark(initial_end, {"k8s.io/initial-events-end": "true"}))
                initial_end = None
                continue
            elif not watcher.queue.empty():
                item = watcher.queue.get_nowait()
            else:
                now = loop.time()
                if now >= deadline:
                    break
                wait = deadline - now
                if bookmarks and self.bookmark_interval > 0:
                    due = last_bookmark + self.bookmark_interval
                    if now >= due:
                        # Safe to claim the current RV: the queue is empty, so
                        # every matching event up to it has been written.
                        await response.write(bookmark(self.store.rv))
                        last_bookmark = now
                        continue
                    wait = min(wait, due - now)
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), wait)
                except TimeoutError:
                    continue
            if item is None:
                continue  # only a wake-up, to look at `signal`
            if self.stream_delay > 0:
                await asyncio.sleep(self.stream_delay)
                if watcher.signal is not None:
                    break
            kind, obj = item
            last_rv = int(obj["metadata"]["resourceVersion"])
            await response.write(_dumps({"type": kind, "object": obj}))

        if watcher.signal == "drop":
            # Abrupt: no terminating chunk, so the client sees a truncated body.
            if request.transport is not None:
                request.transport.close()
            return
        if watcher.signal == "expire":
            error = expired(f"too old resource version: {last_rv} ({self.store.floor})")
            await response.write(_dumps({"type": "ERROR", "object": error.status()}))
        await response.write_eof()

    # ---- discovery -------------------------------------------------------------

    def _group_versions(self) -> dict[str, _Names]:
        groups: dict[str, _Names] = {}
        for rtype in self.store.resources:
            versions = groups.setdefault(rtype.group, [])
            if rtype.version not in versions:
                versions.append(rtype.version)
        return groups

    def _api_versions(self) -> JsonObj:
        return {
            "kind": "APIVersions",
            "versions": self._group_versions().get("", []),
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}
            ],
        }

    def _group(self, name: str) -> JsonObj:
        versions = self._group_versions().get(name)
        if not name or not versions:
            raise ApiError(404, "the server could not find the requested resource")
        entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": name,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def _group_list(self) -> JsonObj:
        groups = [self._group(g) for g in self._group_versions() if g]
        for group in groups:
            del group["kind"], group["apiVersion"]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _resource_list(self, group: str, version: str) -> JsonObj:
        resources: _Objects = []
        for rtype in self.store.resources:
            if (rtype.group, rtype.version) != (group, version):
                continue
            entry: JsonObj = {
                "name": rtype.plural,
                "singularName": rtype.singular,
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": [
                    "create",
                    "delete",
                    "deletecollection",
                    "get",
                    "list",
                    "patch",
                    "update",
                    "watch",
                ],
            }
            if rtype.short_names:
                entry["shortNames"] = list(rtype.short_names)
            resources.append(entry)
            if rtype.status_subresource:
                resources.append(
                    {
                        "name": f"{rtype.plural}/status",
                        "singularName": "",
                        "namespaced": rtype.namespaced,
                        "kind": rtype.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        if not resources:
            raise ApiError(404, "the server could not find the requested resource")
        group_version = f"{group}/{version}" if group else version
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": resources,
        }
