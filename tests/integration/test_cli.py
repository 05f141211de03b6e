"""`dnssync plan` / `dnssync sync --once` end to end, as a process, against real BIND9."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import dns.query
import dns.tsig
import dns.update
import dns.zone
import pytest
import yaml

from tests.dnsservers import DNSServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "config" / "examples" / "manifests"
SEED = """\
router 300 IN A 192.0.2.1
nas 300 IN A 192.0.2.2
laptop-anna 300 IN A 192.0.2.100
laptop-anna 300 IN TXT "31a2b3c4d5e6f708192a3b4c5d6e7f8091"
"""
_count = itertools.count()


def _key(server: DNSServer) -> dns.tsig.Key:
    return dns.tsig.Key(server.key.name, server.key.secret, server.key.algorithm)


def _config(tmp: Path, server: DNSServer, zone: str, manifests: Path, **target: object) -> Path:
    secret = tmp / "tsig.secret"
    secret.write_text(server.key.secret + "\n")
    secret.chmod(0o600)
    cfg = {
        "manifests": str(manifests),
        "targets": [
            {
                "name": "internal",
                "server": {"host": server.host, "port": server.port},
                "zones": [zone],
                "key": {
                    "name": server.key.name,
                    "algorithm": "HMACSHA256",
                    "secret_file": str(secret),
                },
                "policy": "upsert-only",
                "owner_id": "cli-test",
                "txt_prefix": "extdns-",
                "annotation_filter": "external-dns.alpha.kubernetes.io/manage=mdapi",
                "annotation_prefix": "external-dns.alpha.kubernetes.io/",
                **target,
            }
        ],
    }
    path = tmp / "dnssync.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def dnssync(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "dnssync", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def axfr(server: DNSServer, zone: str) -> dns.zone.Zone:
    key = _key(server)
    return dns.zone.from_xfr(
        dns.query.xfr(server.host, zone + ".", port=server.port, keyring={key.name: key})
    )


def _rr(z: dns.zone.Zone, name: str, type_: str) -> list[str]:
    rds = z.get_rdataset(name, type_)
    return sorted(rd.to_text(origin=z.origin, relativize=False) for rd in rds) if rds else []


def test_example_syncs_converges_and_leaves_manual_records(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """The seed example publishes, keeps manual/DHCP records, and a second run sends nothing."""
    zone = "home.tillo.ch"
    if zone not in bind_server.zones:
        bind_server.add_zone(zone, SEED)
    cfg = _config(tmp_path, bind_server, zone, EXAMPLES)
    before = axfr(bind_server, zone)

    planned = dnssync("plan", "-c", str(cfg))
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert "create" in planned.stdout and "grafana.home.tillo.ch" in planned.stdout

    synced = dnssync("sync", "--once", "-c", str(cfg))
    assert synced.returncode == 0, synced.stdout + synced.stderr
    after = axfr(bind_server, zone)
    assert _rr(after, "grafana", "A") == ["192.0.2.10"]
    assert _rr(after, "ha", "CNAME") == ["ingress.home.tillo.ch."]
    assert _rr(after, "extdns-a-grafana", "TXT") == [
        '"heritage=external-dns,external-dns/owner=cli-test,'
        'external-dns/resource=ingress/monitoring/grafana"'
    ]
    for name, type_ in [
        ("router", "A"),
        ("nas", "A"),
        ("laptop-anna", "A"),
        ("laptop-anna", "TXT"),
    ]:
        assert _rr(after, name, type_) == _rr(before, name, type_)
    assert not _rr(after, "ignored", "A")  # the object without the opt-in annotation

    serial = after.get_soa().serial
    again = dnssync("sync", "--once", "-c", str(cfg))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "in step" in again.stdout
    assert axfr(bind_server, zone).get_soa().serial == serial, "a no-op run sent an UPDATE"
    assert dnssync("plan", "-c", str(cfg)).returncode == 0


BAD = """\
apiVersion: v1
kind: Service
metadata:
  name: longlabel
  namespace: apps
  annotations:
    external-dns.alpha.kubernetes.io/manage: mdapi
    external-dns.alpha.kubernetes.io/hostname: {long}.{zone}
    external-dns.alpha.kubernetes.io/target: 192.0.2.30
---
apiVersion: v1
kind: Service
metadata:
  name: badchars
  namespace: apps
  annotations:
    external-dns.alpha.kubernetes.io/manage: mdapi
    external-dns.alpha.kubernetes.io/hostname: bad_name!.{zone}
    external-dns.alpha.kubernetes.io/target: 192.0.2.31
---
apiVersion: v1
kind: Service
metadata:
  name: elsewhere
  namespace: apps
  annotations:
    external-dns.alpha.kubernetes.io/manage: mdapi
    external-dns.alpha.kubernetes.io/hostname: www.example.org
    external-dns.alpha.kubernetes.io/target: 192.0.2.32
