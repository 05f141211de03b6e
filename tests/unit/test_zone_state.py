"""A zone's verified state follows IXFR deltas exactly, and never changes a snapshot handed out."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from dnssync.dns import wire
from dnssync.dns.zones import _State
from dnssync.model import RecordKey

NAMES = ["a.z", "b.z", "c.z"]
A_VALUES = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]

records = st.one_of(
    st.builds(
        lambda n, v, t: wire.Record(n, wire.A, t, v),
        st.sampled_from(NAMES),
        st.sampled_from(A_VALUES),
        st.sampled_from([60, 300]),
    ),
    st.builds(
        lambda n, v: wire.Record(n, wire.TXT, 300, v),
        st.sampled_from(NAMES),
        st.sampled_from(["x", "y"]),
    ),
    # Types that are not kept only count against their name.
    st.builds(lambda n: wire.Record(n, 15, 300, None), st.sampled_from(NAMES)),
)
deltas = st.lists(
    st.tuples(st.lists(records, max_size=4), st.lists(records, max_size=4)), max_size=4
)


class Model:
    """The obvious reading of RFC 1995: each record deleted, then added, in order."""

    def __init__(self, recs: list[wire.Record]) -> None:
        self.sets: dict[RecordKey, set[str]] = {}
        self.ttls: dict[RecordKey, int] = {}
        self.others: Counter[str] = Counter()
        for rec in recs:
            self.apply(rec, adding=True)

    def apply(self, rec: wire.Record, *, adding: bool) -> None:
        if rec.value is None:
            if adding:
                self.others[rec.name] += 1
            elif self.others[rec.name] > 1:
                self.others[rec.name] -= 1
            else:
                self.others.pop(rec.name, None)
            return
        key = RecordKey(rec.name, "A" if rec.rdtype == wire.A else "TXT")
        if adding:
            self.sets.setdefault(key, set()).add(rec.value)
            self.ttls[key] = rec.ttl
        elif key in self.sets:
            self.sets[key].discard(rec.value)
            if not self.sets[key]:
                del self.sets[key]
                del self.ttls[key]

    def rrsets(self) -> dict[RecordKey, tuple[int, tuple[str, ...]]]:
        return {k: (self.ttls[k], tuple(sorted(v))) for k, v in self.sets.items()}


def view(state: _State) -> dict[RecordKey, tuple[int, tuple[str, ...]]]:
    return {k: (r.ttl, r.values) for k, r in state.rrsets.items()}


@given(start=st.lists(records, max_size=8), steps=deltas)
def test_deltas_move_the_state_as_applied_one_by_one(
    start: list[wire.Record], steps: list[tuple[list[wire.Record], list[wire.Record]]]
) -> None:
    """Record sets, TTLs, other names and the touched names equal the record-by-record model."""
    state = _State.of(start)
    model = Model(start)
    assert view(state) == model.rrsets() and state.others == model.others
    before = dict(state.rrsets), Counter(state.others)
    moved = state.moved(steps)
    for deleted, added in steps:
        for rec in deleted:
            model.apply(rec, adding=False)
        for rec in added:
            model.apply(rec, adding=True)
    assert view(moved.state) == model.rrsets()
    assert moved.state.others == model.others
    assert moved.names == {r.name for d, a in steps for r in (*d, *a)}
    assert moved.others == any(r.value is None for d, a in steps for r in (*d, *a))
    # The state before (and every snapshot cut from it) is as it was.
    assert (state.rrsets, state.others) == before


@given(start=st.lists(records, max_size=8))
def test_a_stored_state_reads_back_equal(start: list[wire.Record]) -> None:
    """to_json and from_json round-trip any state."""
    state = _State.of(start)
    back = _State.from_json(json.loads("".join(state.to_json())))
    assert back.rrsets == state.rrsets and back.others == state.others


def test_many_values_at_one_name_move_like_a_few() -> None:
    """Past the small-tuple size the touched set is a set; the result is the same."""
    values = [f"192.0.2.{i}" for i in range(40)]
    adds = [wire.Record("a.z", wire.A, 300, v) for v in values]
    state = _State.of(adds[:5])
    moved = state.moved([([], adds), (adds[10:30], [adds[12]])])
    model = Model(adds[:5])
    for rec in adds:
        model.apply(rec, adding=True)
    for rec in adds[10:30]:
        model.apply(rec, adding=False)
    model.apply(adds[12], adding=True)
    assert view(moved.state) == model.rrsets()
    assert len(moved.state.rrsets[RecordKey("a.z", "A")].values) == 21


def test_deleting_from_a_large_set_already_held() -> None:
    """Values deleted from a stored set past the small-tuple size are gone, the rest stay."""
    adds = [wire.Record("a.z", wire.A, 300, f"192.0.2.{i}") for i in range(40)]
    moved = _State.of(adds).moved([(adds[:30], []), ([adds[35]], [adds[0]])])
    model = Model(adds)
    for rec in [*adds[:30], adds[35]]:
        model.apply(rec, adding=False)
    model.apply(adds[0], adding=True)
    assert view(moved.state) == model.rrsets()
