"""Redaction at its edges: what each configuration error may say (issue #10, item 11).

Every error of :func:`dnssync.config.load` names the place and the cause; a
value is quoted only from a known field outside every key/secret section, a
short scalar; an unknown field is named only when it is a near miss of a
known one; reading a secret file or the YAML never echoes its text.  These
tests pin each of those rules to its exact text -- the cases ``make
mutation`` found unguarded in :mod:`dnssync.config` (the broad "no secret in
any error" cases are in ``test_config.py``).

Of the 253 mutants of the functions in the run below, 248 are killed (182
before these tests); the 5 left alive are equivalent, so no test can kill
them:

* ``get_close_matches(..., n=2, ...)`` and without ``n`` (3): only the best
  match (``near[0]``) is shown, the same whatever the number asked for;
* ``err["type"] == "XXmissingXX"`` / ``"MISSING"``: a missing field's
  ``input`` is the mapping it is missing from, never a scalar, so the
  scalar test hides its value anyway;
* ``... if (field is not None) or True else None`` in ``_fields_at``:
  pydantic reports an unknown field only inside known models, so every
  place on the way to one is a field (the schema has no tagged unions).

In :func:`dnssync.yamlnodes.yaml_problem` (the YAML error's place), 61 of
66 are killed (23 of 63 before); the 5 left are equivalent for every error
PyYAML's loader raises on text: ``getattr(error, "problem"|"problem_mark"|
"context"|"context_mark", )`` without the ``None`` default, and
``type(None).__name__`` for ``type(error).__name__``, since each such error
is a ``MarkedYAMLError`` (all four attributes set, ``problem`` never empty)
or a ``ReaderError`` with a character code, answered before them.

Run: ``nice -n 15 python -m tools.mutation dnssync/yamlnodes.py
tests/unit/test_config.py tests/unit/test_config_redaction.py
tests/unit/test_manifests.py --workers 1 --only yaml_problem --only
_unquote`` and ``nice -n 15 python -m tools.mutation dnssync/config.py
tests/unit/test_config.py tests/unit/acme/test_config.py
tests/unit/test_config_examples.py tests/unit/test_config_redaction.py
--workers 1 --only _problem --only _location --only _fields_at --only
_model_in --only _read_secret_file --only _read_yaml --only _apply_env
--only _drop_secret_file --only KeyConfig --only QuietKey --only x_load``.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from dnssync.config import load
from dnssync.errors import ConfigError

SECRET = "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1sZWFr"
KEY_FIELDS = "algorithm, name, secret, secret_file"


def _target(**kw: Any) -> dict[str, Any]:
    return {"name": "a", "zones": ["a.test"], "key": {"name": "k", "secret": SECRET}, **kw}


def _problems(tmp_path: Path, data: Any, env: dict[str, str] | None = None) -> list[str]:
    """The problem lines of the ConfigError that loading ``data`` raises."""
    path = tmp_path / "dnssync.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load(path, env=env or {})
    head, *lines = str(info.value).split("\n")
    assert head == f"invalid configuration in {path}:"
    assert all(line.startswith("  ") for line in lines)
    return [line[2:] for line in lines]


def _error(tmp_path: Path, text: str | bytes, env: dict[str, str] | None = None) -> str:
    path = tmp_path / "dnssync.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(path, env=env or {})
    return str(info.value).replace(str(path), "<file>")


# --- unknown fields -----------------------------------------------------------


def test_a_near_miss_is_named_with_its_correction(tmp_path: Path) -> None:
    """A typo of a known field (in any case) is named with the field it most likely means."""
    assert _problems(tmp_path, {"targets": [_target(polcy="sync")]}) == [
        "targets[0].polcy: unknown field (did you mean 'policy'?)"
    ]
    assert _problems(tmp_path, {"targets": [_target(POLICY="sync")]}) == [
        "targets[0].POLICY: unknown field (did you mean 'policy'?)"
    ]


def test_a_far_unknown_field_lists_the_known_ones_without_its_name(tmp_path: Path) -> None:
    """An unknown field that is no near miss is left unnamed; the known fields there are listed."""
    key = {"name": "k", "secret": SECRET, SECRET[:20]: 1}
    assert _problems(tmp_path, {"targets": [_target(key=key)]}) == [
        f"targets[0].key: an unknown field (its name is not shown); known: {KEY_FIELDS}"
    ]
    top = _problems(tmp_path, {"targets": [_target()], "zzzzzz": 1})
    assert top == [
        "(top level): an unknown field (its name is not shown); known: acme, http, kubernetes, "
        "leader_election, log, manifests, reconcile, state_dir, targets"
    ]


def test_a_secret_mistyped_as_a_near_field_name_is_not_named_in_a_key(tmp_path: Path) -> None:
    """``kye`` (not close enough to ``key``) in an ACME server: named only by its place."""
    server = {"name": "m", "server": {"host": "127.0.0.1"}, "zones": ["a.test"], "kye": {}}
    assert _problems(tmp_path, {"acme": {"servers": [server]}}) == [
        "acme.servers[0]: an unknown field (its name is not shown); known: key, "
        "max_concurrent_updates, name, nameservers, server, zones"
    ]


# --- which values are quoted -----------------------------------------------------


def test_short_known_scalars_are_quoted_and_long_ones_are_not(tmp_path: Path) -> None:
    """A known field's value of up to 80 characters is quoted; 81 characters are not."""
    why = "Input should be 'sync', 'upsert-only' or 'create-only'"
    shown = "x" * 80
    assert _problems(tmp_path, {"targets": [_target(policy=shown)]}) == [
        f"targets[0].policy: {why} (got {shown!r})"
    ]
    assert _problems(tmp_path, {"targets": [_target(policy="x" * 81)]}) == [
        f"targets[0].policy: {why}"
    ]


