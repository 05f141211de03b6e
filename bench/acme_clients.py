"""Real ACME clients, Pebble + BIND9 on loopback: dnssync's hook vs the clients' own RFC 2136.

Figures, all in one run against the same Pebble and the same BIND:

- seconds per certificate (one name, median of ``--rounds``, rounds interleaved):
  certbot ``--manual`` with ``dnssync acme present|cleanup`` as hooks, vs certbot's
  own ``certbot-dns-rfc2136`` plugin (its fixed 60 s propagation sleep set to 0, else
  it would dominate); lego ``--dns exec`` running dnssync's hook, vs lego's own
  ``rfc2136`` provider (``dnsupdate``).  lego's own log splits each of its
  runs: the DNS work (Present and CleanUp, which is where the providers differ)
  and the wait for the CA (lego polls the authorization after a Retry-After of
  about 5 s, with jitter, unless Pebble validated before answering the
  challenge POST: a race inside Pebble that makes whole lego runs bimodal,
  ~1 s or ~4-7 s, whichever provider wrote the TXT);
- ``--concurrent`` certificates (default 100) ordered at once by as many certbot
  processes with dnssync's hooks: how many issued, wall time, leftovers in the zone,
  and what failed (the CA's problem details, the hooks' errors); the certbots and
  their hooks run ``--client-nice`` (10) below Pebble and BIND, as clients on other
  hosts than the CA and the DNS server would (at equal priority a hundred of them
  starve both: Pebble's 2 s TCP dial to BIND then times out);
- ``dnssync acme present`` as a process: wall time of one hook run, the same Present
  in-process, and the difference (interpreter + imports + config: the start-up cost).

Run from the repository root: ``.venv/bin/python -m bench.acme_clients [--rounds N]
[--concurrent N]
[--client-nice N]``. Peers come from the cache (tests/peers), built on first use.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import median, report, server
from dnssync.acme.solver import Solver
from dnssync.config import load
from tests.dnsservers import BindServer
from tests.integration.acme.interop.clients import (
    Issued,
    certbot,
    certbot_manual,
    hook_command,
    hook_env,
    hook_script,
    leftovers,
    lego,
    start_pebble,
    write_hook_config,
)

Run = Callable[[str, Path], Awaitable[Issued]]  # (domain, state dir) -> one issuance
CONCURRENT_TIMEOUT = 1800.0  # 100 certbots on a small machine take minutes each


def _runners(s: BindServer, zone: str, pebble: Any, work: Path) -> dict[str, Run]:
    config = write_hook_config(work, s, zone)
    env = hook_env(config)
    resolver = f"{s.host}:{s.port}"
    credentials = work / "rfc2136.ini"
    credentials.write_text(
        f"dns_rfc2136_server = {s.host}\ndns_rfc2136_port = {s.port}\n"
        f"dns_rfc2136_name = {s.key.name}\ndns_rfc2136_secret = {s.key.secret}\n"
        f"dns_rfc2136_algorithm = {s.key.algorithm.upper()}\n"
    )
    credentials.chmod(0o600)
    hooks = certbot_manual(hook_command("present"), hook_command("cleanup"))
    plugin = ["--dns-rfc2136", "--dns-rfc2136-credentials", str(credentials)]
    plugin += ["--dns-rfc2136-propagation-seconds", "0"]
    lego_exec = {**env, "EXEC_PATH": str(hook_script(work)), "EXEC_POLLING_INTERVAL": "1"}
    lego_rfc2136 = {
        **os.environ,
        "DNSUPDATE_NAMESERVER": resolver,
        "DNSUPDATE_TSIG_KEY": s.key.name,
        "DNSUPDATE_TSIG_SECRET": s.key.secret,
        "DNSUPDATE_TSIG_ALGORITHM": s.key.algorithm + ".",
        "DNSUPDATE_POLLING_INTERVAL": "1",
        "DNSUPDATE_SEQUENCE_INTERVAL": "1",
    }
    d, ca = pebble.directory, pebble.ca_file
    return {
        "certbot + dnssync hook": lambda n, st: certbot(d, ca, st, [n], hooks, env),
        "certbot + certbot-dns-rfc2136": lambda n, st: certbot(d, ca, st, [n], plugin, env),
        "lego exec + dnssync hook": lambda n, st: lego(d, ca, st, [n], "exec", lego_exec, resolver),
        "lego rfc2136 (dnsupdate)": lambda n, st: lego(
            d, ca, st, [n], "dnsupdate", lego_rfc2136, resolver
        ),
    }


# lego's log lines that open and close its phases (lego v5's slog messages).
_LEGO_LINE = re.compile(r'time=(\S+) level=\w+ msg="([^"]*)"')
_LEGO_PHASES = {
    "DNS work (Present + CleanUp)": [
        ("dns01: preparing to solve", "dns01: trying to solve"),
        ("dns01: cleaning DNS-01 challenge", "Validations succeeded"),
    ],
    "wait for the CA's validation": [("dns01: waiting for record propagation", "validated")],
}


def lego_phases(output: str) -> dict[str, float]:
    """Seconds per phase of one single-name lego run, from its log's timestamps."""
    first: dict[str, datetime] = {}
    for m in _LEGO_LINE.finditer(output):
        for start, end in (pair for pairs in _LEGO_PHASES.values() for pair in pairs):
            for mark in (start, end):
                if mark in m.group(2) and mark not in first:
                    first[mark] = datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
    return {
        phase: sum((first[end] - first[start]).total_seconds() for start, end in pairs)
        for phase, pairs in _LEGO_PHASES.items()
        if all(start in first and end in first for start, end in pairs)
    }


