"""Whole-process costs of the short-lived commands (issue #12), each beside its floor.

Every figure is a whole process, as CI and certbot/lego run them, with the
raw-dnspython floor doing the same DNS work as a process in the same,
interleaved rounds (medians):

- no-op ``sync --once`` at N records (one Service per record, one manifests
  file), warm state directory: goal value <= 0.3 s at 10k; floor: a dnspython
  script sending the one SOA query a no-op needs;
- the first no-op after a change (no idle mark: zone from the stored
  snapshot, manifests from the cache, a full plan);
- 1 % of the Services changed, in place in the same file: goal <= 0.4 s;
  floor: a dnspython script sending the SOA query and one UPDATE replacing
  those records;
- the same no-op without the state directory (``--no-state``: AXFR, parse,
  plan), what every run cost before;
- ``dnssync acme present`` and ``cleanup``: goal <= 0.15 s; floor: a
  dnspython script adding (removing) the TXT value with one signed UPDATE;
- ``python -c pass``: the interpreter alone.

Run: ``python -m bench.oneshot [--records N] [--rounds R]`` (``make bench``
runs it with the others).  Bytecode is written (PYTHONDONTWRITEBYTECODE is
dropped) and a warm-up round runs first, as for an installed package.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.common import median, report, run_process, server
from bench.sync import config, manifests
from tests.dnsservers import DNSServer

RAW_SOA = """
import sys, dns.message, dns.query, dns.rdatatype, dns.tsig
host, port, zone, name, alg, secret = sys.argv[1:7]
q = dns.message.make_query(zone + ".", dns.rdatatype.SOA)
q.use_tsig(dns.tsig.Key(name, secret, alg))
assert dns.query.udp(q, host, port=int(port), timeout=10).answer
"""

RAW_CHANGE = """
import sys, dns.message, dns.query, dns.rdatatype, dns.tsig, dns.update
host, port, zone, name, alg, secret, n, octet = sys.argv[1:9]
key = dns.tsig.Key(name, secret, alg)
q = dns.message.make_query(zone + ".", dns.rdatatype.SOA)
q.use_tsig(key)
assert dns.query.udp(q, host, port=int(port), timeout=10).answer
upd = dns.update.UpdateMessage(zone + ".", keyring=key)
for i in range(int(n)):
    upd.replace(f"s{i}.{zone}.", 300, "A", f"10.{octet}.{i // 256 % 256}.{i % 256}")
assert dns.query.tcp(upd, host, port=int(port), timeout=30).rcode() == 0
"""

RAW_TXT = """
import sys, dns.query, dns.tsig, dns.update
host, port, zone, name, alg, secret, action, record, value = sys.argv[1:10]
upd = dns.update.UpdateMessage(zone + ".", keyring=dns.tsig.Key(name, secret, alg))
if action == "present":
    upd.add(record + ".", 60, "TXT", f'"{value}"')
else:
    upd.delete(record + ".", "TXT", f'"{value}"')
assert dns.query.tcp(upd, host, port=int(port), timeout=10).rcode() == 0
"""


def environment(state: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DNSSYNC_", "CERTBOT_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["XDG_STATE_HOME"] = str(state)
    return env


Times = dict[str, list[float]]


def timed_run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process."""
    ran = run_process(argv, env)
    return ran.wall, ran.cpu


def acme_config(tmp: Path, s: DNSServer, zone: str) -> Path:
    secret = tmp / "acme.secret"
    secret.write_text(s.key.secret + "\n")
    secret.chmod(0o600)
    path = tmp / "acme.yaml"
    path.write_text(
        "targets: []\nacme:\n  servers:\n    - name: bench\n"
        f"      server: {{host: {s.host}, port: {s.port}}}\n"
        f"      key: {{name: {s.key.name}, algorithm: {s.key.algorithm}, "
        f"secret_file: {secret}}}\n"
        f"      zones: [{zone}]\n"
    )
    return path


