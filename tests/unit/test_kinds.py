"""The source registry: one entry per kind, and every consumer takes its list from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dnssync.config import load
from dnssync.errors import ConfigError
from dnssync.kinds import BY_NAME, BY_REF, DEFAULT_SOURCES, KINDS, NEEDED, WATCHED, Kind, SourceKind
from dnssync.sources.convert import SourceOptions
from dnssync.sources.index import CONVERTERS, ObjectIndex, trim
from dnssync.sources.manifests import load_manifests

ALPHA = SourceOptions(annotation_prefix="external-dns.alpha.kubernetes.io/")


def _config(tmp: Path, sources: object) -> Path:
    target = {"name": "a", "zones": ["example.test"], "sources": sources}
    path = tmp / "dnssync.yaml"
    path.write_text(yaml.safe_dump({"targets": [target]}))
    return path


def test_names_and_refs_are_unique_and_every_converter_resolves() -> None:
    """Each entry has its own --source name and kind name, and a converter that exists."""
    assert len(BY_NAME) == len(BY_REF) == len(KINDS)
    assert set(CONVERTERS) == set(BY_REF)
    assert all(callable(CONVERTERS[k.ref]) for k in KINDS)
    assert set(DEFAULT_SOURCES) <= set(BY_NAME)


def test_sources_are_checked_against_the_registry(tmp_path: Path) -> None:
    """An unknown source is one line naming the known ones; a repeated one counts once."""
    with pytest.raises(ConfigError) as caught:
        load(_config(tmp_path, ["service", "ingresss"]), env={})
    [line] = [line for line in str(caught.value).splitlines() if "unknown source" in line]
    assert "'ingresss'" in line and all(k.name in line for k in KINDS)
    cfg = load(_config(tmp_path, ["ingress", "ingress"]), env={})
    assert cfg.targets[0].sources == ("ingress",)
    assert cfg.targets[0].source_refs == frozenset({"ingress"})


@pytest.mark.parametrize("entry", list(WATCHED.values()), ids=lambda k: k.ref)
def test_trim_keeps_only_the_fields_the_entry_names(entry: Kind) -> None:
    """An object is stored with its identity, the entry's spec fields and status fields only."""
    obj = {
        "metadata": {"name": "x", "namespace": "n", "uid": "u", "managedFields": [{}] * 50},
        "spec": {**{f: f"v-{f}" for f in entry.spec_fields}, "unread": "y" * 1000},
        "status": {**{f: {"k": f} for f in entry.status_fields}, "conditions": [1, 2]},
    }
    small = trim(entry.ref, obj)
    assert small["metadata"] == {"name": "x", "namespace": "n", "uid": "u"}
    assert set(small["spec"]) == set(entry.spec_fields)
    assert set(small.get("status", {})) == set(entry.status_fields)


def test_needed_kinds_are_those_some_source_needs() -> None:
    """Every kind a source needs is in NEEDED and watched; a Namespace keeps its labels."""
    needs = {n for k in KINDS for n in k.needs}
    assert needs <= set(NEEDED) and needs <= set(WATCHED)
    ns = trim("namespace", {"metadata": {"name": "a", "labels": {"team": "x"}}, "spec": {}})
    assert ns["metadata"] == {"name": "a", "labels": {"team": "x"}}


def test_kinds_outside_the_registry_are_kept_whole() -> None:
    """A Challenge (read by the ACME watcher, not a source) is not trimmed."""
    challenge = {"metadata": {"name": "c"}, "spec": {"dnsName": "x"}, "status": {"state": "p"}}
    assert trim("challenge", challenge) == challenge


def test_a_view_sees_only_the_kinds_it_subscribed() -> None:
    """A target whose sources are only Ingresses gets nothing from a Service."""
    index = ObjectIndex()
    view = index.view(ALPHA, frozenset({"ingress"}))
    index.upsert(
        "service",
        {
            "metadata": {
                "name": "s",
                "namespace": "n",
                "annotations": {
                    "external-dns.alpha.kubernetes.io/hostname": "s.example.test",
                    "external-dns.alpha.kubernetes.io/target": "192.0.2.1",
                },
            },
            "spec": {"type": "ClusterIP"},
        },
    )
    assert view.endpoints() == [] and not view.pending()


PREFIX = "external-dns.alpha.kubernetes.io/"
#: A Gateway every route kind attaches to (manifests: no status, the target annotation).
GATEWAY = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "Gateway",
    "metadata": {"name": "gw", "namespace": "n", "annotations": {f"{PREFIX}target": "192.0.2.7"}},
    "spec": {
        "listeners": [
            {"name": p.lower(), "protocol": p, "port": 1} for p in ("HTTP", "TLS", "TCP", "UDP")
        ]
    },
}


def _sample(entry: SourceKind, name: str) -> tuple[dict[str, object], dict[str, object]]:
    """``(annotations, spec)`` of an object of ``entry`` asking for ``name`` -> 192.0.2.7."""
    if entry.ref == "crd":
        record = {"dnsName": name, "recordType": "A", "targets": ["192.0.2.7"]}
        return {}, {"endpoints": [record]}
    if "gateway" in entry.needs:
        return {f"{PREFIX}hostname": name}, {"parentRefs": [{"name": "gw"}]}
    return {f"{PREFIX}hostname": name, f"{PREFIX}target": "192.0.2.7"}, {"type": "LoadBalancer"}


def test_manifests_read_every_kind_its_list_and_its_legacy_group(tmp_path: Path) -> None:
    """The manifests reader takes kinds, their List kinds and API groups from the registry."""
    docs: list[dict[str, object]] = []
    for entry in KINDS:
        for group in (entry.group, *entry.legacy_groups):
            api_version = f"{group}/{entry.version}" if group else entry.version
            name = f"{entry.ref}-{group or 'core'}".replace(".", "-")
            annotations, spec = _sample(entry, f"{name}.example.test")
            item = {
                "kind": entry.kind,
                "metadata": {"name": name, "namespace": "n", "annotations": annotations},
                "spec": spec,
            }
            docs.append({"apiVersion": api_version, "kind": f"{entry.kind}List", "items": [item]})
        docs.append({"apiVersion": "other.example/v1", "kind": entry.kind, "metadata": {}})
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all(docs))
    (tmp_path / "gateway.yaml").write_text(yaml.safe_dump(GATEWAY))
    result = load_manifests(tmp_path, ALPHA)
    assert not result.errors, result.errors
    expected = {
        f"{e.ref}-{g or 'core'}".replace(".", "-") + ".example.test"
        for e in KINDS
        for g in (e.group, *e.legacy_groups)
    }
    assert {ep.name for ep in result.endpoints} == expected
    assert {ep.source.kind for ep in result.endpoints} == set(BY_REF)
