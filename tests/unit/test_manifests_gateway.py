"""Gateway API routes in a manifests directory: Gateways and Namespaces from other files, cached."""

from __future__ import annotations

from pathlib import Path

import yaml

from dnssync.sources.convert import SourceOptions
from dnssync.sources.manifestcache import ManifestCache
from dnssync.sources.manifests import load_manifests
from tests.unit.gateway_cases import PREFIX, gateway, listener, namespace, parent, route

OPTIONS = SourceOptions(annotation_prefix=PREFIX)
SELECTED = {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"dns": "on"}}}}


def _tree(root: Path) -> Path:
    gw = gateway("infra", "edge", [listener(hostname="*.example.org", allowed=SELECTED)])
    gw["metadata"]["annotations"] = {f"{PREFIX}target": "192.0.2.7"}
    del gw["status"]
    routes = []
    for ns in ("web", "shop"):
        r = route(ns, "r", hostnames=[f"{ns}.example.org"], parents=[parent("infra", "edge")])
        del r["status"]
        routes.append(r)
    (root / "apps").mkdir(parents=True)
    (root / "apps" / "routes.yaml").write_text(yaml.safe_dump_all(routes))
    (root / "infra.yaml").write_text(
        yaml.safe_dump_all([gw, namespace("web", {"dns": "on"}), namespace("shop")])
    )
    return root


def test_routes_find_their_gateway_and_namespace_in_other_files(tmp_path: Path) -> None:
    """A route resolves its Gateway and its Namespace's labels wherever they are in the tree."""
    result = load_manifests(_tree(tmp_path / "m"), OPTIONS)
    assert [(e.name, e.targets) for e in result.endpoints] == [("web.example.org", ("192.0.2.7",))]
    assert not result.errors and result.objects == 2  # the routes: Gateways are no source


def test_a_cached_load_converts_routes_the_same(tmp_path: Path) -> None:
    """Routes and Gateways are kept trimmed in the cache; a cached load gives the same result."""
    root = _tree(tmp_path / "m")
    state = tmp_path / "state"
    first = load_manifests(root, OPTIONS, cache=ManifestCache(state, root, OPTIONS))
    second = load_manifests(root, OPTIONS, cache=ManifestCache(state, root, OPTIONS))
    assert first == second and first.endpoints


def test_a_gateway_defined_twice_is_reported(tmp_path: Path) -> None:
    """The same Gateway in two files is one error naming the first; the first one counts."""
    root = _tree(tmp_path / "m")
    other = gateway("infra", "edge", [listener()], ["192.0.2.99"])
    (root / "zz.yaml").write_text(yaml.safe_dump(other))
    result = load_manifests(root, OPTIONS)
    assert [e.targets for e in result.endpoints] == [("192.0.2.7",)]
    [error] = result.errors
    assert "gateway infra/edge is defined again" in str(error)
