"""The manifest cache: a load through it always equals a parse, cold, warm and after edits."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnssync import statefile
from dnssync.sources.annotations import DEFAULT_PREFIX
from dnssync.sources.convert import SourceOptions
from dnssync.sources.manifestcache import ManifestCache
from dnssync.sources.manifests import ManifestResult, load_manifests
from dnssync.sources.selector import parse_filter

P = DEFAULT_PREFIX
OPTIONS = SourceOptions(default_targets=("192.0.2.99",))


def service(name: str, host: str, target: str = "192.0.2.1", extra: str = "") -> str:
    return (
        f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: apps\n"
        f"  annotations:\n    {P}hostname: {host}\n    {P}target: '{target}'\n{extra}"
    )


#: Documents of every sort the loader treats differently.
DOCUMENTS = [
    service("a", "a.example.com"),
    service("a", "a2.example.com"),  # the same object again: a duplicate
    service("b", "b.example.com", "2001:db8::1"),
    service("c", "c.example.com", "192.0.2.300"),  # a bad target: an error
    service("d", "bad_name!.example.com"),
    service("e", "e.example.com", extra=f"    {P}ttl: 'yes'\n"),
    service("f", "f.example.com", extra="spec:\n  enabled: yes\n"),  # YAML 1.1 words
    service("g", "g.example.com", extra="spec:\n  port: 0o17\n"),
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: [1, 2]\n"
    f"  annotations:\n    {P}hostname: h.example.com\n",  # a name that is no string
    "apiVersion: v1\nkind: List\nitems:\n"
    f"  - kind: Service\n    apiVersion: v1\n    metadata:\n      name: i\n"
    f"      annotations:\n        {P}hostname: i.example.com\n",
    "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: j\nspec:\n"
    "  rules:\n    - host: j.example.com\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: k\n",
    "kind: Service\nmetadata: {name: broken\n",  # broken YAML: a problem with a line
    "base: &x {a: 1}\nother: *x\n",  # aliases
    "",
    "# only a comment\n",
]


def normal(r: ManifestResult) -> tuple[Any, ...]:
    """A result in a comparable form (exceptions compare by identity)."""
    errors = [(type(e).__name__, e.message, e.where) for e in r.errors]
    return r.endpoints, errors, r.objects


def write_tree(root: Path, files: list[list[int]]) -> None:
    for old in root.rglob("*.yaml"):
        old.unlink()
    for i, docs in enumerate(files):
        path = root / ("sub" if i % 2 else "") / f"f{i}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("---\n".join(DOCUMENTS[d] for d in docs))


trees = st.lists(
    st.lists(st.integers(0, len(DOCUMENTS) - 1), min_size=0, max_size=6), min_size=1, max_size=4
)


@settings(max_examples=60, deadline=None)
@given(first=trees, second=trees)
def test_cached_load_equals_a_parse(
    tmp_path_factory: pytest.TempPathFactory, first: list[list[int]], second: list[list[int]]
) -> None:
    """Cold cache, warm cache, and a warm cache after the files change all equal a parse."""
    root = tmp_path_factory.mktemp("m")
    state = tmp_path_factory.mktemp("state")
    for files in (first, first, second, second, first):
        write_tree(root, files)
        parsed = load_manifests(root, OPTIONS)
        cached = load_manifests(root, OPTIONS, cache=ManifestCache(state, root, OPTIONS))
        assert normal(cached) == normal(parsed)


def test_a_warm_load_parses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unchanged directory is not parsed again; one changed document is parsed alone."""
    from dnssync.sources import manifests

    docs = [service(f"s{i}", f"s{i}.example.com") for i in range(20)]
    (tmp_path / "m").mkdir()
    file = tmp_path / "m" / "all.yaml"
    file.write_text("---\n".join(docs))
    load_manifests(file.parent, OPTIONS, cache=ManifestCache(tmp_path, file.parent, OPTIONS))
    parsed: list[str] = []
    real = manifests.parse_chunk

    def counting(chunk: tuple[int, str] | None, *, checked: bool = False) -> Any:
        parsed.append(chunk[1] if chunk else "")
        return real(chunk, checked=checked)

    monkeypatch.setattr(manifests, "parse_chunk", counting)
    load_manifests(file.parent, OPTIONS, cache=ManifestCache(tmp_path, file.parent, OPTIONS))
    assert parsed == []
    docs[7] = service("s7", "changed.example.com")
    file.write_text("---\n".join(docs))
    r = load_manifests(file.parent, OPTIONS, cache=ManifestCache(tmp_path, file.parent, OPTIONS))
    assert len(parsed) == 1 and "changed.example.com" in parsed[0]
    assert "changed.example.com" in {e.name for e in r.endpoints}