def test_numbers_are_quoted_and_lists_are_not(tmp_path: Path) -> None:
    """An int or float value is quoted as such; a list or mapping value never is."""
    assert _problems(tmp_path, {"targets": [_target(server={"port": 5.5})]}) == [
        "targets[0].server.port: Input should be a valid integer, got a number with a "
        "fractional part (got 5.5)"
    ]
    assert _problems(tmp_path, {"targets": [_target(server={"port": 99999})]}) == [
        "targets[0].server.port: Input should be less than or equal to 65535 (got 99999)"
    ]
    assert _problems(tmp_path, {"targets": [_target(server={"timeout": [1]})]}) == [
        "targets[0].server.timeout: Input should be a valid number"
    ]


def test_nothing_under_a_secretish_name_is_quoted(tmp_path: Path) -> None:
    """A short scalar under key/txt_encrypt_key is not quoted, whatever its field."""
    bad_name = {"name": 5, "secret": SECRET}
    assert _problems(tmp_path, {"targets": [_target(key=bad_name)]}) == [
        "targets[0].key.name: Input should be a valid string"
    ]
    assert _problems(tmp_path, {"targets": [_target(txt_encrypt_key=7)]}) == [
        "targets[0].txt_encrypt_key: Input should be a valid string"
    ]


def test_a_missing_field_names_its_place_only(tmp_path: Path) -> None:
    """A required field left out is "Field required" at its place, with nothing quoted."""
    assert _problems(tmp_path, {"targets": [{"zones": ["a.test"]}]}) == [
        "targets[0].name: Field required"
    ]


def test_validator_messages_lose_pydantics_prefix_and_every_problem_is_listed(
    tmp_path: Path,
) -> None:
    """Each problem is its own line, in order, without pydantic's "Value error, " prefix."""
    t = _target(key={"name": "k", "secret": ""}, zones=["a.test", "bad..name"])
    assert _problems(tmp_path, {"targets": [t]}) == [
        "targets[0].zones: 'bad..name' has an empty label",
        "targets[0].key: the secret of key 'k' is empty",
    ]


def test_errors_from_the_environment_name_it_as_their_source() -> None:
    """Without a file the error says "invalid configuration in environment"."""
    with pytest.raises(ConfigError) as info:
        load(None, env={"DNSSYNC_TARGETS__0__NAME": "a"})
    assert str(info.value) == (
        "invalid configuration in environment:\n  targets[0].zones: Field required"
    )


# --- secret files ----------------------------------------------------------------


def test_an_unreadable_secret_file_names_the_field_not_the_path(tmp_path: Path) -> None:
    """A missing or non-text secret file: the reason and the field, never the path (a secret?)."""
    missing = tmp_path / SECRET
    assert _problems(
        tmp_path, {"targets": [_target(key={"name": "k", "secret_file": str(missing)})]}
    ) == ["targets[0].key: cannot read secret_file: No such file or directory"]
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00")
    assert _problems(
        tmp_path, {"targets": [_target(key={"name": "k", "secret_file": str(binary)})]}
    ) == ["targets[0].key: cannot read secret_file: not text"]


