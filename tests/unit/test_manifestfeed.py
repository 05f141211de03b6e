"""The manifests feed: per-file reloads equal a whole load; real inotify events drive it.

The property test replays random edits of a real tree (Services, Gateways and
the routes that look them up in other files, duplicates, broken YAML,
undecodable files, hidden files, links, directories added, moved and removed)
and tells the feed only the paths inotify would name; after each step the
feed's result must equal a fresh ``load_manifests`` of the tree.  The other
tests run the real watch (inotify through watchfiles) with the safety check
too far away to help, so only file events can make them pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnssync.errors import ConfigError
from dnssync.sources.convert import SourceOptions
from dnssync.sources.manifestfeed import ManifestFeed
from dnssync.sources.manifests import (
    _DOC_START,
    FileReader,
    Loaded,
    ManifestResult,
    Pieces,
    _doc_starts,
    load_manifests,
)
from tests.unit.gateway_cases import PREFIX, gateway, listener, namespace, parent, route

OPTIONS = SourceOptions(annotation_prefix=PREFIX, default_targets=("192.0.2.1",))
FILES = (
    "a.yaml",
    "b.yml",
    "sub/c.yaml",
    "sub/deep/d.YAML",
    "other/e.yaml",
    ".hidden.yaml",
    "f.txt",
)
DIRS = ("sub", "sub/deep", "other")
SELECTED = {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"dns": "on"}}}}


def document(kind: int, i: int) -> str:
    """One document of a small pool, so that names collide across files."""
    if kind == 5:  # a Service no other document names: its edits touch nothing else
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": f"u{i}",
                    "namespace": "web",
                    "annotations": {f"{PREFIX}hostname": f"u{i % 7}.example.org"},
                },
            }
        )
    i %= 6
    if kind == 0:
        svc = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": f"s{i % 3}",
                "namespace": "web",
                "annotations": {f"{PREFIX}hostname": f"s{i}.example.org"},
            },
        }
        return yaml.safe_dump(svc)
    if kind == 1:
        gw = gateway("infra", f"g{i % 2}", [listener(hostname="*.example.org", allowed=SELECTED)])
        gw["metadata"]["annotations"] = {f"{PREFIX}target": f"192.0.2.{10 + i}"}
        del gw["status"]
        return yaml.safe_dump(gw)
    if kind == 2:
        r = route(
            "web", f"r{i % 3}", hostnames=[f"r{i}.example.org"], parents=[parent("infra", "g0")]
        )
        del r["status"]
        return yaml.safe_dump(r)
    if kind == 3:
        return yaml.safe_dump(namespace("web", {"dns": "on"} if i % 2 else {}))
    return f"kind: Service\nmetadata: [unclosed {i}\n"


documents = st.lists(
    st.tuples(st.sampled_from((0, 1, 2, 3, 4, 5, 5, 5, 5)), st.integers(0, 60)), max_size=4
)
#: Edits of Services no other file names: the feed's quiet path (no whole combine).
quiet = st.lists(st.tuples(st.just(5), st.integers(0, 60)), min_size=1, max_size=3)
steps = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(FILES), documents),
    st.tuples(st.just("write"), st.sampled_from(FILES[:3]), quiet),
    st.tuples(st.just("atomic"), st.sampled_from(FILES[:3]), quiet),
    st.tuples(st.just("atomic"), st.sampled_from(FILES), documents),
    st.tuples(st.just("garble"), st.sampled_from(FILES), st.just([])),
    st.tuples(st.just("delete"), st.sampled_from(FILES), st.just([])),
    st.tuples(st.just("rename"), st.sampled_from(FILES), st.sampled_from(FILES)),
    st.tuples(st.just("rmtree"), st.sampled_from(DIRS), st.just([])),
    st.tuples(st.just("movedir"), st.sampled_from(DIRS), st.sampled_from(("moved", "sub2"))),
    st.tuples(st.just("link"), st.sampled_from(FILES), st.sampled_from(("a.yaml", "sub"))),
)


def _new_dirs(root: Path, file: Path) -> list[Path]:
    """The directories writing ``file`` creates, topmost first."""
    out = []
    for parent_dir in reversed(file.relative_to(root).parents):
        if parent_dir != Path(".") and not (root / parent_dir).exists():
            out.append(root / parent_dir)
    return out


def apply(root: Path, step: tuple[str, str, Any]) -> set[Path]:
    """Do one step to the tree; the paths inotify would name (the least it may name)."""
    action, name, arg = step
    path = root / name
    if action in ("write", "atomic", "garble", "link"):
        created = _new_dirs(root, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if (path.is_dir() and not path.is_symlink()) or (path.is_symlink() and action != "atomic"):
            return set()  # a write through a link is named by inotify as its target
        if action == "link":
            if path.exists() or path.is_symlink():
                return set()
            path.symlink_to(root / arg)
        elif action == "garble":
            path.write_bytes(b"kind: Service\n\xff\xfe\n")
        else:
            text = "---\n".join(document(k, i) for k, i in arg)
            if action == "atomic":
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_text(text)
                os.replace(tmp, path)
            else:
                path.write_text(text)
        # In a directory just made, the file's own event may come before the watch.
        return {created[0]} if created else {path}
    if action == "delete":
        if path.is_dir() and not path.is_symlink():
            return set()
        path.unlink(missing_ok=True)
        return {path}
    if action == "rename":
        other = root / arg
        if not (path.exists() or path.is_symlink()) or other.is_dir() or path.is_dir():
            return set()
        created = _new_dirs(root, other)
        other.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, other)
        return {path, created[0] if created else other}
    if action == "rmtree":
        if path.is_symlink() or not path.is_dir():
            return set()
        shutil.rmtree(path)
        return {path}
    other = root / arg
    if path.is_symlink() or not path.is_dir() or other.exists():
        return set()
    os.replace(path, other)
    return {path, other}


def normal(result: ManifestResult) -> tuple[Any, ...]:
    return (
        result.endpoints,
        [(type(e).__name__, e.message, e.where) for e in result.errors],
        result.objects,
    )


def fresh(root: Path) -> tuple[Any, ...]:
    try:
        return normal(load_manifests(root, OPTIONS))
    except ConfigError as e:
        return ((), [("InvalidInput", str(e), str(root))], 0)


def tell(feed: ManifestFeed, paths: set[Path]) -> None:
    """Hand the feed these paths as a batch of file events, and let it reload (blocking)."""
    feed._prefixes = {os.path.abspath(feed.path)}
    feed._take({(2, os.path.abspath(p)) for p in paths}, True)
    dirty, feed._pending = feed._pending, set()
    tree = feed._refresh(dirty, whole=False)
    if tree is not None:
        feed._install(tree)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, min_size=1, max_size=12))
def test_per_file_reloads_equal_a_whole_load(plan: list[tuple[str, str, Any]]) -> None:
    """After every step, re-reading only the paths events name gives what a fresh load gives."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "m")
        root.mkdir()
        feed = ManifestFeed(root, OPTIONS)
        for step in plan:
            before = set(feed.result().endpoints)
            feed.take_names()
            tell(feed, apply(root, step))
            assert normal(feed.result()) == fresh(root), step
            after = feed.result().endpoints
            assert {e.name for e in before.symmetric_difference(after)} <= feed.take_names()
            for name in {e.name for e in after}:
                assert feed.at([name]) == [e for e in after if e.name == name]
            assert not feed.wants("nothing.example.org")
        assert not feed.reload()  # a whole check finds nothing the events missed


