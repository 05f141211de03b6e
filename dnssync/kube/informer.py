"""Kubernetes list + watch informers that survive the control plane.

One :class:`Informer` per resource kind and namespace: list (in pages), then
watch from the list's resourceVersion with bookmarks and ``timeoutSeconds``;
a watch that ends cleanly resumes from the last version seen; ``410 Gone``
(in the stream or as a status) relists and replaces the cache.

Everything else the API can do to a client is transient until proven
otherwise: 5xx, 429 (its ``Retry-After`` honoured), disconnects, timeouts,
undecodable lines, a stream silent for longer than the inactivity timeout --
all reconnect after a jittered backoff that resets as soon as the API answers a
list or a watch again (a restarting API server breaks every watch: waits that
grew across restarts would keep a quiet resource away long after it is back).
401/403/404 are retried too for ``grace`` seconds (an API server restarting
answers 403 until its RBAC cache fills, and 404 for custom kinds until its CRDs
are registered); only a refusal that outlasts the grace
ends the informer, with a one-line :class:`~dnssync.errors.ConfigError`.  A
failure with no answer at all (the server down or restarting) ends a run of
refusals.  The wait after such a failure, or after a refusal, ends at the first
answer the server gives any informer sharing its :class:`~dnssync.retry.Pulse`:
a control-plane upgrade restarts the API server again and again, and a watch
whose backoff grew over refusals spanning several restarts would otherwise
sleep through each short time up (or until its refusals outlasted the grace).

The wire is read raw (``_preload_content=False``): objects stay JSON dicts
(trimmed by ``shrink``), never deserialised into client model objects, and
lines are split here, so an object of any size up to ``max_line`` is read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubernetes_asyncio import client

from dnssync import retry
from dnssync.errors import ConfigError, KubeError, KubeGone, KubeNotFound, KubeRefused
from dnssync.errors import KubeUnavailable as Unavailable
from dnssync.kube.resources import ListCall, Resource
from dnssync.kube.translate import check, from_status, read_json, translating
from dnssync.retry import Backoff, Grace, Pulse, Streak

log = logging.getLogger(__name__)

#: Etcd refuses objects over 1.5 MiB; a line far beyond that is not an object.
MAX_LINE = 16 * 2**20
#: A watch open this long was a working one, lines or not (seconds).
STABLE = 1.0


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


def _keep(kind: str, obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj


def _ended_by_answers(error: KubeError) -> bool:
    """Whether another informer's answer ends this failure's wait.

    No answer at all (the server down) and a refusal (a restarted server's
    empty RBAC cache, its CRDs not yet registered) are the server's state, not
    this resource's: once it answers anyone they are likely over.  A 429 or
    5xx is this request's own, and a Retry-After is the server's to end.
    """
    return not error.status or isinstance(error, KubeRefused | KubeNotFound)


@dataclass(slots=True)
class Informer:
    """List + watch of one resource (one namespace, or all)."""

    api: client.ApiClient
    resource: Resource
    sink: Sink
    namespace: str | None = None
    watch_timeout: int = 300  # timeoutSeconds asked of the server
    inactivity: float = 330.0  # no byte at all for this long: reconnect
    page_size: int = 500
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.2, cap=30.0))
    grace: float = 120.0  # how long 401/403/404 are taken as transient
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    stats: Stats = field(default_factory=Stats)
    on_change: Callable[[], None] | None = None
    #: Told each failure, and None once the API answers again.
    on_state: Callable[[KubeError | None], None] | None = None
    shrink: Callable[[str, Mapping[str, Any]], Mapping[str, Any]] = _keep
    max_line: int = MAX_LINE
    clock: Callable[[], float] = time.monotonic
    #: Shared by the informers of one API server (see :class:`~dnssync.retry.Pulse`).
    pulse: Pulse | None = None
    #: Failures with no answer between them: the delays grow with it.
    streak: Streak = field(init=False)
    #: Watches accepted that ended at once, empty: a proxy closing streams must
    #: not make a tight loop, though each was an answer.
    churn: Streak = field(init=False)

    def __post_init__(self) -> None:
        self.streak = Streak(self.backoff)
        self.churn = Streak(self.backoff)

    @property
    def name(self) -> str:
        return self.resource.plural + (f" in {self.namespace}" if self.namespace else "")

    def _call(self) -> ListCall:
        if self.namespace is None:
            return self.resource.all_namespaces(self.api)
        fn = self.resource.namespaced(self.api)
        ns = self.namespace

        async def call(**kw: Any) -> Any:
            return await fn(ns, **kw)

        return call

    async def list_once(self) -> None:
        """One list into the sink, no watch (a one-shot plan); transient errors retried."""
        call = self._call()
        await retry.call(lambda: self._list(call), attempts=4, initial=0.5, cap=4.0)
        self.synced.set()

    async def run(self) -> None:
        """Forever: list, watch, resume, relist; raise only on a lasting refusal."""
        call = self._call()
        grace = Grace(self.grace, self.clock)
        rv: str | None = None
        while True:
            try:
                if rv is None:
                    rv = await self._list(call)
                    self._answered(grace)
                    self.synced.set()
                rv = await self._watch(call, rv, grace)
            except KubeGone:
                self.stats.relists_410 += 1
                log.info("%s: resourceVersion %s expired; relisting", self.name, rv)
                rv = None
            except KubeError as e:
                await self._failed(e, grace)

    def _answered(self, grace: Grace) -> None:
        grace.ok()
        self.streak.reset()
        if self.pulse is not None:
            self.pulse.beat()
        if self.on_state is not None:
            self.on_state(None)

    async def _failed(self, error: KubeError, grace: Grace) -> None:
        self.stats.errors += 1
        self.stats.last_error = str(error)
        if self.on_state is not None:
            self.on_state(error)
        if isinstance(error, KubeRefused | KubeNotFound):
            lasted = grace.refused()
            if lasted >= grace.seconds:
                hint = ""
                if isinstance(error, KubeNotFound):
                    hint = (
                        f" (does the API serve {self.resource.api_version} {self.resource.plural}:"
                    )
                    hint += " is its CRD installed?)"
                raise ConfigError(f"{error}{hint}; still so after {lasted:.0f} s") from None
        elif not error.retryable:
            raise ConfigError(str(error)) from None
        elif not error.status:
            # No answer at all: the server is down or restarting.  Refusals
            # after this come from its next life (an empty RBAC cache again).
            grace.ok()
        delay = self.streak.next(error)
        log.warning("%s; retrying in %.2f s", error, delay)
        if self.pulse is None or not _ended_by_answers(error):
            await asyncio.sleep(delay)
        elif await self.pulse.sleep(delay):
            self.streak.reset()  # the server's first answer to anyone ends the wait

    async def _list(self, call: ListCall) -> str:
        """List in pages (as client-go's pager does): memory peaks at one page."""
        self.stats.lists += 1
        kind, what = self.resource.kind, f"list {self.name}"
        items: list[Mapping[str, Any]] = []
        token = ""
        while True:
            kw: dict[str, Any] = {"limit": self.page_size}
            if token:
                kw["_continue"] = token
            with translating(what):
                resp = await call(_preload_content=False, _request_timeout=60, **kw)
            body = await read_json(resp, what)
            if not isinstance(body, dict):
                raise Unavailable(f"{what}: the answer is not a list")
            items.extend(self.shrink(kind, o) for o in body.get("items") or [])
            meta = body.get("metadata") or {}
            token = str(meta.get("continue") or "")
            if not token:
                break
        self.sink.replace(kind, items, namespace=self.namespace)
        if self.on_change is not None:
            self.on_change()
        return str(meta.get("resourceVersion") or "")

    async def _watch(self, call: ListCall, rv: str, grace: Grace) -> str:
        self.stats.watches += 1
        what = f"watch {self.name}"
        started = self.clock()
        with translating(what):
            resp = await call(
                watch=True,
                resource_version=rv,
                allow_watch_bookmarks=True,
                timeout_seconds=self.watch_timeout,
                _preload_content=False,
                _request_timeout=None,
            )
        await check(resp, what)
        self._answered(grace)
        lines = 0
        try:
            async for line in _lines(resp.content, self.inactivity, self.max_line, what):
                lines += 1
                if lines == 1:
                    self.churn.reset()
                rv = self._event(line, rv, what)
        finally:
            resp.release()
            if self.clock() - started >= STABLE:
                self.churn.reset()  # a quiet resource (Nodes) may send nothing for minutes
        if lines == 0 and self.clock() - started < STABLE:
            # Ended at once with nothing in it (a proxy closing streams?):
            # back off instead of reconnecting in a tight loop.
            await asyncio.sleep(self.churn.next())
        return rv

    def _event(self, line: bytes, rv: str, what: str) -> str:
        try:
            event = json.loads(line)
            kind, obj = event["type"], event["object"]
            meta = obj.get("metadata") or {}
            if not isinstance(meta, dict):
                raise TypeError("metadata is not an object")
        except (ValueError, KeyError, TypeError, AttributeError):
            self.stats.malformed += 1
            # Skipping it could lose a change: resume from the last good version.
            raise Unavailable(f"{what}: undecodable watch line: {line[:120]!r}") from None
        if kind == "ERROR":
            code = obj.get("code")
            raise from_status(
                what,
                code if isinstance(code, int) else 500,
                str(obj.get("reason") or ""),
                message=str(obj.get("message") or ""),
            )
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
            log.warning("%s: unknown watch event type %r", what, kind)
            return rv
        if self.on_change is not None:
            self.on_change()
        return new_rv


async def _lines(content: Any, inactivity: float, limit: int, what: str) -> AsyncIterator[bytes]:
    """The stream's non-empty lines, of any length up to ``limit``.

    aiohttp's own ``readline`` raises ValueError past its buffer (128 KiB in
    some versions), which would make one large object unreadable for good.
    """
    buf = bytearray()
    while True:
        with translating(what):
            try:
                async with asyncio.timeout(inactivity):
                    chunk = await content.readany()
            except TimeoutError:
                raise Unavailable(f"{what}: nothing received for {inactivity:g} s") from None
        if not chunk:
            if buf.strip():
                raise Unavailable(f"{what}: the stream ended inside a line")
            return
        buf += chunk
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            line = bytes(buf[start:end])
            start = end + 1
            if line.strip():
                yield line
        del buf[:start]
        if len(buf) > limit:
            raise Unavailable(f"{what}: a watch line over {limit} bytes")