---
apiVersion: v1
kind: Service
metadata:
  name: badip
  namespace: apps
  annotations:
    external-dns.alpha.kubernetes.io/manage: mdapi
    external-dns.alpha.kubernetes.io/hostname: badip.{zone}
    external-dns.alpha.kubernetes.io/target: 192.0.2.300
---
apiVersion: v1
kind: Service
metadata:
  name: badttl
  namespace: apps
  annotations:
    external-dns.alpha.kubernetes.io/manage: mdapi
    external-dns.alpha.kubernetes.io/hostname: badttl.{zone}
    external-dns.alpha.kubernetes.io/target: 192.0.2.33
    external-dns.alpha.kubernetes.io/ttl: "99999999999"
---
apiVersion: v1
kind: Service
metadata:
  name: toolong
  namespace: apps
  annotations:
    external-dns.alpha.kubernetes.io/manage: mdapi
    external-dns.alpha.kubernetes.io/hostname: {toolong}.{zone}
    external-dns.alpha.kubernetes.io/target: 192.0.2.34
---
apiVersion: v1
kind: Service
metadata:
  name: fine
  namespace: apps
  annotations:
    external-dns.alpha.kubernetes.io/manage: mdapi
    external-dns.alpha.kubernetes.io/hostname: fine.{zone}
    external-dns.alpha.kubernetes.io/target: 192.0.2.35
"""


def test_bad_input_is_reported_by_place_and_the_rest_syncs(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """Invalid names, IPs, TTLs, zones and YAML are each named; the valid rest still syncs."""
    zone = f"bad{next(_count)}.test"
    bind_server.add_zone(zone)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    toolong = ".".join(["a" * 60] * 5)
    (manifests / "services.yaml").write_text(BAD.format(long="x" * 64, zone=zone, toolong=toolong))
    (manifests / "broken.yaml").write_text("kind: Service\nmetadata: [unclosed\n")
    cfg = _config(tmp_path, bind_server, zone, manifests)
    result = dnssync("sync", "--once", "-c", str(cfg))
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert "broken.yaml" in out and "line" in out
    assert "apps/longlabel" in out and "63" in out
    assert "apps/badchars" in out
    assert "apps/badip" in out and "192.0.2.300" in out
    assert "apps/badttl" in out
    assert "apps/toolong" in out and "253" in out
    assert "www.example.org" in out and "not inside any zone" in out
    z = axfr(bind_server, zone)
    assert _rr(z, "fine", "A") == ["192.0.2.35"]
    assert not _rr(z, "badip", "A")
    # A bad ttl degrades to the default TTL, as in external-dns (still reported above).
    assert _rr(z, "badttl", "A") == ["192.0.2.33"]
    badttl = z.get_rdataset("badttl", "A")
    assert badttl is not None and badttl.ttl == 300


def test_invalid_config_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    """A broken config names the key and reason and exits 2, writing nothing."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "manifests": str(tmp_path),
                "targets": [
                    {
                        "name": "a",
                        "zones": ["example.test"],
                        "key": {"name": "k", "algorithm": "hmac-sha999", "secret_file": "/nope"},
                        "annotation_filter": "a in (b",
                    }
                ],
            }
        )
    )
    result = dnssync("sync", "--once", "-c", str(cfg))
    assert result.returncode == 2
    assert "targets[0].key.algorithm" in result.stderr
    assert "not a TSIG algorithm; known: " in result.stderr and "hmac-sha256" in result.stderr


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"zones": ["a.test", "a.test"]}, "served by both"),
        ({"annotation_filter": "a in (b"}, "annotation filter"),
        ({"key": {"name": "k", "secret_file": "/does/not/exist"}}, "secret_file"),
        ({"txt_prefix": "x-", "txt_suffix": "-y"}, "mutually exclusive"),
        ({"txt_encrypt_key": "too-short"}, "32 bytes"),
    ],
)
def test_config_errors_name_the_problem(
    tmp_path: Path, change: dict[str, object], needle: str
) -> None:
    """Overlapping zones, bad filters and missing secret files are clear errors."""
    secret = tmp_path / "s"
    secret.write_text("c2VjcmV0c2VjcmV0\n")
    target: dict[str, object] = {
        "name": "a",
        "zones": ["a.test"],
        "key": {"name": "k", "secret_file": str(secret)},
    }
    target.update(change)
    targets = [target]
    if needle == "served by both":
        targets = [
            {**target, "zones": ["a.test"]},
            {**target, "name": "b", "zones": ["a.test"]},
        ]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"manifests": str(tmp_path), "targets": targets}))
    result = dnssync("check", "-c", str(cfg))
    assert result.returncode == 2, result.stdout + result.stderr
    assert needle in result.stderr