def test_other_options_are_another_cache(tmp_path: Path) -> None:
    """Options enter the key: a filter added later is applied, not served stale."""
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.yaml").write_text(service("a", "a.example.com"))
    root = tmp_path / "m"
    assert load_manifests(root, OPTIONS, cache=ManifestCache(tmp_path, root, OPTIONS)).endpoints
    filtered = SourceOptions(annotation_filter=parse_filter(f"{P}manage=yes"))
    cache = ManifestCache(tmp_path, root, filtered)
    assert load_manifests(root, filtered, cache=cache).endpoints == ()


def test_damaged_cache_is_one_log_line_and_a_parse(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A damaged cache file is logged once and the directory parsed as if it were absent."""
    root = tmp_path / "m"
    root.mkdir()
    (root / "a.yaml").write_text(service("a", "a.example.com"))
    cache = ManifestCache(tmp_path, root, OPTIONS)
    want = normal(load_manifests(root, OPTIONS, cache=cache))
    cache.path.write_bytes(cache.path.read_bytes()[:-5])
    with caplog.at_level(logging.WARNING):
        got = load_manifests(root, OPTIONS, cache=ManifestCache(tmp_path, root, OPTIONS))
    assert normal(got) == want
    assert len([r for r in caplog.records if "damaged" in r.getMessage()]) == 1


def test_each_piece_is_kept_as_its_own_json_text(tmp_path: Path) -> None:
    """Pieces are stored as JSON texts, so a load decodes one piece at a time, not the cache."""
    root = tmp_path / "m"
    write_tree(root, [[0, 2, 9], [10]])
    cache = ManifestCache(tmp_path, root, OPTIONS)
    want = normal(load_manifests(root, OPTIONS, cache=cache))
    stored = statefile.read(cache.path, "manifest cache")
    assert isinstance(stored, dict)
    assert stored["format"] == ManifestCache.FORMAT
    assert stored["pieces"] and all(isinstance(v, str) for v in stored["pieces"].values())
    assert all(isinstance(json.loads(v), list) for v in stored["pieces"].values())
    warm = ManifestCache(tmp_path, root, OPTIONS)
    assert normal(load_manifests(root, OPTIONS, cache=warm)) == want


@pytest.mark.parametrize("text", ["[[", "[" * 100_000], ids=["cut", "nested too deeply"])
def test_a_piece_that_does_not_decode_is_one_log_line_and_a_parse(
    text: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A stored piece that is no JSON text (in a sound file) costs a parse, not a crash."""
    root = tmp_path / "m"
    write_tree(root, [[0, 2]])
    cache = ManifestCache(tmp_path, root, OPTIONS)
    want = normal(load_manifests(root, OPTIONS, cache=cache))
    stored = statefile.read(cache.path, "manifest cache")
    assert isinstance(stored, dict)
    stored["pieces"] = dict.fromkeys(stored["pieces"], text)
    statefile.write(cache.path, stored, "manifest cache")
    with caplog.at_level(logging.WARNING):
        got = load_manifests(root, OPTIONS, cache=ManifestCache(tmp_path, root, OPTIONS))
    assert normal(got) == want
    assert len([r for r in caplog.records if "damaged" in r.getMessage()]) == 1
