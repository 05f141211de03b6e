"""Lease-based leader election (coordination.k8s.io/v1), as client-go does it.

Only the replica holding the Lease writes DNS; the others keep their caches
warm and take over when the holder stops renewing.  Expiry is judged on this
replica's monotonic clock from the moment it last *saw the Lease record
change*, never by comparing the holder's timestamps with our wall clock, so
clock skew between nodes cannot produce two leaders.  Every write carries the
resourceVersion it read: a concurrent writer gets 409 Conflict and loses the
round.  On shutdown the leader releases the Lease so a follower takes over at
once rather than after the lease duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LeaseOptions:
    name: str = "dnssync"
    namespace: str = "default"
    duration: float = 15.0  # leaseDurationSeconds
    renew_deadline: float = 10.0  # give up leading when renewals fail this long
    retry_period: float = 2.0
    identity: str = ""


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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = client.CoordinationV1Api(api)
        self.options = options
        self.identity = options.identity or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
        self.on_change = on_change
        self.clock = clock
        self._leader = False
        self._last_renew = 0.0
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0

    def is_leader(self) -> bool:
        if self._leader and self.clock() - self._last_renew > self.options.renew_deadline:
            # Could not renew in time: another replica may take over now.
            self._set(False)
        return self._leader

    def _set(self, leader: bool) -> None:
        if leader != self._leader:
            self._leader = leader
            log.info("leader election: %s", "leading" if leader else "following")
            if self.on_change is not None:
                self.on_change(leader)

    async def run(self, stopping: asyncio.Event) -> None:
        """Try to acquire or renew every retry period until ``stopping``."""
        try:
            while not stopping.is_set():
                try:
                    await self.try_once()
                except ApiException as e:
                    log.warning("leader election: API error %s %s", e.status, e.reason)
                except (TimeoutError, OSError) as e:
                    log.warning("leader election: cannot reach the API: %s", e)
                self.is_leader()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.options.retry_period):
                        await stopping.wait()
        finally:
            if self._leader:
                await asyncio.shield(self.release())

    async def _read(self) -> dict[str, Any] | None:
        o = self.options
        try:
            resp: Any = await self.api.read_namespaced_lease(
                o.name, o.namespace, _preload_content=False
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        # Unpreloaded responses skip the client's status check.
        if resp.status == 404:
            resp.release()
            return None
        if resp.status != 200:
            resp.release()
            raise ApiException(status=resp.status, reason=resp.reason)
        body: dict[str, Any] = json.loads(await resp.read())
        return body

    def _spec(self, transitions: int, acquire: str) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.options.duration),
            "acquireTime": acquire,
            "renewTime": _now(),
            "leaseTransitions": transitions,
        }

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
            try:
                await self.api.create_namespaced_lease(o.namespace, _raw(body))
            except ApiException as e:
                if e.status == 409:
                    return False
                raise
            self._won(now)
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, str(spec.get("renewTime") or ""))
        if record != self._observed:
            self._observed = record
            self._observed_at = now
        duration = float(spec.get("leaseDurationSeconds") or o.duration)
        held_by_other = holder and holder != self.identity
        if held_by_other and now - self._observed_at < duration:
            self._set(False)
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == self.identity:
            new_spec = self._spec(transitions, str(spec.get("acquireTime") or _now()))
        else:
            new_spec = self._spec(transitions + 1, _now())
        lease["spec"] = new_spec
        try:
            await self.api.replace_namespaced_lease(o.name, o.namespace, _raw(lease))
        except ApiException as e:
            if e.status == 409:  # someone else wrote first: re-read next round
                return False
            raise
        self._won(now)
        return True

    def _won(self, now: float) -> None:
        self._last_renew = now
        self._observed = None
        self._set(True)

    async def release(self) -> None:
        """Give the Lease up (holder cleared, 1 s duration) if we hold it."""
        o = self.options
        try:
            lease = await self._read()
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            lease["spec"].update(
                {"holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": _now()}
            )
            await self.api.replace_namespaced_lease(o.name, o.namespace, _raw(lease))
        except (ApiException, OSError) as e:
            log.warning("leader election: could not release the lease: %s", e)
        finally:
            self._set(False)
