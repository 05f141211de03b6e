"""A manifests directory as a live feed: a file edit re-reads that file only.

The service (``dnssync run`` with ``manifests``) keeps, per file, what it
converted to, and combines every file's part into the endpoint set with the
steps of a whole load (:class:`~dnssync.sources.manifests.FileReader`), so
duplicates across files, and routes whose Gateway is in another file, come out
exactly as :func:`~dnssync.sources.manifests.load_manifests` gives them.

* Watched: file events (inotify, through the ``watchfiles`` library, loaded
  here only) name the paths to read again; events a few ms apart are one
  reload (a ``git pull`` writes many files).  A directory added or removed
  reads or drops the files under it.  An event on the path itself (deleted,
  replaced) lists the whole tree again and watches it anew, and so does a
  link on the way swapped to another tree (git-sync), seen by a readlink
  every ``poll`` seconds.
* Polled: when it can't be watched (``reconcile.manifests_watch: false``, a
  watch limit, a file system without events) the tree's file list and stamps
  (time, size) are checked every ``poll`` seconds, one log line saying so; a
  path not there yet is polled until it appears, then watched.  While
  watched the same check runs every ``rescan`` seconds as a safety net
  (events can be lost: a full inotify queue); it reads only files whose
  stamps moved.
* Reads and parses run in a thread; their result is put in place on the
  event loop, so a pass never sees half of one.  The names whose endpoints
  moved are kept for the service, which plans a change at those names only.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from dnssync.errors import ConfigError, InvalidInput
from dnssync.model import Endpoint, ObjectRef
from dnssync.sources.convert import SourceOptions
from dnssync.sources.manifestcache import Piece
from dnssync.sources.manifests import (
    SUFFIXES,
    FileReader,
    Loaded,
    ManifestResult,
    Parsed,
    Pieces,
    manifest_files,
    read_text,
    unreadable,
)

log = logging.getLogger(__name__)

#: A file's modification time (ns) and size; _NO_STAMP when it can't be stat'ed.
Stamp = tuple[int, int]
_NO_STAMP: Final = (-1, -1)
#: Events are gathered until 10 ms pass without one, for 50 ms at most.  The
#: watching thread wakes every step (watchfiles polls its event queue): at 10 ms
#: that costs well under 1 % of a core while idle, at 5 ms over 1 %.
_STEP_MS: Final = 10
_DEBOUNCE_MS: Final = 50
#: How long a watch that has not failed is taken to have started.
_STARTED: Final = 0.05
#: While watched, the tree is still checked this often (events can be lost).
RESCAN: Final = 60.0


@dataclass(frozen=True, slots=True, eq=False)
class _File:
    """One file's part: what it converted to, and what it was read from."""

    stamp: Stamp
    digest: int  # of the text: an identical rewrite (a touch) parses nothing
    loaded: Loaded
    #: Its pieces by text: an edit of one document of a big file parses that one only.
    pieces: Mapping[str, Piece] = field(default_factory=dict)
    #: Its text as parsed: the next edit splits and looks up only the part it changed.
    text: Parsed | None = None


@dataclass(frozen=True, slots=True)
class _Tree:
    """Every file's part and what they combine to; replaced whole, never changed."""

    files: Mapping[str, _File]
    order: tuple[str, ...]  # as manifest_files sorts them
    result: ManifestResult
    #: Links with a manifest's name the walk meets (to files or directories): an
    #: edit of a link's target names the target only, so any event reads them
    #: again (a target outside the tree: the safety check sees it).
    links: frozenset[str] = frozenset()
    #: The path itself could not be listed: the next refresh lists it all.
    broken: bool = False
    #: From which result, and the endpoints gone and new (a quiet edit: see
    #: FileReader.update); None: compare the whole sets.
    delta: tuple[ManifestResult, list[Endpoint], list[Endpoint]] | None = None


