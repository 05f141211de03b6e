"""external-dns v0.22's TXT registry over zones of every record type, transcribed as data.

Each case names the upstream test it comes from (tests/unit/extdns_cases/txt_records.py).
"""

from __future__ import annotations

import pytest

from dnssync.model import RRset, ZoneSnapshot
from dnssync.registry import Registry, RegistryOptions
from tests.unit.extdns_cases import txt_records
from tests.unit.extdns_cases.txt_records import RecordsCase


def snapshot(case: RecordsCase) -> ZoneSnapshot:
    """Upstream's in-memory zone as dnssync's reader would hold it (names lower case,
    TXT values without the zone-file quotes upstream writes them with)."""
    sets: dict[tuple[str, str], list[str]] = {}
    for name, type_, value in case.zone:
        if type_ == "TXT" and value.startswith('"'):
            value = value.strip('"')
        sets.setdefault((name.lower(), type_), []).append(value)
    rrsets = [RRset.of(n, t, 300, v) for (n, t), v in sets.items()]
    zone = txt_records.ZONE
    return ZoneSnapshot(zone, 1, {r.key: r for r in rrsets}, frozenset({zone}))


def owner_of(registry: Registry, snap: ZoneSnapshot, name: str, type_: str) -> str:
    deciding = registry.effective(registry.claims(snap, name, type_))
    owners = {c.owner for c in deciding}
    assert len(owners) <= 1, owners
    return owners.pop() if owners else ""


@pytest.mark.parametrize("case", txt_records.RECORDS, ids=[c.upstream for c in txt_records.RECORDS])
def test_owners_of_every_record_type(case: RecordsCase) -> None:
    """Every record of the zone has the owner external-dns reports, affix in any case."""
    snap = snapshot(case)
    for prefix in case.prefixes:
        for suffix in case.suffixes:
            registry = Registry(RegistryOptions("owner", prefix, suffix, case.wildcard))
            got = tuple((n, t, owner_of(registry, snap, n, t)) for n, t, _ in case.owners)
            assert got == case.owners, (prefix, suffix)


@pytest.mark.parametrize(
    "case", txt_records.TYPED_NAMES, ids=[c[0] for c in txt_records.TYPED_NAMES]
)
def test_typed_ownership_name_per_type(case: tuple[str, str, str, str]) -> None:
    """Each type's ownership TXT is ``<type>-<name>``, the name external-dns writes."""
    _, name, type_, txt = case
    zone = "in-addr.arpa" if name.endswith(".arpa") else txt_records.ZONE
    registry = Registry(RegistryOptions("owner"))
    assert registry.txt_name(name, type_, zone=zone) == txt
    assert registry.parse_txt_name(txt) == (name, type_)
    assert txt != name, "a published TXT never shares its ownership record's name"