def test_the_permission_warning_names_the_file_the_mode_and_the_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A world-readable secret file: one exact warning line; a group-readable one gets none."""
    secret = tmp_path / "tsig"
    secret.write_text(SECRET + "\n")
    path = tmp_path / "dnssync.yaml"
    key = {"name": "k", "secret_file": str(secret)}
    path.write_text(yaml.safe_dump({"targets": [_target(key=key)]}))
    secret.chmod(0o604)
    with caplog.at_level(logging.WARNING, logger="dnssync.config"):
        cfg = load(path, env={})
    assert [r.getMessage() for r in caplog.records] == [
        f"secret_file {secret} is readable by every user (mode 0604); make it 0600 "
        "(in Kubernetes: defaultMode 0400 on the Secret volume)"
    ]
    assert cfg.targets[0].key is not None and cfg.targets[0].key.secret is not None
    assert cfg.targets[0].key.secret.get_secret_value() == SECRET
    caplog.clear()
    secret.chmod(0o640)
    with caplog.at_level(logging.WARNING, logger="dnssync.config"):
        load(path, env={})
    assert not caplog.records


# --- the YAML file ------------------------------------------------------------------


def test_yaml_errors_give_the_place_and_no_input_text(tmp_path: Path) -> None:
    """A YAML syntax error: line, column and problem; quoted input is cut to an ellipsis."""
    assert _error(tmp_path, f"targets: [\n{SECRET}: [\n") == (
        "<file>: not valid YAML: line 3 column 1: expected the node content, but found '…' "
        "(while parsing a flow node at line 3)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"\xff\xfe", "cannot read config file <file>: not UTF-8 text"),
        ("- a\n- b\n", "<file>: the top level must be a mapping"),
        ("[" * 20_000 + "]" * 20_000, "<file>: YAML nested too deeply"),
        ("a: &a [*a]\n", "<file>: the YAML refers to itself through an alias"),
        (
            "targets: []\nname: a\x07b\n",
            "<file>: not valid YAML: character 20: unacceptable character #x0007: "
            "special characters are not allowed",
        ),
    ],
    ids=["not utf-8", "a list", "too deep", "self-alias", "control character"],
)
def test_a_bad_file_is_one_line_naming_it(tmp_path: Path, text: str | bytes, message: str) -> None:
    """An unreadable, non-mapping, too deep or self-referring file: one line naming the file."""
    assert _error(tmp_path, text) == message


def test_a_missing_config_file_names_the_os_reason(tmp_path: Path) -> None:
    """A config file that is not there: its path and the OS's reason."""
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    assert str(info.value) == f"cannot read config file {path}: No such file or directory"


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_an_empty_file_is_an_empty_config(tmp_path: Path, text: str) -> None:
    """An empty file (or only comments) is an empty config: the "nothing to do" check, no crash."""
    assert _problems(tmp_path, text) == [
        "(top level): nothing to do: configure 'targets', 'acme', or both"
    ]


# --- the environment --------------------------------------------------------------


@pytest.mark.parametrize("value", ["[not json", '{"a": 1}', "[1]", " [1]"])
def test_a_secret_from_the_environment_is_never_parsed_as_json(tmp_path: Path, value: str) -> None:
    """A secret variable starting with [ or { stays a string: "not valid base64", no JSON error."""
    env = {"DNSSYNC_TARGETS__0__KEY__SECRET": value}
    assert _problems(tmp_path, {"targets": [_target()]}, env) == [
        "targets[0].key: the secret of key 'k' is not valid base64"
    ]


def test_an_env_secret_replaces_a_secret_file_in_the_file(tmp_path: Path) -> None:
    """DNSSYNC_..._KEY__SECRET drops the file's secret_file: no "set exactly one" error."""
    t = _target(key={"name": "k", "secret_file": str(tmp_path / "absent")})
    path = tmp_path / "dnssync.yaml"
    path.write_text(yaml.safe_dump({"targets": [t]}))
    cfg = load(path, env={"DNSSYNC_TARGETS__0__KEY__SECRET": SECRET})
    assert cfg.targets[0].key is not None and cfg.targets[0].key.secret_file is None
    acme = {"servers": [{"name": "m", "server": {"host": "127.0.0.1"}, "zones": ["a.test"]}]}
    acme["servers"][0]["key"] = {"name": "k", "secret_file": str(tmp_path / "absent")}
    path.write_text(yaml.safe_dump({"acme": acme}))
    cfg = load(path, env={"DNSSYNC_ACME__SERVERS__0__KEY__SECRET": SECRET})
    assert cfg.acme is not None and cfg.acme.servers[0].key is not None
    assert cfg.acme.servers[0].key.secret_file is None


