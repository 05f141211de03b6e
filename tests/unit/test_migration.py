"""migrate_from_txt_owner: external-dns's migration cases as data, and dnssync's safety rule.

A record of the old owner is taken over only when its resource label names an object the
target reads now; the plan lists it in ``taken_over``, one change rewrites its TXT to our
owner, and the next plan is empty.
"""

from __future__ import annotations

import pytest

from dnssync.model import Endpoint, ObjectRef, Policy, RRset, ZoneSnapshot
from dnssync.plan import PlanOptions, plan
from dnssync.registry import Registry, RegistryOptions, format_labels
from tests.unit import zonesim
from tests.unit.extdns_cases import migration

WEB = ObjectRef("service", "web", "web")


def labels(owner: str, resource: str = "") -> str:
    return format_labels({"owner": owner, **({"resource": resource} if resource else {})})


def zone_with(case: migration.Migration, resource: str) -> ZoneSnapshot:
    zone = case.name.split(".", 1)[1]
    return zonesim.zone_of(
        zone,
        [
            RRset.of(case.name, case.type, 300, ("1.2.3.4",)),
            RRset.of(case.txt, "TXT", 300, (labels(case.current_owner, resource),)),
        ],
    )


def options(case: migration.Migration, live: frozenset[str]) -> PlanOptions:
    return PlanOptions(policy=Policy.SYNC, migrate_from_owner=case.old, live_resources=live)


@pytest.mark.parametrize("case", migration.CASES, ids=[c.upstream for c in migration.CASES])
def test_migration_rewrites_the_owner_of_a_live_resource(case: migration.Migration) -> None:
    """The old owner's TXT (resource live) is rewritten to ours at its name, as external-dns."""
    reg = Registry(RegistryOptions(case.owner, prefix=case.prefix))
    zone = zone_with(case, WEB.resource)
    desired = [Endpoint(case.name, case.type, ("1.2.3.4",), WEB)]
    p = plan(desired, zone, reg, options(case, frozenset({WEB.resource})))
    assert [o.rrset.name for o in p.taken_over] == [case.name]
    after = zonesim.apply(zone, p.changes)
    txt = after.get(case.txt, "TXT")
    assert txt is not None and txt.values == (labels(case.after, WEB.resource),)
    again = plan(desired, after, reg, options(case, frozenset({WEB.resource})))
    assert again.changes == () and again.taken_over == ()


@pytest.mark.parametrize("case", migration.CASES, ids=[c.upstream for c in migration.CASES])
def test_migration_leaves_a_record_without_a_live_resource(case: migration.Migration) -> None:
    """No resource label, or one naming no object read now: the record stays the old owner's."""
    reg = Registry(RegistryOptions(case.owner, prefix=case.prefix))
    desired = [Endpoint(case.name, case.type, ("1.2.3.5",), WEB)]
    for resource in (case.resource, "service/gone/x"):
        zone = zone_with(case, resource)
        p = plan(desired, zone, reg, options(case, frozenset({WEB.resource})))
        assert p.changes == () and p.taken_over == ()
        shown = resource or "none"
        assert [s.reason for s in p.skipped] == [
            f"owned by {case.old!r} (not taken over: its resource {shown} is not among the "
            "target's objects)"
        ]


def test_a_record_already_ours_is_not_rewritten_while_migrating() -> None:
    """TestRecordOwnerIdMigration: external-dns re-writes it every pass; dnssync plans nothing."""
    _, owner, old, name = migration.ALREADY_OURS
    reg = Registry(RegistryOptions(owner))
    zone = zonesim.zone_of(
        "example.com",
        [
            RRset.of(name, "A", 300, ("1.2.3.4",)),
            RRset.of(f"a-{name}", "TXT", 300, (labels(owner, WEB.resource),)),
        ],
    )
    desired = [Endpoint(name, "A", ("1.2.3.4",), WEB)]
    opts = PlanOptions(migrate_from_owner=old, live_resources=frozenset({WEB.resource}))
    assert plan(desired, zone, reg, opts).changes == ()


def test_create_only_names_the_pending_takeover() -> None:
    """Under create-only the takeover needs an update: skipped, saying so."""
    case = migration.CASES[0]
    reg = Registry(RegistryOptions(case.owner))
    zone = zone_with(case, WEB.resource)
    desired = [Endpoint(case.name, case.type, ("1.2.3.4",), WEB)]
    opts = PlanOptions(
        policy=Policy.CREATE_ONLY,
        migrate_from_owner=case.old,
        live_resources=frozenset({WEB.resource}),
    )
    p = plan(desired, zone, reg, opts)
    assert p.changes == ()
    assert [s.reason for s in p.skipped] == [
        f"is owner {case.old!r}'s, to be taken over, but the policy is create-only"
    ]


def test_without_the_option_the_old_owner_is_just_another_owner() -> None:
    """No migrate_from_owner: the old owner's record is skipped as another owner's."""
    case = migration.CASES[0]
    reg = Registry(RegistryOptions(case.owner))
    desired = [Endpoint(case.name, case.type, ("1.2.3.5",), WEB)]
    p = plan(desired, zone_with(case, WEB.resource), reg, PlanOptions(policy=Policy.SYNC))
    assert [s.reason for s in p.skipped] == [f"owned by {case.old!r}"]