def test_the_names_moved_are_those_whose_endpoints_changed(tmp_path: Path) -> None:
    """A route's Gateway moving to another file and changing its address moves the route's name."""
    (tmp_path / "gw.yaml").write_text(document(1, 0) + "---\n" + document(3, 1))
    (tmp_path / "routes.yaml").write_text(document(2, 4) + "---\n" + document(0, 1))
    feed = ManifestFeed(tmp_path, OPTIONS)
    assert [e.targets for e in feed.at(["r4.example.org"])] == [("192.0.2.10",)]
    feed.take_names()
    (tmp_path / "gw.yaml").unlink()
    (tmp_path / "z.yaml").write_text(document(1, 2) + "---\n" + document(3, 1))
    tell(feed, {tmp_path / "gw.yaml", tmp_path / "z.yaml"})
    assert feed.take_names() == {"r4.example.org"}
    assert [e.targets for e in feed.at(["r4.example.org"])] == [("192.0.2.12",)]


def service(i: int, ip: str = "192.0.2.1") -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": f"s{i}",
                "namespace": "web",
                "annotations": {f"{PREFIX}hostname": f"s{i}.example.org", f"{PREFIX}target": ip},
            },
        }
    )


def targets(feed: ManifestFeed, name: str) -> list[tuple[str, ...]]:
    return [e.targets for e in feed.at([name])]


