"""`dnssync run` while the control plane fails under it: apiserver restarts, replicas killed.

A control-plane upgrade restarts every apiserver; a node drain or crash kills the leader.
dnssync must live through the first and hand over quickly on the second (issue #11).
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.integration.realkube.conftest import LEASE, Tier, start_publishing, wait_until

pytestmark = pytest.mark.timeout(600)


def test_survives_ten_apiserver_restarts(tier: Tier) -> None:
    """10 restarts (SIGTERM, SIGKILL in turn): dnssync lives; a change shows ≤ 10 s after each."""
    run = tier.dnssync()
    start_publishing(tier)
    for i in range(10):
        graceful = i % 2 == 0
        tier.plane.restart(graceful=graceful)
        ip = f"192.0.2.{100 + i}"
        tier.retarget("web", ip)
        took = time.monotonic() - tier.plane.ready_at
        how = "SIGTERM" if graceful else "SIGKILL"
        seen = wait_until(
            lambda ip=ip: tier.lookup("web") == [ip] or not run.alive(),  # type: ignore[misc]
            max(0.0, 10 - took),
            f"restart {i + 1} ({how}): web → {ip} in DNS within 10 s of the API answering",
        )
        assert run.alive(), f"restart {i + 1} ({how}) ended dnssync: {run.describe()}"
        assert tier.lookup("web") == [ip], run.describe()
        print(f"restart {i + 1} ({how}): in DNS {took + seen:.2f} s after the API answered")


def test_leader_failover(tier: Tier) -> None:
    """A follower leads ≤ 3 s after SIGTERM of the leader, ≤ lease duration + 2 s after SIGKILL."""
    first, second = tier.dnssync(), tier.dnssync()
    wait_until(lambda: first.leading() or second.leading(), 30, "a leader")
    leader, follower = (first, second) if first.leading() else (second, first)
    start_publishing(tier)

    leader.signal(signal.SIGTERM)
    took = wait_until(follower.leading, 10, "follower leads after SIGTERM of the leader")
    assert leader.wait(10) == 0, leader.describe()
    assert took <= 3.0, f"failover after SIGTERM took {took:.1f} s"
    print(f"failover: the follower leads {took:.2f} s after SIGTERM of the leader")
    tier.retarget("web", "192.0.2.11")
    wait_until(lambda: tier.lookup("web") == ["192.0.2.11"], 10, "the new leader writes")

    third = tier.dnssync()
    wait_until(lambda: third.get("/healthz")[0] == 200, 30, "a third replica up")
    follower.signal(signal.SIGKILL)
    took = wait_until(third.leading, LEASE["duration"] + 10, "third leads after SIGKILL")
    assert took <= LEASE["duration"] + 2, f"failover after SIGKILL took {took:.1f} s"
    print(f"failover: the third leads {took:.2f} s after SIGKILL (lease {LEASE['duration']} s)")
    tier.retarget("web", "192.0.2.12")
    wait_until(lambda: tier.lookup("web") == ["192.0.2.12"], 10, "the third replica writes")
