"""State files and stored zone snapshots: whole and verified, or not used."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnssync import statefile
from dnssync.dns import wire
from dnssync.dns.zones import SnapshotStore, _State

IDENTITY = ["127.0.0.1:53", "key", "example.test"]


def sample_state() -> _State:
    return _State.of(
        wire.Record(name, rdtype, 300, value)
        for name, rdtype, value in [
            ("www.example.test", wire.A, "192.0.2.1"),
            ("www.example.test", wire.A, "192.0.2.2"),
            ("a-www.example.test", wire.TXT, "heritage=external-dns,external-dns/owner=x"),
            ("mx.example.test", 15, None),  # another type: only its name is kept
        ]
    )


def test_round_trip(tmp_path: Path) -> None:
    """What is written is read back equal, with mode 0600 and no temporary file left."""
    path = tmp_path / "deep" / "f.json"
    statefile.write(path, {"a": [1, "é"]}, "thing")
    assert statefile.read(path, "thing") == {"a": [1, "é"]}
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["f.json"]


def test_missing_file_is_none_without_a_word(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No file yet is the normal first run: None, nothing logged."""
    assert statefile.read(tmp_path / "none.json", "thing") is None
    assert not caplog.records


@given(cut=st.integers(min_value=0, max_value=200), flip=st.integers(min_value=0, max_value=400))
def test_any_damage_is_detected(
    tmp_path_factory: pytest.TempPathFactory, cut: int, flip: int
) -> None:
    """A file cut short anywhere or with any byte changed reads as None (and is logged)."""
    path = tmp_path_factory.mktemp("s") / "f.json"
    statefile.write(path, {"values": list(range(40))}, "thing")
    good = path.read_bytes()
    damaged = bytearray(good)
    if cut < len(good):
        del damaged[cut:]
    else:
        damaged[flip % len(good)] ^= 0x20
    path.write_bytes(bytes(damaged))
    assert statefile.read(path, "thing") is None


def test_damage_is_one_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A damaged file is one warning naming the file."""
    path = tmp_path / "f.json"
    path.write_bytes(b"dnssync-state 1 0000\n{}")
    with caplog.at_level(logging.WARNING):
        assert statefile.read(path, "zone snapshot") is None
    assert [r.getMessage() for r in caplog.records] == [
        f"state: zone snapshot {path} is damaged; starting afresh"
    ]


def test_a_sound_file_of_json_nested_too_deeply_is_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Checksummed JSON that nests past the parser's depth reads as None, never a traceback."""
    path = tmp_path / "f.json"
    body = b"[" * 100_000
    path.write_bytes(statefile._MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    with caplog.at_level(logging.WARNING):
        assert statefile.read(path, "zone snapshot") is None
    assert [r.getMessage() for r in caplog.records] == [
        f"state: zone snapshot {path} is damaged; starting afresh"
    ]


def test_a_failed_write_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A state directory that cannot be created costs a log line, never the run."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    statefile.write(blocker / "sub" / "f.json", {"a": 1}, "thing")
    assert "cannot write thing" in caplog.text


def test_store_round_trip(tmp_path: Path) -> None:
    """A stored state comes back with its serial and the same snapshot."""
    store = SnapshotStore(tmp_path)
    state = sample_state()
    store.save(IDENTITY, 42, state)
    found = store.load(IDENTITY)
    assert found is not None
    serial, back = found
    assert serial == 42
    assert back.snapshot("example.test", 42) == state.snapshot("example.test", 42)
    assert back.others == state.others


def test_store_refuses_another_identity(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A file of another server, key or zone under this one's name is not used."""
    store = SnapshotStore(tmp_path)
    store.save(IDENTITY, 1, sample_state())
    other = ["127.0.0.1:53", "key", "other.test"]
    store._path(IDENTITY).rename(store._path(other))
    assert store.load(other) is None
    assert "written for another server, zone or format" in caplog.text


@pytest.mark.parametrize(
    "state",
    [
        {"sets": [["a.example.test", "HINFO", 300, ["x"]]], "others": []},
        {"sets": [["a.example.test", "A", "300", ["192.0.2.1"]]], "others": []},
        {"sets": [["a.example.test", "A", 300, []]], "others": []},
        {"sets": [["a.example.test", "A", 300]], "others": []},
        {"sets": [], "others": [["a", 0]]},
        {"sets": []},
        [],
    ],
)
def test_store_refuses_a_bad_shape(tmp_path: Path, state: object) -> None:
    """A well-formed file whose content is not a state we write is not used."""
    store = SnapshotStore(tmp_path)
    value = {"format": 1, "identity": IDENTITY, "serial": 1, "state": state}
    statefile.write(store._path(IDENTITY), value, "zone snapshot")
    assert store.load(IDENTITY) is None


def test_discard(tmp_path: Path) -> None:
    """A discarded snapshot is gone (and discarding twice is fine)."""
    store = SnapshotStore(tmp_path)
    store.save(IDENTITY, 1, sample_state())
    store.discard(IDENTITY)
    store.discard(IDENTITY)
    assert store.load(IDENTITY) is None


@pytest.mark.parametrize("cuts", [['{"a":[1,"é"]}'], ['{"a"', ":[1,", "", '"é"]}']])
def test_a_body_written_in_pieces_reads_back_whole(tmp_path: Path, cuts: list[str]) -> None:
    """write_chunks checksums what it streams: the file reads back as write() would write it."""
    path = tmp_path / "f.json"
    statefile.write_chunks(path, cuts, "thing")
    assert statefile.read(path, "thing") == {"a": [1, "é"]}
    body = "".join(cuts).encode()
    assert path.read_bytes() == b"dnssync-state 1 " + hashlib.sha256(body).hexdigest().encode() + (
        b"\n" + body
    )
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_failing_body_leaves_no_file(tmp_path: Path) -> None:
    """A body that fails half-way raises, and leaves neither the file nor a temporary one."""

    def chunks() -> Iterator[str]:
        yield '{"a":'
        raise ValueError("not JSON")

    with pytest.raises(ValueError, match="not JSON"):
        statefile.write_chunks(tmp_path / "f.json", chunks(), "thing")
    assert list(tmp_path.iterdir()) == []