async def until(check: Callable[[], bool], feed: ManifestFeed, within: float = 5.0) -> None:
    """Let the feed run (wait()) until ``check`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "not seen in time"
        await feed.wait(0.05)


async def watched(root: Path, **kw: Any) -> ManifestFeed:
    """A feed watching ``root`` whose safety check is an hour away: only events count."""
    feed = ManifestFeed(root, OPTIONS, watch=True, poll=kw.pop("poll", 3600.0), **kw)
    await feed.wait(0.2)  # starts the watch
    return feed


async def test_an_edit_among_many_files_parses_that_file_only(tmp_path: Path) -> None:
    """With 50 files watched, editing one is seen and parses exactly one file."""
    for i in range(50):
        (tmp_path / f"s{i}.yaml").write_text(service(i))
    feed = await watched(tmp_path)
    try:
        assert feed.watching and feed.parsed == 50
        (tmp_path / "s7.yaml").write_text(service(7, "192.0.2.77"))
        assert await feed.wait(5)
        assert targets(feed, "s7.example.org") == [("192.0.2.77",)]
        assert feed.parsed == 51
        assert normal(feed.result()) == fresh(tmp_path)
        (tmp_path / "s8.yaml").touch()  # same text: read, not parsed
        await feed.wait(0.3)
        assert feed.parsed == 51
    finally:
        await feed.close()


async def test_an_editors_atomic_save_is_seen(tmp_path: Path) -> None:
    """A save that writes a hidden temporary file and renames it over the original is seen."""
    (tmp_path / "web.yaml").write_text(service(1))
    feed = await watched(tmp_path)
    try:
        tmp = tmp_path / ".web.yaml.swp"
        tmp.write_text(service(1, "192.0.2.11"))
        os.replace(tmp, tmp_path / "web.yaml")
        await until(lambda: targets(feed, "s1.example.org") == [("192.0.2.11",)], feed)
        assert feed.parsed == 2
    finally:
        await feed.close()


async def test_a_burst_of_writes_is_few_reloads(tmp_path: Path) -> None:
    """200 files written at once (a git pull) reach the feed in a handful of reloads."""
    feed = await watched(tmp_path)
    try:
        version = feed.version

        def pull() -> None:
            for i in range(200):
                (tmp_path / f"s{i}.yaml").write_text(service(i))

        await asyncio.to_thread(pull)
        await until(lambda: len(feed.endpoints()) == 200, feed)
        assert feed.version - version <= 20
        assert normal(feed.result()) == fresh(tmp_path)
    finally:
        await feed.close()


async def test_an_unreadable_file_is_an_error_naming_it(tmp_path: Path) -> None:
    """A file that stops decoding is an input error naming it (deletes held); the others stay."""
    (tmp_path / "a.yaml").write_text(service(1))
    (tmp_path / "b.yaml").write_text(service(2))
    feed = await watched(tmp_path)
    try:
        (tmp_path / "b.yaml").write_bytes(b"\xff\xfe broken")
        await until(lambda: bool(feed.errors()), feed)
        [error] = feed.errors()
        assert error.where == str(tmp_path / "b.yaml") and "can't be read" in error.message
        assert error.partial  # a pass with it deletes nothing
        assert targets(feed, "s1.example.org") == [("192.0.2.1",)]
        (tmp_path / "b.yaml").write_text(service(2))
        await until(lambda: not feed.errors() and len(feed.endpoints()) == 2, feed)
    finally:
        await feed.close()


async def test_a_directory_removed_and_made_again_is_watched_again(tmp_path: Path) -> None:
    """The whole tree deleted is an input error (nothing deleted); made again, it is watched."""
    root = tmp_path / "m"
    (root / "apps").mkdir(parents=True)
    (root / "apps" / "a.yaml").write_text(service(1))
    feed = await watched(root, rescan=3600.0, poll=0.05)
    try:
        assert feed.watching
        shutil.rmtree(root)
        await until(lambda: bool(feed.errors()) and not feed.endpoints(), feed)
        (root / "apps").mkdir(parents=True)
        (root / "apps" / "a.yaml").write_text(service(1, "192.0.2.5"))
        await until(lambda: targets(feed, "s1.example.org") == [("192.0.2.5",)], feed)
        await until(lambda: feed.watching, feed)
        (root / "apps" / "b.yaml").write_text(service(2))
        await until(lambda: len(feed.endpoints()) == 2, feed)
        assert not feed.errors()
    finally:
        await feed.close()


async def test_a_path_missing_at_start_is_watched_once_it_appears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Not there: polled, one log line saying so; once made, watched (edits seen by events)."""
    root = tmp_path / "later"
    with caplog.at_level(logging.INFO, logger="dnssync.sources.manifestfeed"):
        feed = await watched(root, rescan=3600.0, poll=0.05)
        try:
            assert not feed.watching and feed.errors()
            await feed.wait(0.3)  # several polls: still one line
            root.mkdir()
            (root / "a.yaml").write_text(service(1))
            await until(lambda: feed.watching and len(feed.endpoints()) == 1, feed)
            (root / "a.yaml").write_text(service(1, "192.0.2.9"))
            await until(lambda: targets(feed, "s1.example.org") == [("192.0.2.9",)], feed)
        finally:
            await feed.close()
    lines = [r.getMessage() for r in caplog.records]
    assert sum("is not there" in line for line in lines) == 1, lines
    assert sum("watched (inotify)" in line for line in lines) == 1, lines


