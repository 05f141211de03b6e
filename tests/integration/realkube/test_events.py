"""dnssync's Kubernetes Events as an operator reads them: `kubectl describe`, counts."""

from __future__ import annotations

import pytest

from tests.integration.realkube.conftest import APPS, Tier, start_publishing, wait_until

pytestmark = pytest.mark.timeout(600)


def test_events_show_in_kubectl_describe(tier: Tier) -> None:
    """`kubectl describe` lists dnssync's Events on the Service it published."""
    tier.dnssync()
    start_publishing(tier)

    def described() -> bool:
        out = tier.plane.kubectl("describe", "service", "web", "-n", APPS).stdout
        return "Published" in out.split("Events:", 1)[-1]

    wait_until(described, 15, "a Published Event in `kubectl describe service web`", every=0.5)


def test_conflict_across_restarts_is_one_event_with_a_count(tier: Tier) -> None:
    """One conflict seen by five dnssync starts is one Event whose count grows, not five."""
    tier.plane.apply([tier.service("web", "192.0.2.30")])
    loser = tier.service("other", "192.0.2.31")
    loser["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"] = (
        f"web.{tier.zone}"
    )
    tier.plane.apply([loser])
    for start in range(1, 6):
        run = tier.dnssync()

        # Each start sees the conflict again: one more Event, or one more on the count.
        def recorded(seen: int = start) -> bool:
            return sum(count for _, count in conflict_events(tier)) >= seen

        wait_until(recorded, 30, f"start {start}: the conflict recorded", every=0.5)
        run.stop()
    events = conflict_events(tier)
    assert len(events) == 1, f"one Event per conflict, not per start: {events}"
    assert events[0][1] == 5, events


def conflict_events(tier: Tier) -> list[tuple[str, int]]:
    """(object name, count) of each Conflict Event in the apps namespace."""
    out = tier.plane.kubectl(
        "get",
        "events",
        "-n",
        APPS,
        "--field-selector=reason=Conflict",
        "-o",
        "jsonpath={range .items[*]}{.involvedObject.name} {.count}{'\\n'}{end}",
    ).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return [(row[0], int(row[1]) if len(row) > 1 and row[1].isdigit() else 1) for row in rows]