class Bench:
    """One BIND, one synced zone of N records, the variants of its manifests file."""

    def __init__(self, s: DNSServer, tmp: Path, n: int) -> None:
        self.s, self.n, self.py = s, n, sys.executable
        self.env = environment(tmp / "state")
        self.zone, self.acme_zone = "oneshot.bench", "acme.bench"
        s.add_zone(self.zone)
        s.add_zone(self.acme_zone)
        self.creds = [s.host, str(s.port), self.zone, s.key.name, s.key.algorithm, s.key.secret]
        mdir = tmp / "manifests"
        manifests(tmp / "changed", n, changed=n // 100)
        manifests(mdir, n)
        self.cfg = config(tmp, s, self.zone, mdir)
        changed = (tmp / "changed" / "services.yaml").read_text().replace("{zone}", self.zone)
        self.texts = {"base": (mdir / "services.yaml").read_text(), "changed": changed}
        self.file = mdir / "services.yaml"
        self.acme = acme_config(tmp, s, self.acme_zone)
        self.sync(mode="base")  # converge from empty (not measured)

    def sync(self, *extra: str, mode: str = "base") -> tuple[float, float]:
        self.file.write_text(self.texts[mode])
        argv = [self.py, "-m", "dnssync", "sync", "--once", "-c", str(self.cfg), *extra]
        return timed_run(argv, self.env)

    def raw(self, script: str, *args: str) -> tuple[float, float]:
        return timed_run([self.py, "-c", script, *args], self.env)

    def hook(self, action: str, record: str, value: str) -> tuple[float, float]:
        argv = [self.py, "-m", "dnssync", "acme", action, "-c", str(self.acme), record, value]
        return timed_run(argv, self.env)

    def round(self, wall: Times, cpu: Times) -> None:
        """One interleaved round; the zone ends as it began (base, idle mark set)."""

        def rec(key: str, seconds: tuple[float, float]) -> None:
            wall.setdefault(key, []).append(seconds[0])
            cpu.setdefault(key, []).append(seconds[1])

        n1 = str(max(self.n // 100, 1))
        rec("floor_soa", self.raw(RAW_SOA, *self.creds))
        rec("noop", self.sync())
        rec("floor_change", self.raw(RAW_CHANGE, *self.creds, n1, "100"))
        self.raw(RAW_CHANGE, *self.creds, n1, "0")  # back to base, unmeasured
        rec("changed", self.sync(mode="changed"))
        rec("changed", self.sync(mode="base"))  # 1 % changed back
        rec("noop_first", self.sync())  # full run from the state: leaves the mark
        rec("noop_cold", self.sync("--no-state"))
        record, value = f"_acme-challenge.{self.acme_zone}", secrets.token_urlsafe(32)
        acme = [self.s.host, str(self.s.port), self.acme_zone, *self.creds[3:]]
        rec("floor_present", self.raw(RAW_TXT, *acme, "present", record, value))
        rec("floor_cleanup", self.raw(RAW_TXT, *acme, "cleanup", record, value))
        rec("present", self.hook("present", record, value))
        rec("cleanup", self.hook("cleanup", record, value))
        rec("python", self.raw("pass"))


def rows(t: Times, n: int, unit: str = "") -> list[dict[str, object]]:
    """The figures of one measure (wall time, or with ``unit`` ' CPU', CPU time)."""
    m: Callable[[str], float] = lambda k: median(t[k])  # noqa: E731
    out: list[dict[str, object]] = [
        {"figure": "python -c pass", "value": m("python")},
        {"figure": "floor: dnspython SOA query script", "value": m("floor_soa")},
        {
            "figure": f"sync --once no-op, {n} records, warm state",
            "value": m("noop"),
            "ratio": m("noop") / m("floor_soa"),
            "goal": "value ≤ 0.3 s",
        },
        {
            "figure": "sync --once no-op, first after a change",
            "value": m("noop_first"),
            "ratio": m("noop_first") / m("floor_soa"),
            "goal": "",
        },
        {
            "figure": "sync --once no-op, --no-state (AXFR, parse, plan)",
            "value": m("noop_cold"),
            "ratio": m("noop_cold") / m("floor_soa"),
            "goal": "",
        },
        {"figure": "floor: dnspython SOA + UPDATE of 1 % script", "value": m("floor_change")},
        {
            "figure": f"sync --once, 1 % of {n} changed",
            "value": m("changed"),
            "ratio": m("changed") / m("floor_change"),
            "goal": "value ≤ 0.4 s",
        },
        {"figure": "floor: dnspython TXT add script", "value": m("floor_present")},
        {
            "figure": "dnssync acme present (process)",
            "value": m("present"),
            "ratio": m("present") / m("floor_present"),
            "goal": "value ≤ 0.15 s",
        },
        {"figure": "floor: dnspython TXT delete script", "value": m("floor_cleanup")},
        {
            "figure": "dnssync acme cleanup (process)",
            "value": m("cleanup"),
            "ratio": m("cleanup") / m("floor_cleanup"),
            "goal": "value ≤ 0.15 s",
        },
    ]
    for row in out:
        row["figure"] = f"{row['figure']}{unit}"
        if unit and row.get("goal"):
            row["goal"] = ""  # the goals are wall times
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with server("bind") as s, tempfile.TemporaryDirectory() as tmpname:
        bench = Bench(s, Path(tmpname), args.records)
        bench.round({}, {})  # warm-up: bytecode, caches, the idle mark
        wall: Times = {}
        cpu: Times = {}
        for _ in range(args.rounds):
            bench.round(wall, cpu)
    report("oneshot", rows(wall, args.records) + rows(cpu, args.records, " (CPU)"))


if __name__ == "__main__":
    main()
