"""`dnssync sync --once` figures (planner issue), whole processes, same run as the floors.

- sync of N Services from empty vs a raw dnspython script sending the same
  A + ownership TXT records (process start-up included on both sides);
- no-op sync on the N-record zone vs a bare dnspython AXFR script;
- 1 % of the objects changed vs the no-op;
- octoDNS + octodns-bind, when importable in this venv, syncing the same
  records from a YAML zone (reported, not required).

Run: ``python -m bench.sync [--records N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import yaml

from bench.common import median, report, run_process, server
from tests.dnsservers import DNSServer

RAW_APPLY = """
import sys, dns.query, dns.update, dns.tsig
host, port, zone, name, alg, secret, n = sys.argv[1:8]
n = int(n)
key = dns.tsig.Key(name, secret, alg)
upd = dns.update.UpdateMessage(zone + ".", keyring=key)
count = 0
for i in range(n):
    ip = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
    upd.add(f"s{i}.{zone}.", 300, "A", ip)
    upd.add(f"extdns-a-s{i}.{zone}.", 300, "TXT",
            f'"heritage=external-dns,external-dns/owner=bench,external-dns/resource=service/b/s{i}"')
    count += 2
    if count >= 500:
        assert dns.query.tcp(upd, host, port=int(port), timeout=30).rcode() == 0
        upd = dns.update.UpdateMessage(zone + ".", keyring=key)
        count = 0
if count:
    assert dns.query.tcp(upd, host, port=int(port), timeout=30).rcode() == 0
"""

RAW_AXFR = """
import sys, dns.query, dns.tsig
host, port, zone, name, alg, secret = sys.argv[1:7]
key = dns.tsig.Key(name, secret, alg)
msgs = list(dns.query.xfr(host, zone + ".", port=int(port), keyring={key.name: key}))
assert msgs
"""


def manifests(path: Path, n: int, *, changed: int = 0) -> None:
    path.mkdir(parents=True, exist_ok=True)
    docs = []
    for i in range(n):
        octet = 1 if i < changed else 0
        ip = f"10.{(i // 65536 % 256) + octet * 100}.{i // 256 % 256}.{i % 256}"
        docs.append(
            textwrap.dedent(
                f"""\
                apiVersion: v1
                kind: Service
                metadata:
                  name: s{i}
                  namespace: b
                  annotations:
                    external-dns.alpha.kubernetes.io/hostname: s{i}.{{zone}}
                    external-dns.alpha.kubernetes.io/target: {ip}
                    external-dns.alpha.kubernetes.io/ttl: "300"
                """
            )
        )
    (path / "services.yaml").write_text("---\n".join(docs))


def config(tmp: Path, s: DNSServer, zone: str, mdir: Path) -> Path:
    secret = tmp / "secret"
    secret.write_text(s.key.secret)
    text = (mdir / "services.yaml").read_text().replace("{zone}", zone)
    (mdir / "services.yaml").write_text(text)
    cfg = {
        "manifests": str(mdir),
        "targets": [
            {
                "name": "bench",
                "server": {"host": s.host, "port": s.port},
                "zones": [zone],
                "key": {
                    "name": s.key.name,
                    "algorithm": s.key.algorithm,
                    "secret_file": str(secret),
                },
                "policy": "sync",
                "owner_id": "bench",
                "txt_prefix": "extdns-",
                "annotation_prefix": "external-dns.alpha.kubernetes.io/",
                "max_change_ratio": None,
            }
        ],
    }
    path = tmp / f"{zone}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


#: Peak RSS (MiB) of the processes :func:`run` ran, by the figure they belong to.
PEAKS: dict[str, list[float]] = {}


def run(argv: list[str], peak: str = "") -> float:
    """Wall seconds of one process; its peak RSS goes to ``PEAKS[peak]`` when named."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    ran = run_process(argv, env)
    if peak:
        PEAKS.setdefault(peak, []).append(ran.peak_mib)
    return ran.wall


def octodns_python() -> str | None:
    """A Python that has octodns and octodns-bind (``--octodns-python``, or ours)."""
    for py in (os.environ.get("OCTODNS_PYTHON"), sys.executable):
        if not py:
            continue
        probe = subprocess.run([py, "-c", "import octodns, octodns_bind"], capture_output=True)
        if probe.returncode == 0:
            return py
    return None


