"""A large first sync with Events on: DNS changes never wait for the Events it causes.

4,000 Services, an empty zone: dnssync writes 4,000 records and then has thousands of
Events to post (rate-limited, issue #11). A change made while they are being posted must
reach DNS at once, and SIGTERM must not wait for the Event queue.
"""

from __future__ import annotations

import signal
import time

import pytest
import yaml

from tests.integration.realkube.conftest import APPS, Tier, wait_until

# Creating and deleting 4,000 Services took 5-9 min on a busy apiserver (73 s on a quiet one).
pytestmark = pytest.mark.timeout(1800)

OBJECTS = 4000
CHUNK = 500


def _ip(i: int) -> str:
    return f"198.18.{i // 250}.{i % 250 + 1}"


def _create_services(tier: Tier) -> float:
    """Create b0 … b3999 with the admin's kubectl (before dnssync starts); seconds taken."""
    started = time.monotonic()
    docs = [tier.service(f"b{i}", _ip(i)) for i in range(OBJECTS)]
    for i, doc in enumerate(docs):
        doc["metadata"]["labels"] = {"burst": str(i // CHUNK)}
    for first in range(0, OBJECTS, CHUNK):
        text = yaml.safe_dump_all(docs[first : first + CHUNK])
        tier.plane.kubectl("create", "-f", "-", input=text)
    return time.monotonic() - started


def _delete_services(tier: Tier) -> None:
    """One deletecollection per chunk: kubectl's one DELETE per object takes minutes."""
    for chunk in range(OBJECTS // CHUNK):
        path = f"/api/v1/namespaces/{APPS}/services?labelSelector=burst%3D{chunk}"
        tier.plane.kubectl("delete", "--raw", path, check=False)


def _dnssync_events(tier: Tier) -> int:
    out = tier.plane.kubectl("get", "events", "-n", APPS, "-o", "name").stdout
    return len(out.split())


def test_change_during_event_burst_and_prompt_stop(tier: Tier) -> None:
    """4,000 objects, empty zone, Events on: a change and SIGTERM never wait for the Event queue."""
    try:
        created = _create_services(tier)
        cfg = tier.config()
        assert cfg["kubernetes"].get("events", True), "Events must be on for this test"
        run = tier.dnssync(cfg)
        last = OBJECTS - 1
        converged = wait_until(
            lambda: (
                (tier.lookup(f"b{last}") == [_ip(last)] and tier.lookup("b0") == [_ip(0)])
                or not run.alive()
            ),
            300,
            f"{OBJECTS} Services published",
            every=0.2,
        )
        assert run.alive(), run.describe()
        posted = _dnssync_events(tier)
        # The window issue #11 measured: records written, most of their Events not yet posted.
        assert posted < OBJECTS, f"the Event burst was over before the change ({posted})"
        tier.retarget("b0", "192.0.2.250")
        took = wait_until(
            lambda: tier.lookup("b0") == ["192.0.2.250"] or not run.alive(),
            10,
            "b0's change in DNS during the Event burst",
            every=0.01,
        )
        assert run.alive(), run.describe()
        # Proof by order, not by the clock: the change was in DNS while Events were still
        # queued (before the fix it waited for all of them: 40 s). The bound is loose for a
        # busy machine; bench/service.py measures the figure.
        during = _dnssync_events(tier)
        assert during < OBJECTS, f"the change waited for the Event burst ({during} posted)"
        assert took <= 5.0, f"a change during the Event burst took {took:.2f} s"
        sent = time.monotonic()
        run.signal(signal.SIGTERM)
        code = run.wait(30)
        stopped = time.monotonic() - sent
        assert code == 0, run.describe()
        left = _dnssync_events(tier)
        assert left < OBJECTS, f"SIGTERM waited for the Event queue ({left} posted)"
        assert stopped <= 10.0, f"SIGTERM during the Event burst took {stopped:.2f} s to exit"
        print(
            f"\ncreate {OBJECTS} Services {created:.1f} s; published {converged:.1f} s; "
            f"Events posted by then {posted}; change {took:.2f} s; stop {stopped:.2f} s"
        )
    finally:
        _delete_services(tier)
