"""Kubernetes list + watch informers that never die quietly.

One :class:`Informer` per resource kind and namespace: list, then watch from
the list's resourceVersion with bookmarks and ``timeoutSeconds``; a watch
that ends cleanly resumes from the last version seen; ``410 Gone`` (in the
stream or as a status) relists and replaces the cache; disconnects, 5xx and
timeouts reconnect with capped, jittered backoff; a stream silent for longer
than the inactivity timeout is dropped and resumed.  Permanent errors (401,
403, 404: missing RBAC or CRD) raise :class:`~dnssync.errors.ConfigError`
so the process ends with a clear message instead of spinning.

The wire is read raw (``_preload_content=False``): objects stay JSON dicts
trimmed to what the converters read, never deserialised into client model
objects, which keeps memory low with tens of thousands of objects.  The
kubernetes-asyncio ``ApiClient`` still provides configuration, TLS and auth.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from dnssync.errors import ConfigError
from dnssync.sources.index import trim

log = logging.getLogger(__name__)

ListCall = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Resource:
    """How to list and watch one kind, cluster-wide or in one namespace."""

    kind: str  # dnssync's name: service, ingress, challenge, ...
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


SERVICES = Resource(
    "service",
    lambda api: client.CoreV1Api(api).list_service_for_all_namespaces,
    lambda api: client.CoreV1Api(api).list_namespaced_service,
)
INGRESSES = Resource(
    "ingress",
    lambda api: client.NetworkingV1Api(api).list_ingress_for_all_namespaces,
    lambda api: client.NetworkingV1Api(api).list_namespaced_ingress,
)
CHALLENGES = Resource("challenge", *_custom("acme.cert-manager.io", "v1", "challenges"))
RESOURCES = {r.kind: r for r in (SERVICES, INGRESSES, CHALLENGES)}


class Gone(Exception):
    """The resourceVersion we hold is too old: relist."""


class _Retry(Exception):
    """A transient failure: reconnect after backoff."""


@dataclass(slots=True)
class Backoff:
    """Capped exponential backoff with full jitter."""

    initial: float = 0.2
    cap: float = 30.0
    attempt: int = 0

    def next(self) -> float:
        delay = min(self.cap, self.initial * 2.0**self.attempt)
        self.attempt += 1
        return delay * (0.5 + random.random() / 2)

    def reset(self) -> None:
        self.attempt = 0


class Sink(Protocol):
    """Receives what an informer sees (the object index implements it)."""

    def upsert(self, kind: str, obj: Mapping[str, Any]) -> object: ...

    def delete(self, kind: str, obj: Mapping[str, Any]) -> object: ...

    def replace(
        self, kind: str, objs: Iterable[Mapping[str, Any]], *, namespace: str | None = None
    ) -> None: ...


@dataclass(slots=True)
class Stats:
    lists: int = 0
    watches: int = 0
    events: int = 0
    relists_410: int = 0
    errors: int = 0
    malformed: int = 0
    last_error: str = ""


@dataclass(slots=True)
class Informer:
    """List + watch of one resource (one namespace, or all)."""

    api: client.ApiClient
    resource: Resource
    sink: Sink
    namespace: str | None = None
    watch_timeout: int = 300  # timeoutSeconds asked of the server
    inactivity: float = 330.0  # no line at all for this long: reconnect
    page_size: int = 500
    backoff: Backoff = field(default_factory=Backoff)
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    stats: Stats = field(default_factory=Stats)
    on_change: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        return f"{self.resource.kind}s" + (f" in {self.namespace}" if self.namespace else "")

    def _call(self) -> ListCall:
        if self.namespace is None:
            return self.resource.all_namespaces(self.api)
        fn = self.resource.namespaced(self.api)
        ns = self.namespace

        async def call(**kw: Any) -> Any:
            return await fn(ns, **kw)

        return call

    async def run(self) -> None:
        """Forever: list, watch, resume, relist; raise only on permanent errors."""
        call = self._call()
        rv: str | None = None
        while True:
            try:
                if rv is None:
                    rv = await self._list(call)
                    self.synced.set()
                rv = await self._watch(call, rv)
                self.backoff.reset()
            except Gone:
                self.stats.relists_410 += 1
                log.info("%s: resourceVersion %s expired; relisting", self.name, rv)
                rv = None
                await asyncio.sleep(self.backoff.next() / 4)
            except _Retry as e:
                self.stats.errors += 1
                self.stats.last_error = str(e)
                delay = self.backoff.next()
                log.warning("%s: %s; retrying in %.1f s", self.name, e, delay)
                await asyncio.sleep(delay)

    def _translate(self, e: ApiException) -> Exception:
        if e.status == 410:
            return Gone()
        if e.status in (401, 403):
            return ConfigError(
                f"Kubernetes API refused to list/watch {self.name} ({e.status} {e.reason}): "
                "check the ServiceAccount's RBAC"
            )
        if e.status == 404:
            return ConfigError(
                f"Kubernetes API has no {self.name} (404): is the CRD/API group installed?"
            )
        return _Retry(f"API error {e.status} {e.reason}")

    async def _list(self, call: ListCall) -> str:
        """List in pages (as client-go's pager does): memory peaks at one page."""
        self.stats.lists += 1
        kind = self.resource.kind
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            try:
                kw: dict[str, Any] = {"limit": self.page_size}
                if token:
                    kw["_continue"] = token
                resp = await call(_preload_content=False, _request_timeout=60, **kw)
                if resp.status != 200:
                    resp.release()
                    raise ApiException(status=resp.status, reason=resp.reason)
                body = json.loads(await resp.read())
            except ApiException as e:
                raise self._translate(e) from None
            except (aiohttp.ClientError, OSError, TimeoutError, json.JSONDecodeError) as e:
                raise _Retry(f"list failed: {e!r}") from None
            items.extend(trim(kind, o) for o in body.get("items") or [])
            meta = body.get("metadata") or {}
            token = str(meta.get("continue") or "")
            if not token:
                break
        self.sink.replace(kind, items, namespace=self.namespace)
        if self.on_change is not None:
            self.on_change()
        return str(meta.get("resourceVersion") or "")

    async def _watch(self, call: ListCall, rv: str) -> str:
        self.stats.watches += 1
        try:
            resp = await call(
                watch=True,
                resource_version=rv,
                allow_watch_bookmarks=True,
                timeout_seconds=self.watch_timeout,
                _preload_content=False,
                _request_timeout=None,
            )
        except ApiException as e:
            raise self._translate(e) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise _Retry(f"watch failed: {e!r}") from None
        if resp.status != 200:
            # Unpreloaded responses skip the client's status check.
            resp.release()
            raise self._translate(ApiException(status=resp.status, reason=resp.reason))
        try:
            while True:
                try:
                    async with asyncio.timeout(self.inactivity):
                        line = await resp.content.readline()
                except TimeoutError:
                    raise _Retry(f"no watch event for {self.inactivity:g} s") from None
                if not line:
                    return rv  # the server ended the watch cleanly: resume
                rv = self._event(line, rv)
        except (aiohttp.ClientError, OSError) as e:
            raise _Retry(f"watch stream broke: {e!r}") from None
        finally:
            resp.release()

    def _event(self, line: bytes, rv: str) -> str:
        try:
            event = json.loads(line)
            kind = event["type"]
            obj = event["object"]
        except (ValueError, KeyError, TypeError):
            self.stats.malformed += 1
            log.warning("%s: ignoring a malformed watch line: %.200r", self.name, line)
            return rv
        if kind == "ERROR":
            code = obj.get("code") if isinstance(obj, dict) else None
            if code == 410:
                raise Gone()
            raise _Retry(
                f"watch error {code}: {obj.get('message') if isinstance(obj, dict) else obj}"
            )
        meta = obj.get("metadata") or {} if isinstance(obj, dict) else {}
        new_rv = str(meta.get("resourceVersion") or rv)
        if kind == "BOOKMARK":
            return new_rv
        self.stats.events += 1
        if kind in ("ADDED", "MODIFIED"):
            self.sink.upsert(self.resource.kind, obj)
        elif kind == "DELETED":
            self.sink.delete(self.resource.kind, obj)
        else:
            self.stats.malformed += 1
            log.warning("%s: unknown watch event type %r", self.name, kind)
            return rv
        if self.on_change is not None:
            self.on_change()
        return new_rv


async def api_client(
    kubeconfig: Path | None = None, *, context: str | None = None
) -> client.ApiClient:
    """An API client from a kubeconfig, else in-cluster (service account)."""
    try:
        if kubeconfig is not None:
            cfg = client.Configuration()
            await config.load_kube_config(
                config_file=str(kubeconfig), context=context, client_configuration=cfg
            )
            return client.ApiClient(configuration=cfg)
        try:
            cfg = client.Configuration()
            config.load_incluster_config(client_configuration=cfg)
            return client.ApiClient(configuration=cfg)
        except ConfigException:
            cfg = client.Configuration()
            await config.load_kube_config(context=context, client_configuration=cfg)
            return client.ApiClient(configuration=cfg)
    except (ConfigException, OSError) as e:
        raise ConfigError(f"cannot configure the Kubernetes client: {e}") from None