def octodns_sync(py: str, tmp: Path, s: DNSServer, zone: str, n: int) -> float:
    """octoDNS + octodns-bind converging the same records from a YAML zone."""
    zones = tmp / f"octo-{zone}"
    zones.mkdir()
    records = {
        f"s{i:06d}": {  # octoDNS wants keys in natural order
            "type": "A",
            "ttl": 300,
            "value": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
        }
        for i in range(n)
    }
    # The zone's own NS and its address, so octoDNS does not try to delete them.
    records[""] = {"type": "NS", "ttl": 3600, "value": f"ns1.{zone}."}
    records["ns1"] = {"type": "A", "ttl": 3600, "value": "127.0.0.1"}
    (zones / f"{zone}.yaml").write_text(yaml.safe_dump(records))
    cfg = {
        "providers": {
            "config": {"class": "octodns.provider.yaml.YamlProvider", "directory": str(zones)},
            "bind": {
                "class": "octodns_bind.Rfc2136Provider",
                "host": s.host,
                "port": s.port,
                "key_name": s.key.name,
                "key_secret": s.key.secret,
                "key_algorithm": s.key.algorithm,
            },
        },
        "zones": {f"{zone}.": {"sources": ["config"], "targets": ["bind"]}},
    }
    path = tmp / f"octo-{zone}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    sync = str(Path(py).parent / "octodns-sync")
    return run([sync, f"--config-file={path}", "--doit", "--force"], "octodns")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.records
    py = sys.executable
    rows = []
    with server("bind") as s, tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        creds = [s.key.name, s.key.algorithm, s.key.secret]
        raw, ours, noop, axfr, onepct = [], [], [], [], []
        for r in range(args.rounds):
            zr, zo = f"raw{r}.sync", f"ours{r}.sync"
            s.add_zone(zr)
            s.add_zone(zo)
            raw.append(run([py, "-c", RAW_APPLY, s.host, str(s.port), zr, *creds, str(n)], "raw"))
            mdir = tmp / f"m{r}"
            manifests(mdir, n)
            cfg = config(tmp, s, zo, mdir)
            ours.append(run([py, "-m", "dnssync", "sync", "--once", "-c", str(cfg)], "ours"))
            noop.append(run([py, "-m", "dnssync", "sync", "--once", "-c", str(cfg)], "noop"))
            axfr.append(run([py, "-c", RAW_AXFR, s.host, str(s.port), zo, *creds]))
            cdir = tmp / f"c{r}"
            manifests(cdir, n, changed=n // 100)
            ccfg = config(tmp, s, zo, cdir)
            onepct.append(run([py, "-m", "dnssync", "sync", "--once", "-c", str(ccfg)]))
        rows += [
            {"figure": f"raw dnspython script: apply {n} A+TXT", "value": median(raw)},
            {
                "figure": f"dnssync sync --once {n} from empty",
                "value": median(ours),
                "ratio": median(ours) / median(raw),
                "goal": 1.5,
            },
            {"figure": f"bare dnspython AXFR script, {n}-record zone", "value": median(axfr)},
            {
                "figure": "dnssync sync --once, nothing to do",
                "value": median(noop),
                "ratio": median(noop) / median(axfr),
                "goal": 1.3,
            },
            {
                "figure": "dnssync sync --once, 1 % changed",
                "value": median(onepct),
                "ratio": median(onepct) / median(noop),
                "goal": 1.2,
            },
        ]
        octo = octodns_python()
        if octo is None:
            print("octoDNS + octodns-bind not installed (set OCTODNS_PYTHON): not compared")
        else:
            times = []
            for r in range(args.rounds):
                zone = f"octo{r}.sync"
                s.add_zone(zone)
                times.append(octodns_sync(octo, tmp, s, zone, n))
            rows.append(
                {
                    "figure": f"octoDNS + octodns-bind sync {n} from empty",
                    "value": median(times),
                    "ratio": median(times) / median(ours),
                    "goal": "≥ 4 (speed-up of dnssync)",
                }
            )
    rows += [
        {"figure": f"  peak RSS: {what}", "value": median(PEAKS[key]), "unit": "MiB"}
        for key, what in _PEAK_FIGURES.items()
        if key in PEAKS
    ]
    report("sync", rows)


_PEAK_FIGURES = {
    "raw": "raw dnspython apply script",
    "ours": "dnssync sync --once from empty",
    "noop": "dnssync sync --once, nothing to do",
    "octodns": "octoDNS sync from empty",
}


if __name__ == "__main__":
    main()