def test_other_variables_are_skipped_not_an_end(tmp_path: Path) -> None:
    """DNSSYNC_CONFIG and unprefixed variables are no fields; overrides after them still apply."""
    path = tmp_path / "dnssync.yaml"
    path.write_text(yaml.safe_dump({"targets": [_target()]}))
    env = {
        "AAA": "first in order",
        "DNSSYNC_CONFIG": str(path),
        "DNSSYNC_TARGETS__0__POLICY": "create-only",  # the default is upsert-only
        "XDNSSYNC_POLICY": "x",
    }
    assert load(path, env=env).targets[0].policy.value == "create-only"


def test_json_values_may_start_after_spaces_and_be_objects(tmp_path: Path) -> None:
    """An override value that is JSON after leading spaces, list or object, is parsed."""
    path = tmp_path / "dnssync.yaml"
    path.write_text(yaml.safe_dump({"targets": [_target()]}))
    env = {
        "DNSSYNC_TARGETS__0__ZONES": '  ["b.test"]',
        "DNSSYNC_TARGETS__0__SERVER": '{"port": 5353}',
    }
    t = load(path, env=env).targets[0]
    assert t.zones == ("b.test",) and t.server.port == 5353


def test_a_secretish_last_name_alone_decides_against_json(tmp_path: Path) -> None:
    """TXT_ENCRYPT_KEY='[...' (under a plain target) is kept as text, never parsed as JSON."""
    path = tmp_path / "dnssync.yaml"
    path.write_text(yaml.safe_dump({"targets": [_target()]}))
    env = {"DNSSYNC_TARGETS__0__TXT_ENCRYPT_KEY": "[" + SECRET}
    key = load(path, env=env).targets[0].txt_encrypt_key
    assert key is not None and key.get_secret_value() == "[" + SECRET


def test_load_reads_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``env`` the process environment's DNSSYNC_ variables apply."""
    path = tmp_path / "dnssync.yaml"
    path.write_text(yaml.safe_dump({"targets": [_target()]}))
    monkeypatch.setenv("DNSSYNC_TARGETS__0__POLICY", "create-only")
    assert load(path).targets[0].policy.value == "create-only"


def test_state_dir_defaults_from_the_environment_and_a_set_one_stays(tmp_path: Path) -> None:
    """No state_dir: $XDG_STATE_HOME/dnssync; a configured state_dir is kept."""
    path = tmp_path / "dnssync.yaml"
    path.write_text(yaml.safe_dump({"targets": [_target()]}))
    cfg = load(path, env={"XDG_STATE_HOME": str(tmp_path / "xdg")})
    assert str(cfg.state_dir) == str(tmp_path / "xdg" / "dnssync")
    path.write_text(yaml.safe_dump({"targets": [_target()], "state_dir": str(tmp_path / "s")}))
    cfg = load(path, env={"XDG_STATE_HOME": str(tmp_path / "xdg")})
    assert str(cfg.state_dir) == str(tmp_path / "s")


def test_the_config_alias_bound_is_a_hundred_thousand(tmp_path: Path) -> None:
    """Six levels of nine aliases (531,441 values) pass the general bound, not the config's."""
    lol = ", ".join(['"lol"'] * 9)
    lines = [f"a: &a [{lol}]"]
    for prev, cur in zip("abcde", "bcdef", strict=True):
        lines.append(f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    text = "\n".join(lines) + "\ntargets: *f\n"
    assert _error(tmp_path, text) == (
        "<file>: the YAML expands through aliases to more than 100,000 values"
    )


def test_the_tsig_key_carries_name_secret_and_algorithm(tmp_path: Path) -> None:
    """KeyConfig.tsig() is dnspython's key with the configured name, secret and algorithm."""
    path = tmp_path / "dnssync.yaml"
    key = {"name": "k.example", "algorithm": "hmac-sha512", "secret": SECRET}
    path.write_text(yaml.safe_dump({"targets": [_target(key=key)]}))
    cfg_key = load(path, env={}).targets[0].key
    assert cfg_key is not None
    tsig = cfg_key.tsig()
    assert tsig.name.to_text() == "k.example."
    assert tsig.secret == base64.b64decode(SECRET)
    assert tsig.algorithm.to_text() == "hmac-sha512."
