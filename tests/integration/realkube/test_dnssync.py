"""`dnssync run` against a real kube-apiserver with the shipped RBAC, and a real BIND.

RBAC that must be enough for everything dnssync does (and no more), and resourceVersions
that expired while dnssync was not looking.
"""

from __future__ import annotations

import re
import signal

import pytest

from tests.integration.realkube.conftest import APPS, Tier, start_publishing, wait_until

pytestmark = pytest.mark.timeout(600)


def test_expired_resource_version_relists(tier: Tier) -> None:
    """Changes made while dnssync was frozen, then compacted away: it relists and converges."""
    run = tier.dnssync()
    start_publishing(tier, "keep", "192.0.2.20")
    tier.plane.apply([tier.service("gone", "192.0.2.21")])
    wait_until(lambda: tier.lookup("gone") == ["192.0.2.21"], 30, "gone published")
    run.signal(signal.SIGSTOP)
    try:
        tier.plane.kubectl("delete", "service", "gone", "-n", APPS)
        tier.plane.apply([tier.service("new", "192.0.2.22")])
        tier.retarget("keep", "192.0.2.23")
        tier.plane.compact_etcd()
        # The frozen watch dies with the apiserver; its resourceVersion is now history.
        tier.plane.restart(graceful=False)
    finally:
        run.signal(signal.SIGCONT)
    wait_until(
        lambda: (
            (tier.lookup("keep"), tier.lookup("new"), tier.lookup("gone"))
            == (["192.0.2.23"], ["192.0.2.22"], [])
        ),
        15,
        "the zone follows the cluster after a relist",
    )
    assert run.alive(), run.describe()


# Every request `dnssync run` (services, ingresses, Events, its Lease, the ACME webhook's
# front-proxy CA and the Challenge watcher) makes, as `kubectl auth can-i` words them.
NEEDED = [
    ("list", "services", None),
    ("watch", "services", None),
    ("list", "ingresses.networking.k8s.io", None),
    ("watch", "ingresses.networking.k8s.io", None),
    ("create", "events", APPS),
    ("patch", "events", APPS),
    ("create", "events.events.k8s.io", APPS),
    ("patch", "events.events.k8s.io", APPS),
    ("create", "leases.coordination.k8s.io", "dnssync"),
    ("get", "leases.coordination.k8s.io/dnssync", "dnssync"),
    ("update", "leases.coordination.k8s.io/dnssync", "dnssync"),
    ("get", "configmaps/extension-apiserver-authentication", "kube-system"),
    ("list", "challenges.acme.cert-manager.io", None),
    ("watch", "challenges.acme.cert-manager.io", None),
]
# What it must not be able to do.
REFUSED = [
    ("get", "secrets", "dnssync"),
    ("list", "secrets", None),
    ("update", "services", APPS),
    ("update", "leases.coordination.k8s.io/other", "dnssync"),
    ("create", "leases.coordination.k8s.io", APPS),
    ("update", "challenges.acme.cert-manager.io/status", APPS),
]


def test_shipped_rbac_allows_what_dnssync_does_and_no_more(tier: Tier) -> None:
    """The ServiceAccount bound by config/deploy may do all dnssync needs, and no more."""

    def can(verb: str, resource: str, namespace: str | None) -> bool:
        where = ["-n", namespace] if namespace else ["--all-namespaces"]
        proc = tier.plane.kubectl(
            "auth", "can-i", verb, resource, *where, kubeconfig=tier.kubeconfig, check=False
        )
        return proc.stdout.strip() == "yes"

    missing = [n for n in NEEDED if not can(*n)]
    extra = [r for r in REFUSED if can(*r)]
    assert (missing, extra) == ([], [])

    run = tier.dnssync()
    start_publishing(tier)
    wait_until(lambda: run.get("/readyz")[0] == 200, 15, "dnssync ready", every=0.2)
    log = run.output()
    # A word, not a substring: the log names a random port (40373 failed this once).
    assert not re.search(r"\b403\b", log) and "orbidden" not in log, run.describe()
