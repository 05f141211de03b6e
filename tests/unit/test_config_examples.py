"""The YAML under config/: it parses, dnssync configs load, the reference documents every key."""

from __future__ import annotations

import base64
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from dnssync.config import (
    AcmeChallengesConfig,
    AcmeConfig,
    AcmePropagationConfig,
    AcmeServerConfig,
    AcmeWebhookConfig,
    Config,
    HTTPConfig,
    KubernetesConfig,
    LeaderElectionConfig,
    LogConfig,
    ReconcileConfig,
    ServerConfig,
    TargetConfig,
    load,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "config"
REFERENCE = CONFIG_DIR / "examples" / "dnssync.yaml"
FLEET = CONFIG_DIR / "fleet.yaml"
# The dnssync configurations that ship; any other YAML under config/ with a
# top-level `targets` is found and loaded too.
KNOWN_CONFIGS = {
    "examples/dnssync.yaml",
    "examples/demo.yaml",
    "deploy/base/config.yaml",
    "deploy/overlays/sidecar/config.yaml",
}
# A valid TSIG secret (base64) and AES-256 registry key for the test files.
TSIG_SECRET = base64.b64encode(b"dnssync-test-secret-0123456789ab").decode()
AES_KEY = "0123456789abcdef0123456789abcdef"


def yaml_files() -> list[Path]:
    """Every YAML file under config/, sorted."""
    found = [p for p in CONFIG_DIR.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file()]
    return sorted(found)


def config_files() -> list[Path]:
    """The YAML files under config/ that are dnssync configurations (top-level `targets`)."""
    out = []
    for path in yaml_files():
        docs = list(yaml.safe_load_all(path.read_text()))
        if len(docs) == 1 and isinstance(docs[0], dict) and "targets" in docs[0]:
            out.append(path)
    return out


def secret_env(data: Mapping[str, Any], tmp: Path) -> dict[str, str]:
    """DNSSYNC_* overrides pointing every secret file the config names at files made in ``tmp``."""
    tsig = tmp / "tsig.key"
    tsig.write_text(TSIG_SECRET + "\n")
    aes = tmp / "aes.key"
    aes.write_text(AES_KEY)
    env: dict[str, str] = {}
    for i, target in enumerate(data.get("targets") or []):
        for key in ("key", "transfer_key"):
            if isinstance(target.get(key), dict) and target[key].get("secret_file"):
                env[f"DNSSYNC_TARGETS__{i}__{key.upper()}__SECRET_FILE"] = str(tsig)
        if target.get("txt_encrypt_key_file"):
            env[f"DNSSYNC_TARGETS__{i}__TXT_ENCRYPT_KEY_FILE"] = str(aes)
    acme = data.get("acme") or {}
    for i, server in enumerate(acme.get("servers") or []):
        if isinstance(server.get("key"), dict) and server["key"].get("secret_file"):
            env[f"DNSSYNC_ACME__SERVERS__{i}__KEY__SECRET_FILE"] = str(tsig)
    return env


def load_with_secrets(path: Path, tmp: Path) -> Config:
    """``dnssync.config.load`` on ``path``, its secret files replaced by ones in ``tmp``."""
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return load(path, env=secret_env(data, tmp))


def model_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path of a config model, nested models (and lists of them) included."""
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        yield path
        for sub in _models_in(field.annotation):
            yield from model_paths(sub, path)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (tuple, list, typing.Union, types.UnionType):
        found: list[type[BaseModel]] = []
        for arg in typing.get_args(annotation):
            found.extend(_models_in(arg))
        return found
    return []


def lookup(data: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    """(present, value) of ``path`` in parsed YAML; a list stands for its first item."""
    node = data
    for part in path:
        while isinstance(node, list) and node:
            node = node[0]
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def keys_named(node: Any, name: str) -> list[str]:
    """Where a key called ``name`` occurs anywhere in parsed YAML (dotted paths)."""
    hits: list[str] = []

    def walk(n: Any, where: str) -> None:
        if isinstance(n, dict):
            for k, v in n.items():
                here = f"{where}.{k}" if where else str(k)
                if k == name:
                    hits.append(here)
                walk(v, here)
        elif isinstance(n, list):
            for i, v in enumerate(n):
                walk(v, f"{where}[{i}]")

    walk(node, "")
    return hits


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(CONFIG_DIR)))
def test_yaml_parses(path: Path) -> None:
    """Every YAML file under config/ parses, with no empty documents."""
    docs = list(yaml.safe_load_all(path.read_text()))
    assert docs, f"{path}: no YAML document"
    assert all(doc is not None for doc in docs), f"{path}: an empty document (stray '---'?)"


def test_known_configs_are_found() -> None:
    """The shipped dnssync configs are all discovered as configs."""
    found = {str(p.relative_to(CONFIG_DIR)) for p in config_files()}
    assert found >= KNOWN_CONFIGS, f"missing: {sorted(KNOWN_CONFIGS - found)}"


@pytest.mark.parametrize("path", config_files(), ids=lambda p: str(p.relative_to(CONFIG_DIR)))
def test_config_loads(path: Path, tmp_path: Path) -> None:
    """Each dnssync config under config/ loads through dnssync.config.load (secrets from tmp)."""
    cfg = load_with_secrets(path, tmp_path)
    assert cfg.targets
    for target in cfg.targets:
        if target.key is not None:
            assert target.key.secret is not None
            assert target.key.secret.get_secret_value() == TSIG_SECRET
    if cfg.acme is not None:
        for server in cfg.acme.servers:
            if server.key is not None:
                assert server.key.secret is not None
                assert server.key.secret.get_secret_value() == TSIG_SECRET


def test_reference_documents_every_key() -> None:
    """config/examples/dnssync.yaml sets every key of the config schema (acme included)."""
    data = yaml.safe_load(REFERENCE.read_text())
    missing = []
    for path in model_paths(Config):
        # Below a key set to null (``transfer_key: null``) there is nothing to show.
        if any(lookup(data, path[:n]) == (True, None) for n in range(1, len(path))):
            continue
        if not lookup(data, path)[0]:
            missing.append(".".join(path))
    assert not missing, f"{REFERENCE.name} does not document: {', '.join(missing)}"


def test_reference_shows_defaults(tmp_path: Path) -> None:
    """Values in the reference are the schema's defaults, except the marked examples."""
    cfg = load_with_secrets(REFERENCE, tmp_path)
    assert cfg.kubernetes == KubernetesConfig()
    assert cfg.leader_election == LeaderElectionConfig()
    assert cfg.reconcile == ReconcileConfig()
    assert cfg.log == LogConfig()
    assert cfg.http == HTTPConfig()
    assert cfg.manifests is None

    examples = {
        "name",
        "zones",
        "key",
        "server",
        "owner_id",
        "txt_prefix",
        "annotation_filter",
        "annotation_prefix",
    }
    (target,) = cfg.targets
    default_target = TargetConfig(name="x", zones=("example.org",))
    assert target.model_dump(exclude=examples) == default_target.model_dump(exclude=examples)
    assert target.server.model_dump(exclude={"host"}) == ServerConfig().model_dump(exclude={"host"})

    assert cfg.acme is not None
    (server,) = cfg.acme.servers
    examples = {"name", "key", "zones", "server"}
    assert server.model_dump(exclude=examples) == AcmeServerConfig(name="x").model_dump(
        exclude=examples
    )
    assert server.server.model_dump(exclude={"host"}) == ServerConfig().model_dump(exclude={"host"})
    assert cfg.acme.propagation == AcmePropagationConfig()
    assert cfg.acme.webhook == AcmeWebhookConfig()
    assert cfg.acme.challenges == AcmeChallengesConfig()
    assert cfg.acme == AcmeConfig(servers=cfg.acme.servers)


def test_reference_follows_design() -> None:
    """The reference's examples are DESIGN.md's: internal zone on Technitium, ACME zone mdapi.ch."""
    data = yaml.safe_load(REFERENCE.read_text())
    (target,) = data["targets"]
    assert target["zones"] == ["home.tillo.ch"]
    assert target["policy"] == "upsert-only"
    assert target["txt_prefix"] == "extdns-"
    assert target["annotation_filter"] == "external-dns.alpha.kubernetes.io/manage=mdapi"
    # The seed cluster's annotations are alpha: the one prefix read must say so.
    assert target["annotation_prefix"] == "external-dns.alpha.kubernetes.io/"
    assert target["key"]["name"] == "dnssync-internal"
    (server,) = data["acme"]["servers"]
    assert server["zones"] == ["mdapi.ch"]
    assert server["key"]["name"] == "mdapi"


def test_fleet_bundle() -> None:
    """fleet.yaml: namespace, the chart it deploys, helm.maxHistory 25 (not historyMax)."""
    data = yaml.safe_load(FLEET.read_text())
    assert data["defaultNamespace"] == "dnssync"
    assert data["helm"]["maxHistory"] == 25
    assert not keys_named(data, "historyMax"), "Fleet's key is helm.maxHistory"
    assert "historyMax" not in FLEET.read_text()
    # Fleet resolves helm.chart against the bundle root: the folder holding fleet.yaml.
    chart = data["helm"]["chart"]
    assert not Path(chart).is_absolute()
    assert (FLEET.parent / chart / "Chart.yaml").is_file(), f"helm.chart {chart!r} is no chart"
    customizations = data["targetCustomizations"]
    assert customizations, "show at least one targetCustomizations entry"
    for entry in customizations:
        assert entry["name"]
        assert any(k in entry for k in ("clusterSelector", "clusterName", "clusterGroup"))
        if "helm" in entry:
            assert "historyMax" not in entry["helm"]
            assert isinstance(entry["helm"].get("maxHistory", 0), int)
