"""`server.gss` (GSS-TSIG): validated once at load, one clear line on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dnssync.config import Config, load
from dnssync.errors import ConfigError

KEYTAB_HEAD = b"\x05\x02"  # MIT keytab format 0x0502; the rest is never read here


def _load(tmp: Path, gss: dict[str, object], **target: object) -> Config:
    t = {"name": "a", "zones": ["example.test"], "server": {"gss": gss}, **target}
    path = tmp / "dnssync.yaml"
    path.write_text(yaml.safe_dump({"targets": [t]}))
    return load(path, env={})


def _keytab(tmp: Path, body: bytes = KEYTAB_HEAD + b"\x00" * 40) -> Path:
    path = tmp / "dnssync.keytab"
    path.write_bytes(body)
    path.chmod(0o600)
    return path


def test_keytab_relative_to_the_config_and_defaults(tmp_path: Path) -> None:
    """A relative keytab is found beside the config; service and lifetime default."""
    _keytab(tmp_path)
    cfg = _load(tmp_path, {"principal": "dnssync@EXAMPLE.TEST", "keytab": "dnssync.keytab"})
    gss = cfg.targets[0].server.gss
    assert gss is not None
    assert gss.keytab == tmp_path / "dnssync.keytab"
    assert (gss.service, gss.lifetime, gss.ccache) == ("DNS/{host}", 3600, None)


@pytest.mark.parametrize(
    ("gss", "expected"),
    [
        ({"principal": "two words@R"}, "not a Kerberos principal"),
        ({"principal": "a@b@c"}, "not a Kerberos principal"),
        ({"principal": "dnssync@"}, "not a Kerberos principal"),
        ({"principal": "p", "keytab": "/nonexistent/k.keytab"}, "cannot read keytab"),
        ({"principal": "p", "lifetime": 5}, "greater than or equal to 60"),
    ],
)
def test_bad_gss_settings_fail_in_one_line(
    tmp_path: Path, gss: dict[str, object], expected: str
) -> None:
    """Each bad value is named with its place, in one line."""
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, gss)
    line = next(x for x in str(info.value).splitlines() if "server.gss" in x)
    assert expected in line


def test_a_file_that_is_no_keytab_is_refused_without_its_content(tmp_path: Path) -> None:
    """A secret pasted in place of a keytab is refused, and its bytes are never shown."""
    path = _keytab(tmp_path, b"c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1sZWFr")
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, {"principal": "p", "keytab": str(path)})
    assert "not a Kerberos keytab" in str(info.value)
    assert "c2VjcmV0" not in str(info.value)


def test_key_and_gss_together_are_refused(tmp_path: Path) -> None:
    """A target signs with a key or with GSS-TSIG, never both."""
    key = {"name": "k", "secret": "c2VjcmV0"}
    with pytest.raises(ConfigError, match=r"either 'key' or 'server\.gss'"):
        _load(tmp_path, {"principal": "p"}, key=key)