async def test_polling_only_when_watching_is_off(tmp_path: Path) -> None:
    """``manifests_watch: false`` (an NFS mount): no watch, the poll alone sees the edit."""
    (tmp_path / "a.yaml").write_text(service(1))
    feed = ManifestFeed(tmp_path, OPTIONS, watch=False, poll=0.05)
    (tmp_path / "a.yaml").write_text(service(1, "192.0.2.3") + "\n")
    assert await asyncio.wait_for(feed.wait(5), 10)
    assert targets(feed, "s1.example.org") == [("192.0.2.3",)]
    assert not feed.watching and feed._watcher is None


async def test_one_file_is_watched_through_its_directory(tmp_path: Path) -> None:
    """A manifests path that is one file survives its atomic replacement."""
    file = tmp_path / "all.yaml"
    file.write_text(service(1))
    (tmp_path / "other.yaml").write_text(service(2))
    feed = await watched(file)
    try:
        assert feed.watching
        tmp = tmp_path / "all.yaml.new"
        tmp.write_text(service(1, "192.0.2.8"))
        os.replace(tmp, file)
        await until(lambda: targets(feed, "s1.example.org") == [("192.0.2.8",)], feed)
        file.write_text(service(1, "192.0.2.9"))
        await until(lambda: targets(feed, "s1.example.org") == [("192.0.2.9",)], feed)
        assert feed.wants("s2.example.org") is False
    finally:
        await feed.close()


@given(st.lists(st.sampled_from(["-", "\n", " ", "\t", "\r", "a", "---", "\n---"]), max_size=12))
def test_document_starts_are_found_as_the_pattern_finds_them(bits: list[str]) -> None:
    """The fast split of a big file at `---` lines agrees with the documented pattern."""
    text = "".join(bits)
    assert _doc_starts(text) == [m.start() for m in _DOC_START.finditer(text)]


async def test_a_link_swapped_to_another_tree_is_seen(tmp_path: Path) -> None:
    """git-sync's way (a new checkout, the link renamed over the old one, which stays):
    no event in the tree watched, yet the new tree is read and watched."""
    for rev, ip in (("rev1", "192.0.2.1"), ("rev2", "192.0.2.2")):
        (tmp_path / rev).mkdir()
        (tmp_path / rev / "a.yaml").write_text(service(1, ip))
    (tmp_path / "rev2" / "b.yaml").write_text(service(2))
    root = tmp_path / "repo"
    root.symlink_to(tmp_path / "rev1")
    feed = await watched(root, rescan=3600.0, poll=0.1)
    try:
        assert feed.watching
        (tmp_path / "repo.new").symlink_to(tmp_path / "rev2")
        os.replace(tmp_path / "repo.new", root)
        await until(lambda: len(feed.endpoints()) == 2, feed)
        assert targets(feed, "s1.example.org") == [("192.0.2.2",)]
        await until(lambda: feed.watching, feed)
        (tmp_path / "rev2" / "a.yaml").write_text(service(1, "192.0.2.3"))
        await until(lambda: targets(feed, "s1.example.org") == [("192.0.2.3",)], feed)
    finally:
        await feed.close()


TOKENS = [
    "---\n",
    "--- \n",
    "\n",
    "%YAML 1.1\n",
    "# c\n",
    "kind: Service\n",
    "metadata: {name: a}\n",
]
TOKENS += [document(k, i) for k in (0, 1, 2, 4, 5) for i in (1, 2)]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(TOKENS), max_size=12),
    st.integers(0, 12),
    st.integers(0, 3),
    st.lists(st.sampled_from(TOKENS), max_size=3),
)
def test_an_edit_of_a_big_file_parses_as_the_whole_file(
    tokens: list[str], at: int, cut: int, put: list[str]
) -> None:
    """Parsing only the pieces an edit touched gives what parsing the new text gives."""
    reader = FileReader(OPTIONS)
    old = "".join(tokens)
    pieces = Pieces()
    first = reader.parse_text(old, None, pieces)
    new = "".join([*tokens[:at], *put, *tokens[at + cut :]])
    edited = reader.parse_text(new, first, Pieces(pieces.kept))
    whole = reader.parse_text(new, None, Pieces())
    assert _comparable(edited.loaded) == _comparable(whole.loaded)
    assert edited.spans == whole.spans


def _comparable(loaded: Loaded) -> Any:
    """``loaded`` with each error as its class, text and place (exceptions compare by
    identity, and a parse makes its own)."""
    if isinstance(loaded, str):
        return loaded
    return [
        (
            None
            if piece is None
            else [
                [
                    (
                        dataclasses.replace(c, errors=()),
                        [(type(e), str(e), e.where) for e in c.errors],
                    )
                    for c in objects
                ]
                for objects in piece
            ],
            problem,
        )
        for piece, problem in loaded
    ]