class ManifestFeed:
    """A manifests directory (or file) as a live, per-file reloaded feed."""

    def __init__(
        self,
        path: Path,
        options: SourceOptions,
        *,
        poll: float = 5.0,
        watch: bool = False,
        rescan: float = RESCAN,
    ) -> None:
        self.path = path
        self.options = options
        self.poll = poll
        self.watch = watch
        self.rescan = max(rescan, poll)
        self._reader = FileReader(options)
        self._root = str(path)
        self._tree = _Tree({}, (), ManifestResult((), (), 0), broken=True)
        self._at: dict[str, list[Endpoint]] = {}
        self._names: set[str] = set()
        self.version = 0
        #: Files read and parsed since the start (an identical rewrite is not parsed).
        self.parsed = 0
        #: Watched now (else polled every ``poll`` seconds).
        self.watching = False
        self._said = ""  # the last thing logged about watching
        self._pending: set[str] = set()  # paths events named, not read since
        self._full = False  # a whole check is asked for (a watch just began)
        self._next_check: float | None = None
        self._wake = asyncio.Event()
        self._unreported = False  # installed since wait() last returned
        self._refreshing: asyncio.Future[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._prefixes: set[str] = set()  # the watched directory, as events may name it
        self._keys: dict[str, tuple[str, ...]] = {}  # each file's sort key, kept
        self.reload()

    # -- reading (any thread: these read self._tree and return a new one) --

    def _refresh(self, dirty: set[str], whole: bool) -> _Tree | None:
        """The tree after reading ``dirty`` (and every file whose stamp moved, when
        ``whole``); None when nothing changed."""
        old = self._tree
        links: set[str] = set()
        try:
            if whole or old.broken or self._root in dirty or not os.path.isdir(self._root):
                seen = self._scan(old, links)
            else:
                seen = self._probe(dirty, old, links)
        except ConfigError as e:
            # Not there yet (a git-sync still cloning) or unreadable: an input
            # error, so nothing is deleted, and the next check tries again.
            error = InvalidInput(str(e), where=self._root)
            if old.broken and [str(x) for x in old.result.errors] == [str(error)]:
                return None
            return _Tree({}, (), ManifestResult((), (error,), 0), broken=True)
        # A link's target may change with no event naming the link: read links again.
        return self._apply(old, seen, dirty | links, frozenset(links))

    def _scan(self, old: _Tree, links: set[str]) -> dict[str, Stamp | None]:
        """Every file now with its stamp, and every file gone (None)."""
        listed = manifest_files(self.path, links)
        seen: dict[str, Stamp | None] = {str(f): _stamp(f) for f in listed}
        seen.update((f, None) for f in old.files if f not in seen)
        return seen

    def _probe(self, dirty: Iterable[str], old: _Tree, links: set[str]) -> dict[str, Stamp | None]:
        """The files events named, as :func:`manifest_files` would see them now."""
        seen: dict[str, Stamp | None] = {}
        under: list[str] = []  # directories added, changed or gone
        alive: set[str] = set()  # files listed under those directories
        candidates = set(old.links)  # links may turn from file to directory and back
        for path in dirty:
            if not self._reachable(path):
                seen[path] = None
                under.append(path)
                continue
            if os.path.islink(path):
                candidates.add(path)
            if os.path.isdir(path):
                if not os.path.islink(path):  # the walk never follows a linked directory
                    listed = {str(f) for f in manifest_files(Path(path), candidates)}
                    alive |= listed
                    seen.update((f, _stamp(f)) for f in listed if f not in old.files)
                under.append(path)
            elif os.path.lexists(path) and path.lower().endswith(SUFFIXES):
                seen[path] = _stamp(path)
            else:
                seen[path] = None
                if path not in old.files:
                    under.append(path)  # maybe a directory that went
        if under:
            prefixes = tuple(d + os.sep for d in under)
            for f in old.files:
                if f.startswith(prefixes) and f not in alive:
                    seen[f] = None
        for link in candidates:
            if os.path.islink(link) and link.lower().endswith(SUFFIXES) and self._reachable(link):
                links.add(link)
                seen[link] = None if os.path.isdir(link) else _stamp(link)
        return seen

    def _reachable(self, path: str) -> bool:
        """Whether the walk from the root reaches ``path``: no linked or hidden directory
        on the way, and no hidden name."""
        rel = Path(path).relative_to(self.path).parts
        if not rel or any(p.startswith(".") for p in rel):
            return False
        parent = self.path
        for part in rel[:-1]:
            parent = parent / part
            if os.path.islink(parent) or not os.path.isdir(parent):
                return False
        return True

    def _apply(
        self,
        old: _Tree,
        seen: Mapping[str, Stamp | None],
        forced: set[str],
        links: frozenset[str],
    ) -> _Tree | None:
        """Read the files whose stamps moved (or ``forced``), and combine."""
        files = dict(old.files)
        moved = old.broken
        restamped = links != old.links
        edited: dict[str, Loaded] = {}  # files there before whose text changed
        for path, now in seen.items():
            before = files.get(path)
            if now is None:
                moved |= files.pop(path, None) is not None
                continue
            if before is not None and before.stamp == now and path not in forced:
                continue
            part = self._read(path, now, before)
            files[path] = part
            moved |= before is None or part.loaded is not before.loaded
            restamped |= part is not before
            if before is not None and part.loaded is not before.loaded:
                edited[path] = part.loaded
        if not moved:
            return _Tree(files, old.order, old.result, links) if restamped else None
        if files.keys() == old.files.keys() and not old.broken:
            delta = self._reader.update(edited, old.result)
            if delta is not None:
                return _Tree(files, old.order, delta[0], links, delta=(old.result, *delta[1:]))
            order = old.order
        else:
            keys = self._keys
            self._keys = {f: keys.get(f) or self._sort_key(f) for f in files}
            order = tuple(sorted(files, key=self._keys.__getitem__))
        result = self._reader.combine((f, files[f].loaded) for f in order)
        return _Tree(files, order, result, links)

    def _read(self, path: str, stamp: Stamp, before: _File | None) -> _File:
        """One file's part, parsed only when its text changed."""
        try:
            text = read_text(path)
        except (OSError, UnicodeDecodeError) as e:
            problem = unreadable(e)
            if before is not None and before.loaded == problem:
                return before
            return _File(stamp, 0, problem)
        digest = hash(text)
        if before is not None and before.digest == digest and not isinstance(before.loaded, str):
            if before.stamp == stamp:
                return before
            return _File(stamp, digest, before.loaded, before.pieces, before.text)
        self.parsed += 1  # one refresh at a time: never two threads at once
        pieces = Pieces(None if before is None else before.pieces)
        last = None if before is None else before.text
        parsed = self._reader.parse_text(text, last, pieces)
        return _File(stamp, digest, parsed.loaded, pieces.kept, parsed)

    def _sort_key(self, file: str) -> tuple[str, ...]:
        return Path(file).relative_to(self.path).parts

    # -- on the event loop --

    def _install(self, tree: _Tree) -> None:
        before = self._tree.result
        self._tree = tree
        if tree.result is before:
            return
        if tree.delta is not None and tree.delta[0] is before:
            self._moved(tree.result.endpoints, tree.delta[1], tree.delta[2])
            return
        # Endpoints of unchanged files and pieces are the very same objects: compare
        # identities (cheap), a rebuilt but equal one only costs planning its name.
        old = {id(e): e for e in before.endpoints}
        new = {id(e): e for e in tree.result.endpoints}
        self._names |= {e.name for i, e in new.items() if i not in old}
        self._names |= {e.name for i, e in old.items() if i not in new}
        at: dict[str, list[Endpoint]] = {}
        for e in tree.result.endpoints:
            at.setdefault(e.name, []).append(e)
        self._at = at
        self.version += 1

    def _moved(
        self, endpoints: tuple[Endpoint, ...], removed: list[Endpoint], added: list[Endpoint]
    ) -> None:
        """Names and lookups after a quiet edit: only the names it touched change."""
        names = {e.name for e in removed} | {e.name for e in added}
        self._names |= names
        for name in names:
            i = bisect.bisect_left(endpoints, name, key=_name)
            j = bisect.bisect_right(endpoints, name, key=_name)
            if i < j:
                self._at[name] = list(endpoints[i:j])
            else:
                self._at.pop(name, None)
        self.version += 1

    def reload(self) -> bool:
        """Check the whole tree now; True when anything changed (blocking: the CLI's)."""
        version = self.version
        tree = self._refresh(set(), whole=True)
        if tree is not None:
            self._install(tree)
        return self.version != version

    def take_names(self) -> set[str]:
        names, self._names = self._names, set()
        return names

    def wants(self, name: str) -> bool:
        return name in self._at

    def at(self, names: Iterable[str]) -> list[Endpoint]:
        return [e for n in set(names) for e in self._at.get(n, ())]

    def endpoints(self) -> list[Endpoint]:
        return list(self._tree.result.endpoints)

    def errors(self) -> list[InvalidInput]:
        return list(self._tree.result.errors)

    def result(self) -> ManifestResult:
        """What the files combine to now (what ``load_manifests`` would give)."""
        return self._tree.result

    def invalid(self) -> dict[str, list[InvalidInput]]:
        """The errors by file and document (``file document N``)."""
        out: dict[str, list[InvalidInput]] = {}
        for e in self._tree.result.errors:
            out.setdefault(e.where.split(": ", 1)[0] or self._root, []).append(e)
        return out

    async def wait(self, timeout: float | None = None) -> set[ObjectRef]:
        """Until the files change (what they ask for, or their errors) or ``timeout`` passes."""
        loop = asyncio.get_running_loop()
        self._start(loop.time())
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self._unreported:
                self._unreported = False
                return {e.source for e in self._tree.result.endpoints} or {
                    ObjectRef("manifests", "", self._root)  # errors only: still news
                }
            now = loop.time()
            assert self._next_check is not None
            if self._pending or self._full or now >= self._next_check:
                await self._refresh_now(now)
                continue
            if deadline is not None and now >= deadline:
                return set()
            until = self._next_check if deadline is None else min(deadline, self._next_check)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), until - now)

    async def _refresh_now(self, now: float) -> None:
        """One refresh in a thread; a wait() cancelled meanwhile leaves it to finish."""
        if self._refreshing is None:
            assert self._next_check is not None
            whole = self._full or now >= self._next_check
            if whole:
                self._next_check = now + (self.rescan if self.watching else self.poll)
            dirty, self._pending, self._full = self._pending, set(), False
            self._refreshing = asyncio.ensure_future(self._refresh_in_thread(dirty, whole))
        await asyncio.shield(self._refreshing)

    async def _refresh_in_thread(self, dirty: set[str], whole: bool) -> None:
        try:
            tree = await asyncio.to_thread(self._refresh, dirty, whole)
        except BaseException:
            self._pending |= dirty  # tried again by the next wait()
            self._full |= whole
            raise
        finally:
            self._refreshing = None
        if tree is not None:
            version = self.version
            self._install(tree)
            self._unreported |= self.version != version

    # -- watching --

    def _start(self, now: float) -> None:
        if self._next_check is None:
            self._next_check = now + self.poll
        if self.watch and self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name=f"watch {self._root}")

    async def close(self) -> None:
        """Stop watching (the feed still answers; wait() would start watching again)."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        self.watching = False

    async def _watch(self) -> None:
        """Turn file events into paths to read again, for as long as the feed is used."""
        try:
            import watchfiles  # service mode only: `plan` and the hooks never load it
        except ImportError as e:
            self._say(
                f"manifests {self._root}: can't be watched ({e}); polled every {self.poll:g} s",
                logging.WARNING,
            )
            return
        while True:
            if not await asyncio.to_thread(os.path.exists, self._root):
                self._polled(f"is not there; polled every {self.poll:g} s until it appears")
                await asyncio.sleep(self.poll)
                continue
            try:
                await self._watch_once(watchfiles)
            except Exception as e:  # any failure of the watch: poll instead
                self._polled(f"can't be watched ({e}); polled every {self.poll:g} s")
                await asyncio.sleep(self.rescan)  # a watch limit may be raised meanwhile

    def _polled(self, why: str) -> None:
        self.watching = False
        self._say(f"manifests {self._root} {why}", logging.WARNING)
        # The next check may be a safety-net period away: polling starts now.
        soon = asyncio.get_running_loop().time() + self.poll
        if self._next_check is None or self._next_check > soon:
            self._next_check = soon
            self._wake.set()

    def _say(self, line: str, level: int) -> None:
        if line != self._said:  # one line per change of state, not one per retry
            self._said = line
            log.log(level, "%s", line)

    async def _watch_once(self, watchfiles: ModuleType) -> None:
        """One watch of the tree, until it fails or the path itself changes."""
        directory, watched, self._prefixes = await asyncio.to_thread(self._watched)
        target = await asyncio.to_thread(os.path.realpath, self._root)
        stop = asyncio.Event()
        events = watchfiles.awatch(
            watched,
            watch_filter=None,
            debounce=_DEBOUNCE_MS,
            step=_STEP_MS,
            stop_event=stop,
            recursive=directory,
            ignore_permission_denied=True,
        )
        pending: asyncio.Future[Any] = asyncio.ensure_future(anext(events))
        try:
            await asyncio.wait({pending}, timeout=_STARTED)
            if pending.done() and pending.exception() is not None:
                pending.result()  # could not start: raise why
            self.watching = True
            self._say(
                f"manifests {self._root} watched (inotify), checked every {self.rescan:g} s too",
                logging.INFO,
            )
            self._full = True  # what changed before the watch began
            self._wake.set()
            while True:
                done, _ = await asyncio.wait({pending}, timeout=self.poll)
                if not done:
                    # A link swapped to another tree (git-sync) raises no event in
                    # the tree watched: a readlink now and then sees it.
                    if await asyncio.to_thread(os.path.realpath, self._root) != target:
                        self._pending.add(self._root)  # read it all again
                        self._wake.set()
                        return
                    continue
                if not self._take(pending.result(), directory):
                    return
                pending = asyncio.ensure_future(anext(events))
        except StopAsyncIteration:
            pass
        finally:
            stop.set()  # the watching thread ends within a step
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
            await events.aclose()

    def _watched(self) -> tuple[bool, str, set[str]]:
        """Whether the path is a directory; the directory watched; the names events
        may give it (a file is watched through its directory: saves replace it)."""
        directory = os.path.isdir(self._root)
        watched = self._root if directory else os.path.dirname(self._root) or "."
        return directory, watched, {os.path.abspath(watched), os.path.realpath(watched)}

    def _take(self, batch: set[tuple[Any, str]], directory: bool) -> bool:
        """Note the paths of a batch of events; False when the path itself changed."""
        same = True
        for _, raw in batch:
            path = self._canonical(raw, directory)
            if path is None:
                continue
            same &= not directory or path != self._root
            self._pending.add(path)
        if self._pending:
            self._wake.set()
        return same

    def _canonical(self, raw: str, directory: bool) -> str | None:
        """An event's path as :func:`manifest_files` names it; None when never read."""
        if not directory:
            named = {os.path.join(prefix, self.path.name) for prefix in self._prefixes}
            return self._root if raw in named else None
        for prefix in self._prefixes:
            if raw == prefix:
                return self._root
            if raw.startswith(prefix + os.sep):
                rel = raw[len(prefix) + 1 :]
                if any(part.startswith(".") for part in rel.split(os.sep)):
                    return None  # hidden, or inside .git
                return str(Path(self.path, rel))
        return None


def _name(e: Endpoint) -> str:
    return e.name


def _stamp(file: Path | str) -> Stamp:
    try:
        st = os.stat(file)
    except OSError:
        return _NO_STAMP  # listed (a dangling link): reading it gives the error
    return (st.st_mtime_ns, st.st_size)
