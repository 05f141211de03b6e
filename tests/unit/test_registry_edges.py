"""Ownership reading at its edges (issue #10, item 11): the cases ``make mutation`` found
unguarded in :mod:`dnssync.registry`.

external-dns's apex ownership name outside the zone is read from the nearby zones
only for the apex record; ``claims_at`` claims are never legacy; the names
``records_of`` maps back are only those the formulas produce (an apex name is
the zone's, not a record with an empty label); a name that is not of this
registry's form maps to nothing; a typed name is recognised even when
another type's apex name would be too long.

Of the 207 mutants of the functions in the run below, 199 are killed (151 of
the 188 the old selection judged before the run was cut, without
``test_plan_apex.py`` and this module); the 8 left alive are equivalent:

* ``outside = ... if (nearby) or True else None`` in ``claims``: the name is
  then only computed, never read without nearby zones, and it cannot raise
  where ``_claim_names`` (called first) did not;
* ``type_.lower()`` in ``external_txt_name``: ``_map`` lower-cases the type;
* ``if len(self._decoded) > _CACHE_LIMIT`` for ``>=``: the memo's bound,
  one entry later, changes no answer;
* ``not zone and not in_zone(...)`` in ``is_registry_name`` and the ``and``/``or``
  swaps of ``records_of``'s first check: ``in_zone`` is False for the root
  zone, every name the formulas give lies inside the zone, and
  ``_checked`` refuses every ownership name under an ACME label, so the
  early return only saves work;
* ``_claim_names(n, zone, "a")`` / ``"XXAXX"`` for the legacy lookup: the
  type is upper-cased, and the legacy name depends on it only for AAAA and
  TXT.

Run: ``nice -n 15 python -m tools.mutation dnssync/registry.py
tests/unit/test_registry.py tests/unit/test_plan.py
tests/unit/test_extdns_oracle.py tests/unit/test_plan_apex.py
tests/unit/test_registry_edges.py --workers 1 --only 'ǁclaims' --only
'ǁeffective' --only external_txt_name --only is_registry_name --only
labels_of --only 'ǁowns' --only records_of --only 'ǁclaim_names'``.
"""

from __future__ import annotations

from dnssync.model import RecordKey, RRset, ZoneSnapshot
from dnssync.registry import Registry, RegistryOptions

ZONE = "example.com"
OURS = "heritage=external-dns,external-dns/owner=me,external-dns/resource=ingress/ns/web"


def _reg(prefix: str = "") -> Registry:
    return Registry(RegistryOptions("me", prefix))


def _snapshot(txts: dict[str, list[str]]) -> ZoneSnapshot:
    rrsets = {RecordKey(n, "TXT"): RRset.of(n, "TXT", 300, v) for n, v in txts.items()}
    return ZoneSnapshot(zone=ZONE, serial=1, rrsets=rrsets)


def test_the_apex_claim_outside_the_zone_is_read_from_the_nearby_zones() -> None:
    """external-dns's ``a-example.com`` (outside example.com) claims the apex A, from nearby."""
    outside = "a-example.com"
    nearby = {RecordKey(outside, "TXT"): RRset.of(outside, "TXT", 300, [OURS])}
    r = _reg()
    assert r.outside_apex_name(ZONE, "A", zone=ZONE) == outside
    (claim,) = r.claims(_snapshot({}), ZONE, "A", nearby)
    assert (claim.ownership.name, claim.owner, claim.legacy) == (outside, "me", False)
    assert r.claims(_snapshot({}), ZONE, "A") == []  # no nearby zones, nothing read there


def test_nearby_zones_do_not_add_claims_to_other_records() -> None:
    """For a record below the apex, the nearby zones add nothing to its own typed claim."""
    nearby = {RecordKey("a-example.com", "TXT"): RRset.of("a-example.com", "TXT", 300, [OURS])}
    r = _reg()
    claims = r.claims(_snapshot({"a-www.example.com": [OURS]}), "www.example.com", "A", nearby)
    assert [c.ownership.name for c in claims] == ["a-www.example.com"]


def test_claims_at_are_typed_claims() -> None:
    """Every claim ``claims_at`` finds is marked as typed (``legacy`` is False, not unset)."""
    (claim,) = _reg().claims_at(_snapshot({"a-www.example.com": [OURS]}), "a-www.example.com")
    assert claim.legacy is False and claim.owner == "me"


def test_an_apex_name_maps_back_to_the_zone_only() -> None:
    """``a-.example.com`` is the apex A's name: not also a record with an empty first label."""
    assert _reg().records_of("a-.example.com", zone=ZONE) == ([(ZONE, "A")], None)


def test_a_name_outside_the_affix_maps_to_no_record() -> None:
    """With prefix ``p-`` a name without it is nobody's ownership name, typed or legacy."""
    r = _reg("p-")
    assert r.records_of("www.example.com", zone=ZONE) == ([], None)
    assert r.records_of("p-a-www.example.com", zone=ZONE) == ([("www.example.com", "A")], None)


def test_an_empty_type_is_never_a_typed_name() -> None:
    """With prefix ``%{record_type}-``, ``-x.example.com`` (no type) is not a registry name."""
    r = _reg("%{record_type}-")
    assert r.is_registry_name("a-x.example.com", zone=ZONE)
    assert not r.is_registry_name("-x.example.com", zone=ZONE)


def test_a_typed_name_is_found_past_an_apex_name_too_long_to_exist() -> None:
    """Near 253 octets ``aaaa-.<zone>`` is no valid name; ``a-w.<zone>`` is still ours to read."""
    zone = ".".join(["b" * 62, "c" * 62, "d" * 62, "e" * 60])
    assert len(zone) == 249
    assert _reg().is_registry_name(f"a-w.{zone}", zone=zone)
