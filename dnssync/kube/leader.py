"""Lease-based leader election (coordination.k8s.io/v1), as client-go does it.

Only the replica holding the Lease writes DNS; the others keep their caches
warm and take over when the holder stops renewing.  Expiry is judged on this
replica's monotonic clock from the moment it last *saw the Lease record
change*, never by comparing the holder's timestamps with our wall clock, so
clock skew between nodes cannot produce two leaders.  Every write carries the
resourceVersion it read: a concurrent writer gets 409 Conflict and loses the
round.

A renewal that fails for any reason steps down at once: the next round
takes the Lease straight back if it is still ours, and meanwhile nothing is
written on a lease we may have lost.  Failures are reported through
``on_state`` (readiness, metrics) -- a replica refused access to Leases can
never write, and must say so rather than follow forever.  On shutdown
:meth:`release` clears the holder, so a follower takes over at once; the
caller runs it before closing the API client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client

from dnssync.errors import KubeConflict, KubeError, KubeNotFound
from dnssync.kube.translate import read_json, translating

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LeaseOptions:
    name: str = "dnssync"
    namespace: str = "default"
    duration: float = 15.0  # leaseDurationSeconds
    renew_deadline: float = 10.0  # give up leading when renewals fail this long
    retry_period: float = 2.0
    identity: str = ""
    release_timeout: float = 2.0  # bound on the release at shutdown


def _raw(body: dict[str, Any]) -> Any:
    # The client serialises plain dicts as they are; its stubs only admit models.
    return body


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Holds or watches one Lease; ``is_leader()`` is what the writers ask."""

    def __init__(
        self,
        api: client.ApiClient,
        options: LeaseOptions,
        *,
        on_change: Callable[[bool], None] | None = None,
        on_state: Callable[[KubeError | None], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = client.CoordinationV1Api(api)
        self.options = options
        self.identity = options.identity or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
        self.on_change = on_change
        self.on_state = on_state
        self.clock = clock
        self.error = ""  # the last round's failure, "" when it worked
        self._leader = False
        self._held = False  # won the Lease since the last release
        self._last_renew = 0.0
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0

    @property
    def _where(self) -> str:
        return f"lease {self.options.namespace}/{self.options.name}"

    def is_leader(self) -> bool:
        if self._leader and self.clock() - self._last_renew > self.options.renew_deadline:
            # The loop could not renew in time: another replica may take over now.
            self._set(False)
        return self._leader

    def _set(self, leader: bool) -> None:
        if leader != self._leader:
            self._leader = leader
            log.info("leader election: %s", "leading" if leader else "following")
            if self.on_change is not None:
                self.on_change(leader)

    def _report(self, error: KubeError | None) -> None:
        text = str(error) if error is not None else ""
        if text != self.error:
            if error is not None:
                log.warning("leader election: %s", text)
            elif self.error:
                log.info("leader election: %s answers again", self._where)
        self.error = text
        if self.on_state is not None:
            self.on_state(error)

    async def run(self, stopping: asyncio.Event) -> None:
        """Acquire or renew every retry period until ``stopping``, then release."""
        while not stopping.is_set():
            try:
                await self.try_once()
            except KubeError as e:
                self._set(False)  # a failed renewal: step down now
                self._report(e)
            else:
                self._report(None)
            self.is_leader()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.retry_period):
                    await stopping.wait()
        await self.release()

    async def _read(self) -> dict[str, Any] | None:
        o = self.options
        what = f"read {self._where}"
        try:
            with translating(what):
                resp: Any = await self.api.read_namespaced_lease(
                    o.name, o.namespace, _preload_content=False, _request_timeout=10
                )
            body: dict[str, Any] = await read_json(resp, what)
        except KubeNotFound:
            return None
        return body

    def _spec(self, transitions: int, acquire: str) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.options.duration),
            "acquireTime": acquire,
            "renewTime": _now(),
            "leaseTransitions": transitions,
        }

    async def _write(self, lease: dict[str, Any] | None, body: dict[str, Any]) -> bool:
        """Create or replace; False when another replica wrote first (409)."""
        o = self.options
        try:
            if lease is None:
                with translating(f"create {self._where}"):
                    await self.api.create_namespaced_lease(
                        o.namespace, _raw(body), _request_timeout=10
                    )
            else:
                with translating(f"renew {self._where}"):
                    await self.api.replace_namespaced_lease(
                        o.name, o.namespace, _raw(body), _request_timeout=10
                    )
        except KubeConflict:
            return False
        return True

    async def try_once(self) -> bool:
        """One round of client-go's tryAcquireOrRenew; returns leadership."""
        o = self.options
        lease = await self._read()
        now = self.clock()
        if lease is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": o.name, "namespace": o.namespace},
                "spec": self._spec(0, _now()),
            }
            return self._won(now) if await self._write(None, body) else self._lost()
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, str(spec.get("renewTime") or ""))
        if record != self._observed:
            self._observed = record
            self._observed_at = now
        duration = float(spec.get("leaseDurationSeconds") or o.duration)
        if holder and holder != self.identity and now - self._observed_at < duration:
            return self._lost()
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == self.identity:
            lease["spec"] = self._spec(transitions, str(spec.get("acquireTime") or _now()))
        else:
            lease["spec"] = self._spec(transitions + 1, _now())
        return self._won(now) if await self._write(lease, lease) else self._lost()

    def _won(self, now: float) -> bool:
        self._last_renew = now
        self._observed = None
        self._held = True
        self._set(True)
        return True

    def _lost(self) -> bool:
        self._set(False)
        return False

    async def release(self) -> None:
        """Give the Lease up (holder cleared, 1 s duration) if we hold it; bounded in time."""
        if not self._held:
            return
        self._held = False
        self._set(False)
        try:
            async with asyncio.timeout(self.options.release_timeout):
                lease = await self._read()
                spec = (lease or {}).get("spec") or {}
                if lease is None or spec.get("holderIdentity") != self.identity:
                    return
                spec.update({"holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": _now()})
                lease["spec"] = spec
                if await self._write(lease, lease):
                    log.info("leader election: released %s", self._where)
        except (KubeError, TimeoutError) as e:
            log.warning("leader election: could not release %s: %s", self._where, e)
