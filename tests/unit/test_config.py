"""Configuration: one entry point, precise errors, secrets kept out of every text."""

from __future__ import annotations

import base64
import itertools
import logging
import time
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
    assert "targets[0].key.algorithm" in text and "not a TSIG algorithm" in text
    assert "hmac-sha999" not in text  # nothing of a key section is quoted
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


def _leaks(text: str, secret: str) -> list[str]:
    """Every form of ``secret`` found in ``text``: any 12-character piece, its hex, its bytes."""
    raw = base64.b64decode(secret)
    forms = [secret[i : i + 12] for i in range(len(secret) - 11)]
    forms += [raw.hex(), raw.hex().upper(), raw.decode("latin-1")]
    return [f for f in forms if f in text]


_T = "targets:\n- {name: a, zones: [a.test], "
_SECRET_PLACES: list[tuple[str, str]] = [
    ("misspelt field in the key", _T + "key: {name: k, secert: @S}}\n"),
    ("capitalised field", _T + "Secret: @S}\n"),
    ("acme key", "acme:\n  servers:\n  - {name: m, key: {name: k, secrets: @S, secret: @S}}\n"),
    ("unknown top-level field", "password: @S\ntargets: []\n"),
    ("secret pasted into secret_file", _T + "key: {name: k, secret_file: @S}}\n"),
    ("secret in the algorithm", _T + "key: {name: k, algorithm: @S, secret: @S}}\n"),
    ("unclosed quote on the secret's line", 'targets:\n- name: a\n  key: {name: k, secret: "@S\n'),
    ("a tag made of the secret", "targets:\n- name: a\n  key: {name: k, secret: !@S x}\n"),
    ("a tab after the secret", "targets:\n- name: a\n  key:\n    secret: @S\n\tname: k\n"),
    ("the secret as a mapping key", _T + "key: {@S: 1}}\n"),
]


@pytest.mark.parametrize(("case", "text"), _SECRET_PLACES, ids=[c for c, _ in _SECRET_PLACES])
def test_no_error_text_carries_the_secret(tmp_path: Path, case: str, text: str) -> None:
    """Wherever a secret lands in a broken config, the error names the place, never the value."""
    path = tmp_path / "dnssync.yaml"
    path.write_text(text.replace("@S", SECRET))
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    assert not _leaks(str(info.value), SECRET), (case, str(info.value))


def test_a_misspelt_secret_variable_is_not_echoed(tmp_path: Path) -> None:
    """DNSSYNC_..._SECRETT is an unknown field: named, its value not shown."""
    path = _write(tmp_path, {"targets": [_target()]})
    with pytest.raises(ConfigError) as info:
        load(path, env={"DNSSYNC_TARGETS__0__KEY__SECRETT": SECRET})
    assert "targets[0].key.secrett" in str(info.value)
    assert not _leaks(str(info.value), SECRET)


def test_known_values_outside_secrets_are_still_shown(tmp_path: Path) -> None:
    """Dropping secrets keeps the useful echo: a bad policy or port value is quoted."""
    t = _target(policy="delete-everything", server={"port": 99999})
    with pytest.raises(ConfigError) as info:
        load(_write(tmp_path, {"targets": [t]}), env={})
    assert "'delete-everything'" in str(info.value) and "99999" in str(info.value)


def bomb(indent: str = "") -> str:
    """Nine anchors of nine aliases each: 9**9 values in under 400 bytes ("billion laughs")."""
    lol = ", ".join(['"lol"'] * 9)
    lines = [f"{indent}a: &a [{lol}]"]
    for prev, cur in itertools.pairwise("abcdefghi"):
        lines.append(f"{indent}{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_in_the_config_fails_fast_naming_the_file(tmp_path: Path) -> None:
    """Billion laughs: a one-line error within a second, naming the file."""
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb() + "targets: *i\n")
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    assert time.monotonic() - started < 1.0
    assert str(path) in str(info.value) and "aliases" in str(info.value)
    assert "\n" not in str(info.value)


def test_env_overrides_take_json_lists(tmp_path: Path) -> None:
    """DNSSYNC_TARGETS__0__ZONES='["a","b"]' replaces the list; bad JSON is named."""
    path = _write(tmp_path, {"targets": [_target()]})
    cfg = load(path, env={"DNSSYNC_TARGETS__0__ZONES": '["a.test", "B.test"]'})
    assert cfg.targets[0].zones == ("a.test", "b.test")
    with pytest.raises(ConfigError, match="DNSSYNC_TARGETS__0__ZONES: not valid JSON"):
        load(path, env={"DNSSYNC_TARGETS__0__ZONES": '["a.test",'})


def test_relative_paths_are_relative_to_the_config_folder(tmp_path: Path) -> None:
    """manifests and secret files are found next to the config, wherever the process runs."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "tsig").write_text(SECRET)
    t = _target(key={"name": "k", "secret_file": "tsig"})
    path = tmp_path / "sub" / "dnssync.yaml"
    path.write_text(yaml.safe_dump({"manifests": "manifests", "targets": [t]}))
    cfg = load(path, env={})
    assert cfg.manifests == tmp_path / "sub" / "manifests"


def test_a_world_readable_secret_file_warns_once_without_the_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A secret file others may read gets one warning line naming the file, not the secret."""
    secret = tmp_path / "tsig"
    secret.write_text(SECRET)
    secret.chmod(0o644)
    path = _write(tmp_path, {"targets": [_target(key={"name": "k", "secret_file": str(secret)})]})
    with caplog.at_level(logging.WARNING, logger="dnssync.config"):
        load(path, env={})
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and str(secret) in warnings[0] and "0644" in warnings[0]
    assert not _leaks(warnings[0], SECRET)
    caplog.clear()
    secret.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="dnssync.config"):
        load(path, env={})
    assert not caplog.records
