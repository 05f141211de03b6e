"""``dnssync check`` against real BIND9, Knot and PowerDNS: a true cause for each failure.

The UPDATE probe must reach the update policy without changing the zone, so a key
the zone does not grant fails the check (it used to pass: BIND answers a failing
prerequisite before looking at the policy).
"""

from __future__ import annotations

import base64
import itertools
import os
import subprocess
import sys
from pathlib import Path

import dns.message
import dns.query
import dns.tsig
import pytest
import yaml
from pydantic import SecretStr

from dnssync.checks import Row, probe_acme, probe_target
from dnssync.config import AcmeConfig, AcmeServerConfig, KeyConfig, ServerConfig, TargetConfig
from tests.dnsservers import OTHER_ZONE, DNSServer, TsigKey

_n = itertools.count()


def _target(server: DNSServer, zone: str, key: TsigKey | None = None) -> TargetConfig:
    key = key or server.key
    return TargetConfig(
        name="t",
        server=ServerConfig(host=server.host, port=server.port, timeout=2.0),
        zones=(zone,),
        key=KeyConfig(name=key.name, algorithm=key.algorithm, secret=SecretStr(key.secret)),
    )


def _serial(server: DNSServer, zone: str) -> int:
    key = dns.tsig.Key(server.key.name, server.key.secret, server.key.algorithm)
    q = dns.message.make_query(zone + ".", "SOA")
    q.use_tsig(key)
    answer = dns.query.tcp(q, server.host, port=server.port, timeout=3)
    return int(answer.answer[0][0].serial)


def _txt(server: DNSServer, name: str) -> list[str]:
    answer = dns.query.tcp(dns.message.make_query(name + ".", "TXT"), server.host, port=server.port)
    return [rd.to_text() for rrset in answer.answer for rd in rrset]


def _by_check(rows: list[Row]) -> dict[str, tuple[bool, str]]:
    return {check: (passed, detail) for _, check, passed, detail in rows}


def _wrong_secret(server: DNSServer) -> TsigKey:
    return TsigKey(server.key.name, server.key.algorithm, base64.b64encode(os.urandom(32)).decode())


async def test_a_granted_key_passes_every_probe_and_the_zone_is_unchanged(
    dns_server: DNSServer,
) -> None:
    """SOA, AXFR and the no-op UPDATE all pass, and the serial does not move."""
    zone = f"chk{next(_n)}.test"
    dns_server.add_zone(zone, "www 300 IN A 192.0.2.1\n")
    before = _serial(dns_server, zone)
    rows = _by_check(await probe_target(_target(dns_server, zone)))
    assert all(passed for passed, _ in rows.values()), rows
    assert set(rows) == {"SOA query", "signed AXFR", "UPDATE probe", "write scopes"}
    assert _serial(dns_server, zone) == before


async def test_a_zone_not_served_is_named_as_such(dns_server: DNSServer) -> None:
    """BIND and PowerDNS REFUSE, Knot answers unsigned: each is "does not serve zone"."""
    rows = _by_check(await probe_target(_target(dns_server, f"nothere{next(_n)}.test")))
    passed, detail = rows["SOA query"]
    assert not passed and "does not serve zone" in detail, detail
    assert "update policy" not in detail and "UPDATE probe" not in rows


async def test_a_key_the_zone_does_not_grant_fails_the_check(dns_server: DNSServer) -> None:
    """other.test grants only the other key: the check fails naming the policy or the key."""
    rows = _by_check(await probe_target(_target(dns_server, OTHER_ZONE)))
    assert not all(passed for passed, _ in rows.values()), rows
    if dns_server.kind == "knot":
        # Knot knows keys per zone ACL: our key is unknown for other.test.
        passed, detail = rows["SOA query"]
        assert not passed and "BADKEY" in detail and "not for this zone" in detail
    else:
        passed, detail = rows["UPDATE probe"]
        assert not passed and "REFUSED" in detail and "may not write" in detail, detail
        assert not rows["signed AXFR"][0]


@pytest.mark.parametrize("fault", ["wrong secret", "unknown key name"])
async def test_bad_key_material_is_a_tsig_cause(dns_server: DNSServer, fault: str) -> None:
    """A wrong secret is BADSIG, an unknown name BADKEY; PowerDNS answers both unsigned."""
    zone = f"chk{next(_n)}.test"
    dns_server.add_zone(zone)
    key = _wrong_secret(dns_server)
    if fault == "unknown key name":
        key = TsigKey("no-such-key", key.algorithm, dns_server.key.secret)
    rows = _by_check(await probe_target(_target(dns_server, zone, key)))
    passed, detail = rows["SOA query"]
    assert not passed
    if dns_server.kind == "pdns":
        assert "answered our signed query unsigned" in detail, detail
    else:
        assert ("BADSIG" if fault == "wrong secret" else "BADKEY") in detail, detail
    assert "does not serve" not in detail


async def test_acme_servers_are_probed_at_acme_challenge(bind_server: DNSServer) -> None:
    """An ACME zone gets the SOA query and a real present + clean-up; a refused key fails it."""
    zone = f"chk{next(_n)}.test"
    bind_server.add_zone(zone)
    key = bind_server.key

    def acme(z: str) -> AcmeConfig:
        server = AcmeServerConfig(
            name="m",
            server=ServerConfig(host=bind_server.host, port=bind_server.port, timeout=2.0),
            key=KeyConfig(name=key.name, algorithm=key.algorithm, secret=SecretStr(key.secret)),
            zones=(z,),
        )
        return AcmeConfig(servers=(server,), verify="primary")

    rows = await probe_acme(acme(zone))
    assert {name for name, _ in rows} == {"m"}
    ok = _by_check([row for _, row in rows])
    passed, detail = ok["present + clean-up"]
    assert passed and f"_acme-challenge.{zone}" in detail
    assert ok["DNSSEC"] == (True, "unsigned")
    assert _txt(bind_server, f"_acme-challenge.{zone}") == []  # the probe value is gone
    refused = _by_check([row for _, row in await probe_acme(acme(OTHER_ZONE))])
    passed, detail = refused["present + clean-up"]
    assert not passed and "REFUSED" in detail and "may not write TXT" in detail, detail


def test_check_command_covers_targets_and_acme_and_exits_by_the_result(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """`dnssync check`: 0 when every probe passes, 1 when the ACME server's key is refused."""
    zone = f"chk{next(_n)}.test"
    bind_server.add_zone(zone)
    key = {
        "name": bind_server.key.name,
        "algorithm": bind_server.key.algorithm,
        "secret": bind_server.key.secret,
    }
    server = {"host": bind_server.host, "port": bind_server.port}
    data = {
        "targets": [{"name": "t", "server": server, "zones": [zone], "key": key}],
        "acme": {"servers": [{"name": "m", "server": server, "key": key, "zones": [zone]}]},
    }
    cfg = tmp_path / "c.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    env["COLUMNS"] = "200"

    def check() -> subprocess.CompletedProcess[str]:
        cfg.write_text(yaml.safe_dump(data))
        return subprocess.run(
            [sys.executable, "-m", "dnssync", "check", "-c", str(cfg)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    fine = check()
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "acme m" in fine.stdout and "_acme-challenge" in fine.stdout
    data["acme"]["servers"][0]["zones"] = [OTHER_ZONE]  # type: ignore[index]
    refused = check()
    assert refused.returncode == 1, refused.stdout
    assert "REFUSED" in refused.stdout
