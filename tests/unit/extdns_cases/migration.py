"""registry/txt/registry_test.go and plan/plan_test.go: --migrate-from-txt-owner.

A case is (upstream, prefix, owner id, old owner id, record name, type, the owner its TXT
names now, the resource label it carries ("" for none), expected TXT name, expected owner
afterwards).  external-dns takes over every record of the old owner; dnssync only those
whose resource is among the objects it reads (README, "Differences on purpose"), so each
case is run with the resource live, and the ones without a resource label also without.
"""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    upstream: str
    prefix: str
    owner: str
    old: str
    name: str
    type: str
    current_owner: str
    resource: str
    txt: str
    after: str  # the owner the TXT names once external-dns has run


CASES: tuple[Migration, ...] = (
    Migration(
        "TestGenerateTXTWithMigration",
        "",
        "foobar",
        "owner",
        "foo.test-zone.example.org",
        "A",
        "owner",
        "",
        "a-foo.test-zone.example.org",
        "foobar",
    ),
    Migration(
        "TestTXTRecordMigration",
        "%{record_type}-",
        "foobar",
        "foo",
        "bar.test-zone.example.org",
        "A",
        "foo",
        "",
        "a-bar.test-zone.example.org",
        "foobar",
    ),
)

#: PlanTestSuite.TestRecordOwnerIdMigration: a record already ours (owner "bar") is
#: updated by external-dns whenever --migrate-from-txt-owner ("foo") is set, every pass
#: (its current owner differs from the old one).  dnssync plans nothing for it: a
#: difference on purpose (README, "Differences on purpose": no churn while migrating).
ALREADY_OURS = ("PlanTestSuite.TestRecordOwnerIdMigration", "bar", "foo", "foo.example.com")
