"""The acme section of the configuration (config.AcmeConfig) and the hook environment."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from dnssync.config import AcmeConfig, acme_hook_env, load
from dnssync.errors import ConfigError

SECRET = base64.b64encode(b"s" * 32).decode()


def server(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "bind",
        "server": {"host": "127.0.0.1", "port": 5353},
        "key": {"name": "mdapi", "algorithm": "HMACSHA256", "secret": SECRET},
        "zones": ["MDAPI.ch."],
    }
    base.update(extra)
    return base


def test_defaults() -> None:
    """TTL 60, markers on, every authoritative server verified, webhook on 8443, grace 10 min."""
    cfg = AcmeConfig.model_validate({"servers": [server()]})
    assert cfg.ttl == 60
    assert cfg.markers and cfg.verify == "authoritative"
    assert cfg.servers[0].zones == ("mdapi.ch",)
    assert cfg.servers[0].key is not None
    assert cfg.servers[0].key.algorithm == "hmac-sha256"
    assert cfg.webhook.port == 8443
    assert cfg.webhook.auth_configmap == "kube-system/extension-apiserver-authentication"
    assert cfg.challenges.grace == 600


@pytest.mark.parametrize(
    ("given", "mode"), [(True, "primary"), (False, "off"), ("authoritative", "authoritative")]
)
def test_verify_booleans_keep_their_meaning(given: object, mode: str) -> None:
    """verify: true (the old default) reads back from the primary only; false verifies nothing."""
    assert AcmeConfig.model_validate({"servers": [server()], "verify": given}).verify == mode


def test_nameservers_and_resolvers_parse() -> None:
    """host, host:port and [v6]:port; port 53 by default."""
    cfg = AcmeConfig.model_validate(
        {
            "servers": [
                server(nameservers=["ns1.example.net", "192.0.2.1:5300", "[2001:db8::1]:53"])
            ],
            "resolvers": ["system", "9.9.9.9:53"],
        }
    )
    assert cfg.servers[0].nameserver_addresses() == (
        ("ns1.example.net", 53),
        ("192.0.2.1", 5300),
        ("2001:db8::1", 53),
    )
    assert cfg.resolver_addresses() == (("9.9.9.9", 53),)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"servers": []}, "at least one server"),
        ({"servers": [server(), server()]}, "server names must be unique"),
        ({"servers": [server(), server(name="b")]}, "is on both servers"),
        ({"servers": [server(nameservers=["ns:x"])]}, "nameserver"),
        ({"servers": [server()], "owner_id": "a,b"}, "owner_id"),
        ({"servers": [server()], "ttl": 0}, "ttl"),
        ({"servers": [server()], "webhook": {"solver_name": "Bad_Name"}}, "resource name"),
        ({"servers": [server()], "webhook": {"auth_configmap": "nons"}}, "namespace/name"),
        ({"servers": [server()], "resolvers": ["host:notaport"]}, "resolver"),
    ],
)
def test_invalid_acme_sections(data: dict[str, object], text: str) -> None:
    """Each mistake is reported with its reason."""
    with pytest.raises(ValueError, match=text):
        AcmeConfig.model_validate(data)


def test_acme_section_in_a_config_file_and_secret_not_echoed(tmp_path: Path) -> None:
    """A YAML file with an acme section loads; a bad secret is named, never shown."""
    secret_file = tmp_path / "key"
    secret_file.write_text(SECRET)
    good = tmp_path / "good.yaml"
    good.write_text(
        "targets: []\n"
        "acme:\n"
        "  servers:\n"
        "    - name: bind\n"
        "      key: {name: mdapi, secret_file: " + str(secret_file) + "}\n"
        "      zones: [mdapi.ch]\n"
    )
    cfg = load(good, env={})
    assert cfg.acme is not None
    assert cfg.acme.servers[0].zones == ("mdapi.ch",)
    assert SECRET not in repr(cfg)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "targets: []\nacme:\n  servers:\n    - name: bind\n"
        "      key: {name: k, secret: 'not-b64!'}\n"
    )
    with pytest.raises(ConfigError) as info:
        load(bad, env={})
    assert "not-b64!" not in str(info.value)
    assert "acme.servers[0].key" in str(info.value)


def test_env_override_reaches_the_acme_section(tmp_path: Path) -> None:
    """DNSSYNC_ACME__SERVERS__0__KEY__SECRET fills the secret from the environment."""
    path = tmp_path / "c.yaml"
    path.write_text("targets: []\nacme:\n  servers:\n    - name: bind\n      key: {name: mdapi}\n")
    cfg = load(path, env={"DNSSYNC_ACME__SERVERS__0__KEY__SECRET": SECRET})
    assert cfg.acme is not None
    key = cfg.acme.servers[0].key
    assert key is not None
    assert key.secret is not None
    assert key.secret.get_secret_value() == SECRET


def test_hook_environment() -> None:
    """certbot's variables are read through config.py; empty counts as unset."""
    env = acme_hook_env({"CERTBOT_DOMAIN": "example.com", "CERTBOT_VALIDATION": ""})
    assert env.certbot_domain == "example.com"
    assert env.certbot_validation is None
