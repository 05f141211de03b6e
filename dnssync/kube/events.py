"""Kubernetes Events on the Services and Ingresses dnssync publishes.

``kubectl describe`` then tells the user that a name was published, lost a
conflict to another object, or was refused by the server -- without reading
dnssync's logs.  Events are best effort: a failure to record one is logged
and never stops a reconcile.
"""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client

from dnssync.kube.translate import translating

log = logging.getLogger(__name__)
_KINDS = {"service": ("v1", "Service"), "ingress": ("networking.k8s.io/v1", "Ingress")}


class KubeRecorder:
    """Posts core/v1 Events, as ``dnssync`` on this host."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api: Any = client.CoreV1Api(api)
        self.host = socket.gethostname()

    async def record(self, ref: str, *, reason: str, message: str, warning: bool) -> None:
        kind, _, rest = ref.partition("/")
        namespace, _, name = rest.partition("/")
        if kind not in _KINDS or not name:
            return
        api_version, kind_name = _KINDS[kind]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{name}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": api_version,
                "kind": kind_name,
                "namespace": namespace,
                "name": name,
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": "dnssync", "host": self.host},
            "reportingComponent": "dnssync",
            "reportingInstance": self.host,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        with translating(f"record event {reason} on {ref}"):
            await self.api.create_namespaced_event(namespace, body)
