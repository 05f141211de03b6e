"""Configuration: one entry point, precise errors, secrets kept out of every text."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dnssync.config import load
from dnssync.errors import ConfigError

SECRET = "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1sZWFr"


def _write(tmp: Path, data: object) -> Path:
    path = tmp / "dnssync.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _target(**kw: object) -> dict[str, object]:
    return {"name": "a", "zones": ["Example.TEST."], "key": {"name": "k", "secret": SECRET}, **kw}


@pytest.mark.parametrize(
    "spelling", ["hmac-sha256", "hmac-sha256.", "HMACSHA256", "HMAC_SHA256", "sha256"]
)
def test_algorithm_spellings_all_mean_one_algorithm(tmp_path: Path, spelling: str) -> None:
    """Every spelling users bring names the same TSIG algorithm."""
    t = _target(key={"name": "k", "algorithm": spelling, "secret": SECRET})
    cfg = load(_write(tmp_path, {"targets": [t]}), env={})
    assert cfg.targets[0].key is not None
    assert cfg.targets[0].key.algorithm == "hmac-sha256"
    assert cfg.targets[0].zones == ("example.test",)


def test_secret_file_relative_to_the_config_and_env_override(tmp_path: Path) -> None:
    """secret_file is read next to the config; an env secret overrides it."""
    (tmp_path / "tsig").write_text(SECRET + "\n")
    t = _target(key={"name": "k", "secret_file": "tsig"})
    path = _write(tmp_path, {"targets": [t]})
    key = load(path, env={}).targets[0].key
    assert key is not None and key.secret is not None
    assert key.secret.get_secret_value() == SECRET
    other = "b3RoZXItc2VjcmV0"
    key = load(path, env={"DNSSYNC_TARGETS__0__KEY__SECRET": other}).targets[0].key
    assert key is not None and key.secret is not None
    assert key.secret.get_secret_value() == other


def test_env_overrides_nested_values(tmp_path: Path) -> None:
    """DNSSYNC_ variables with __ reach nested keys and list items."""
    path = _write(tmp_path, {"targets": [_target()]})
    env = {"DNSSYNC_TARGETS__0__SERVER__PORT": "5353", "DNSSYNC_LOG__FORMAT": "json"}
    cfg = load(path, env=env)
    assert cfg.targets[0].server.port == 5353
    assert cfg.log.format == "json"


def test_errors_name_the_place_and_never_the_secret(tmp_path: Path) -> None:
    """A bad config lists every problem by key; the secret's value is never shown."""
    t = _target(
        key={"name": "k", "algorithm": "hmac-sha999", "secret": SECRET + "!"},
        policy="delete-everything",
        ttl={"min": 600, "max": 60},
    )
    with pytest.raises(ConfigError) as info:
        load(_write(tmp_path, {"targets": [t]}), env={})
    text = str(info.value)
    assert "targets[0].key.algorithm" in text and "hmac-sha999" in text
    assert "targets[0].policy" in text
    assert "targets[0].ttl" in text
    assert SECRET not in text


def test_bad_secret_is_reported_without_its_value(tmp_path: Path) -> None:
    """A secret that is not base64 is named as such, not printed."""
    t = _target(key={"name": "k", "secret": "not base64 at all!!"})
    with pytest.raises(ConfigError) as info:
        load(_write(tmp_path, {"targets": [t]}), env={})
    assert "not valid base64" in str(info.value)
    assert "not base64 at all" not in str(info.value)


def test_key_repr_hides_the_secret(tmp_path: Path) -> None:
    """The dnspython key built from config does not print its secret."""
    cfg = load(_write(tmp_path, {"targets": [_target()]}), env={})
    assert cfg.targets[0].key is not None
    key = cfg.targets[0].key.tsig()
    assert SECRET not in repr(key) and SECRET not in str(key)
    assert SECRET not in repr(cfg)


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    """A misspelt key is an error, not silently ignored."""
    with pytest.raises(ConfigError, match=r"targets\[0\]\.polcy"):
        load(_write(tmp_path, {"targets": [_target(polcy="sync")]}), env={})
