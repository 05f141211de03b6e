"""Kubernetes Events on the objects dnssync publishes, recorded as client-go does.

``kubectl describe`` then tells the user that a name was published, lost a
conflict, was refused by the server or is invalid -- without reading
dnssync's logs.  Like client-go's recorder:

* :meth:`EventRecorder.record` never waits: it puts the Event on a bounded
  queue (full: the Event is dropped and counted) and a background task posts
  it, under a token-bucket rate limit -- the reconcile path never blocks on
  the API;
* the same reason and message on the same object is **one** Event whose
  ``count`` and ``lastTimestamp`` are patched.  Its name is derived from
  what it says (object uid, type, reason, message), so after a restart the
  create meets 409 and the existing Event's count is raised instead: a
  conflict seen across five restarts is one Event with count 5;
* ``involvedObject`` is complete (apiVersion, kind, namespace, name, uid,
  resourceVersion): ``kubectl describe`` lists only Events whose uid matches;
* a failed post is retried (the shared retry helper); what still fails is
  logged in one line and dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client

from dnssync import retry
from dnssync.errors import KubeConflict, KubeError, KubeNotFound
from dnssync.kube.resources import RESOURCES
from dnssync.kube.translate import translating
from dnssync.model import ObjectRef

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
_NAME_MAX = 253


@dataclass(frozen=True, slots=True)
class Pending:
    """One Event to post."""

    ref: ObjectRef
    involved: dict[str, str]
    type: str  # Normal | Warning
    reason: str
    message: str

    @property
    def key(self) -> str:
        parts = (self.ref.resource, self.involved.get("uid", ""), self.type, self.reason)
        return hashlib.sha256("\0".join((*parts, self.message)).encode()).hexdigest()[:16]

    @property
    def name(self) -> str:
        return f"{self.ref.name[: _NAME_MAX - 17]}.{self.key}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ref(ref: ObjectRef | str) -> ObjectRef | None:
    if isinstance(ref, ObjectRef):
        return ref
    kind, _, rest = ref.partition("/")
    namespace, _, name = rest.partition("/")
    return ObjectRef(kind, namespace, name) if kind and namespace and name else None


class EventRecorder:
    """Posts core/v1 Events from a bounded queue, rate-limited and aggregated."""

    def __init__(
        self,
        api: client.ApiClient,
        *,
        lookup: Callable[[ObjectRef], Mapping[str, Any] | None] = lambda _ref: None,
        qps: float = 5.0,
        burst: int = 25,
        queue: int = 1000,
        component: str = "dnssync",
        on_result: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api: Any = client.CoreV1Api(api)
        self.lookup = lookup
        self.qps = qps
        self.burst = float(burst)
        self.component = component
        self.host = socket.gethostname()
        self.on_result = on_result
        self.clock = clock
        self.queue: asyncio.Queue[Pending] = asyncio.Queue(maxsize=queue)
        self._tokens = float(burst)
        self._filled = clock()
        # Event name -> count last written, for the Events this process knows.
        self._counts: OrderedDict[str, int] = OrderedDict()

    def _result(self, result: str) -> None:
        if self.on_result is not None:
            self.on_result(result)

    def record(self, ref: ObjectRef | str, *, reason: str, message: str, warning: bool) -> None:
        """Queue one Event on ``ref``; never waits (a full queue drops it)."""
        parsed = parse_ref(ref)
        if parsed is None or parsed.kind not in RESOURCES:
            return
        resource = RESOURCES[parsed.kind]
        involved = {
            "apiVersion": resource.api_version,
            "kind": resource.kind_name,
            "namespace": parsed.namespace,
            "name": parsed.name,
        }
        meta = (self.lookup(parsed) or {}).get("metadata") or {}
        for field, key in (("uid", "uid"), ("resourceVersion", "resourceVersion")):
            if meta.get(key):
                involved[field] = str(meta[key])
        item = Pending(parsed, involved, "Warning" if warning else "Normal", reason, message[:1024])
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self._result("dropped")

    async def run(self) -> None:
        """Post queued Events until cancelled (what is still queued then is dropped)."""
        try:
            while True:
                item = await self.queue.get()
                await self._throttle()
                await self._post(item)
        finally:
            if self.queue.qsize():
                log.info("events: %d not posted at shutdown", self.queue.qsize())

    async def drain(self) -> None:
        """Post what is queued now, then return (for one-shot runs and tests)."""
        while not self.queue.empty():
            item = self.queue.get_nowait()
            await self._throttle()
            await self._post(item)

    async def _throttle(self) -> None:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._filled) * self.qps)
        self._filled = now
        if self._tokens < 1.0:
            await asyncio.sleep((1.0 - self._tokens) / self.qps)
            self._tokens = 1.0
            self._filled = self.clock()
        self._tokens -= 1.0

    async def _post(self, item: Pending) -> None:
        try:
            result = await retry.call(lambda: self._write(item), attempts=3, initial=0.5, cap=4.0)
        except KubeError as e:
            self._result("failed")
            log.warning("event %s on %s not recorded: %s", item.reason, item.ref, e)
            return
        self._result(result)

    async def _write(self, item: Pending) -> str:
        """Create, or raise the count of the Event saying the same; returns which."""
        known = self._counts.get(item.name)
        if known is not None:
            try:
                await self._patch(item, known + 1)
                return "aggregated"
            except KubeNotFound:
                pass  # expired on the server (Events live an hour): create anew
        try:
            await self._create(item)
            self._remember(item.name, 1)
            return "created"
        except KubeConflict:
            pass  # written before this process started
        await self._patch(item, await self._count(item) + 1)
        return "aggregated"

    def _remember(self, name: str, count: int) -> None:
        self._counts[name] = count
        self._counts.move_to_end(name)
        while len(self._counts) > 4096:
            self._counts.popitem(last=False)

    async def _create(self, item: Pending) -> None:
        now = _now()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": item.name, "namespace": item.ref.namespace},
            "involvedObject": item.involved,
            "reason": item.reason,
            "message": item.message,
            "type": item.type,
            "source": {"component": self.component, "host": self.host},
            "reportingComponent": self.component,
            "reportingInstance": self.host,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        with translating(f"create event {item.reason} on {item.ref}"):
            await self.api.create_namespaced_event(item.ref.namespace, body, _request_timeout=10)

    async def _count(self, item: Pending) -> int:
        with translating(f"read event {item.name}"):
            existing = await self.api.read_namespaced_event(
                item.name, item.ref.namespace, _request_timeout=10
            )
        return int(getattr(existing, "count", None) or 1)

    async def _patch(self, item: Pending, count: int) -> None:
        patch = {
            "count": count,
            "lastTimestamp": _now(),
            "involvedObject": item.involved,  # the object's latest resourceVersion
            "source": {"component": self.component, "host": self.host},
        }
        with translating(f"update event {item.reason} on {item.ref}"):
            await self.api.patch_namespaced_event(
                item.name, item.ref.namespace, patch, _content_type=MERGE_PATCH, _request_timeout=10
            )
        self._remember(item.name, count)