async def per_certificate(
    runners: dict[str, Run], zone: str, work: Path, rounds: int
) -> dict[str, list[float]]:
    """Each client issues one single-name certificate per round, clients interleaved;
    lego's runs also give their phases (``<runner>: <phase>``)."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    for r in range(rounds):
        for i, (name, run) in enumerate(runners.items()):
            domain = f"r{r}c{i}.{zone}"
            done = await run(domain, work / f"state-{r}-{i}")
            if done.returncode != 0 or done.names != {domain}:
                raise SystemExit(f"{name} failed for {domain}:\n{done.output[-3000:]}")
            times[name].append(done.seconds)
            if name.startswith("lego"):
                for phase, seconds in lego_phases(done.output).items():
                    times.setdefault(f"{name}: {phase}", []).append(seconds)
    return times


async def concurrent(
    pebble: Any, config: Path, zone: str, work: Path, count: int, nice: int
) -> tuple[int, float, float]:
    """``count`` certbot processes at once; (issued, wall seconds, median per process)."""
    hooks = certbot_manual(hook_command("present"), hook_command("cleanup"))
    env = hook_env(config)

    def run(i: int) -> Awaitable[Issued]:
        domain, state = f"c{i}.{zone}", work / f"conc-{i}"
        d, ca = pebble.directory, pebble.ca_file
        return certbot(d, ca, state, [domain], hooks, env, CONCURRENT_TIMEOUT, nice=nice)

    started = time.monotonic()
    results = await asyncio.gather(*(run(i) for i in range(count)))
    wall = time.monotonic() - started
    issued = sum(1 for i, r in enumerate(results) if r.names == {f"c{i}.{zone}"})
    failed = [r for r in results if r.returncode != 0]
    if failed:
        codes = sorted({r.returncode for r in failed})
        print(f"  {len(failed)} certbot runs failed (exit {codes}); first:")
        print(failed[0].output[-2000:])
    for cause, n in sorted(causes(results).items(), key=lambda kv: -kv[1]):
        print(f"  {n:4d} x {cause}")
    return issued, wall, statistics.median(r.seconds for r in results)


def causes(results: list[Issued]) -> Counter[str]:
    """What went wrong across the runs: the CA's problem details and the hooks' errors.

    certbot only warns about a failing hook (a clean-up that failed leaves a value
    behind, yet the run succeeds), so its output is read, not just its exit code.
    """
    found: Counter[str] = Counter()
    for r in results:
        lines = r.output.splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith("Detail:"):
                found["CA: " + line.strip()] += 1
            elif "ran with error output:" in line:
                hook = "auth" if "auth-hook" in line else "cleanup"
                for text in lines[i + 1 : i + 4]:
                    if text.strip() and "readable by every user" not in text:
                        found[f"{hook} hook: {text.strip()[:160]}"] += 1
    return found


def startup(config: Path, zone: str, n: int) -> tuple[float, float, float]:
    """(median hook process wall, median in-process Present, bare interpreter start)."""
    env = {**hook_env(config)}
    record = f"_acme-challenge.startup.{zone}."
    procs, bare = [], []
    for _ in range(n):
        value = secrets.token_urlsafe(32)
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "dnssync", "acme", "present", record, value],
            env=env,
            check=True,
            capture_output=True,
        )
        procs.append(time.perf_counter() - t)
        subprocess.run(
            [sys.executable, "-m", "dnssync", "acme", "cleanup", record, value],
            env=env,
            check=True,
            capture_output=True,
        )
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - t)
    cfg = load(config).acme
    assert cfg is not None

    async def in_process() -> list[float]:
        out = []
        for _ in range(n):
            solver, value = Solver(cfg), secrets.token_urlsafe(32)
            t = time.perf_counter()
            await solver.present(record.rstrip("."), value)
            out.append(time.perf_counter() - t)
            await solver.cleanup(record.rstrip("."), value)
        return out

    return median(procs), median(asyncio.run(in_process())), median(bare)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrent", type=int, default=100)
    ap.add_argument("--skip-per-certificate", action="store_true")
    ap.add_argument("--startup-runs", type=int, default=10)
    ap.add_argument(
        "--client-nice",
        type=int,
        default=10,
        help="nice of the concurrent certbots and their hooks (0: the servers' priority)",
    )
    args = ap.parse_args()
    with server("bind") as s, tempfile.TemporaryDirectory(prefix="bench-acme-clients-") as tmp:
        assert isinstance(s, BindServer)
        work = Path(tmp)
        zone = "clients.bench"
        s.add_zone(zone)
        pebble = start_pebble(f"{s.host}:{s.port}", work)
        try:
            rows = run_all(s, zone, pebble, work, args)
        finally:
            pebble.stop()
    report("acme_clients", rows)


def run_all(
    s: BindServer, zone: str, pebble: Any, work: Path, args: argparse.Namespace
) -> list[dict[str, Any]]:
    runners = _runners(s, zone, pebble, work)
    rows: list[dict[str, Any]] = []
    rounds = 0 if args.skip_per_certificate else args.rounds
    times = asyncio.run(per_certificate(runners, zone, work, rounds))
    for name, xs in times.items():
        if not xs:
            continue
        what = f"  {name}" if ": " in name else f"one certificate: {name}"
        rows.append({"figure": f"{what} (median of {len(xs)})", "value": median(xs)})
    left = leftovers(s, zone)
    print(f"  leftovers after the per-certificate rounds: {len(left)} {left[:4]}")
    if args.concurrent:
        config = work / "dnssync.yaml"
        n, nice = args.concurrent, args.client_nice
        issued, wall, per = asyncio.run(concurrent(pebble, config, zone, work, n, nice))
        left = leftovers(s, zone)
        what = f"{n} certbot at once (nice {nice})"
        rows.append({"figure": f"{what}: wall ({issued} issued)", "value": wall})
        rows.append({"figure": f"{what}: wall per certificate", "value": wall / n})
        rows.append({"figure": f"{what}: median per process", "value": per})
        rows.append({"figure": f"{what}: leftover values and markers", "value": len(left)})
        print(f"  {issued}/{n} issued; leftovers: {len(left)} {left[:4]}")
    hook, inproc, bare = startup(work / "dnssync.yaml", zone, args.startup_runs)
    rows.append({"figure": "dnssync acme present: whole process", "value": hook})
    rows.append({"figure": "  the same Present in-process", "value": inproc})
    rows.append({"figure": "  start-up (process - in-process; goal 0.150)", "value": hook - inproc})
    rows.append({"figure": "  bare `python -c pass` for reference", "value": bare})
    return rows


if __name__ == "__main__":
    main()
