"""``dnssync demo``: the whole path on one machine, no cluster needed.

Starts a throw-away BIND9 on a free loopback port, in a fresh temporary
directory, with the internal zone of ``config/examples/demo.yaml`` (holding
manual and DHCP-style records that dnssync must leave alone), syncs
``config/examples/manifests`` into it, plans again to show it converged, and
prints the zone with ``dig``.  The examples are package data
(``dnssync/examples`` links to ``config/examples``), so it runs from any
directory; ``keep`` leaves BIND9 and its directory in place.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.resources
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ZONE = "home.tillo.ch"
#: The timestamp named -g puts before each log line ("02-Dec-2026 00:04:07.531 ").
_NAMED_STAMP = re.compile(r"^\d{2}-\w{3}-\d{4} [\d:.]+ ")
KEY = "dnssync-demo"
SEED = """\
$TTL 300
@        IN SOA ns1 hostmaster 1 3600 600 86400 300
@        IN NS  ns1
ns1      IN A   127.0.0.1
; manual records: not ours, never touched
router   IN A   192.0.2.1
nas      IN A   192.0.2.2
; a DHCP-style lease record
laptop-anna IN A 192.0.2.100
laptop-anna IN TXT "31a2b3c4d5e6f708192a3b4c5d6e7f8091"
"""


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = int(t.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free loopback port")


class LocalBind:
    """A BIND9 in the foreground, serving one dynamic zone to one TSIG key."""

    def __init__(self, workdir: Path, *, zone: str, key: str, seed: str) -> None:
        self.workdir = workdir
        self.zone = zone
        self.key = key
        self.secret = base64.b64encode(secrets.token_bytes(32)).decode()
        self.seed = seed
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        named = shutil.which("named") or "/usr/sbin/named"
        if not Path(named).exists():
            raise RuntimeError("BIND9 is not installed: run `make demo` (it installs bind9)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "tsig.secret").write_text(self.secret + "\n")
        (self.workdir / "tsig.key").write_text(
            f'key "{self.key}" {{ algorithm hmac-sha256; secret "{self.secret}"; }};\n'
        )
        (self.workdir / f"{self.zone}.zone").write_text(self.seed)
        os.chmod(self.workdir / "tsig.secret", 0o600)
        os.chmod(self.workdir / "tsig.key", 0o600)
        for _ in range(5):
            self.port = free_port()
            self._write_conf()
            log = open(self.workdir / "named.log", "wb")  # noqa: SIM115 - handed to the child
            self.proc = subprocess.Popen(
                [named, "-g", "-c", str(self.workdir / "named.conf")],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
            log.close()
            if self._wait_ready():
                return
            self.stop()
        raise RuntimeError(f"BIND9 did not start: {self._cause()}")

    def _cause(self) -> str:
        """named's own words for a failed start, one line (its log has ~40)."""
        lines = (self.workdir / "named.log").read_text(errors="replace").splitlines()
        starts = [i for i, line in enumerate(lines) if "loading configuration from" in line]
        said = [
            _NAMED_STAMP.sub("", line).strip() for line in lines[starts[-1] + 1 if starts else 0 :]
        ]
        said = [line for line in said if line and not line.startswith("exiting (due to")]
        return "; ".join(said[-3:]) or "no reason in its log"

    def _write_conf(self) -> None:
        d = self.workdir
        (d / "named.conf").write_text(
            f"""
include "{d}/tsig.key";
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    max-records-per-type 0;
}};
controls {{ }};
zone "{self.zone}" {{
    type primary;
    file "{d}/{self.zone}.zone";
    update-policy {{ grant {self.key} subdomain {self.zone}. ANY; }};
    allow-transfer {{ key {self.key}; }};
}};
"""
        )

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return False
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def run_demo(*, keep: bool = False) -> int:
    from dnssync.cli import main

    examples = importlib.resources.files("dnssync") / "examples"
    with importlib.resources.as_file(examples / "demo.yaml") as config:
        if not config.exists():
            print(f"dnssync demo: the example files are missing ({config})", file=sys.stderr)
            return 1
        workdir = Path(tempfile.mkdtemp(prefix="dnssync-demo-"))
        server = LocalBind(workdir, zone=ZONE, key=KEY, seed=SEED)
        try:
            server.start()
        except RuntimeError as e:
            print(f"dnssync demo: {e}", file=sys.stderr)
            shutil.rmtree(workdir, ignore_errors=True)
            return 1
        return _demo(main, server, config, keep=keep)


def _demo(main: Callable[[list[str]], int], server: LocalBind, config: Path, *, keep: bool) -> int:
    workdir = server.workdir
    os.environ["DNSSYNC_TARGETS__0__SERVER__PORT"] = str(server.port)
    os.environ["DNSSYNC_TARGETS__0__KEY__SECRET_FILE"] = str(workdir / "tsig.secret")
    try:
        print(f"== BIND9 serving {ZONE} on 127.0.0.1:{server.port} (workdir {workdir})\n")
        print("== dnssync sync --once")
        code = main(["sync", "--once", "-c", str(config)])
        if code != 0:
            return code
        print("\n== dnssync plan (again: nothing left to do)")
        code = main(["plan", "-c", str(config)])
        print(f"(plan exit code {code}: 0 = in step)\n")
        print(f"== dig AXFR {ZONE}")
        dig = shutil.which("dig")
        if dig:
            subprocess.run(
                [
                    dig,
                    "@127.0.0.1",
                    "-p",
                    str(server.port),
                    "-k",
                    str(workdir / "tsig.key"),
                    "AXFR",
                    ZONE,
                    "+noall",
                    "+answer",
                    "+nocmd",
                ],
                check=False,
            )
        return code
    finally:
        if keep:
            pid = server.proc.pid if server.proc else "?"
            print(
                f"\nBIND9 keeps running (pid {pid}) on 127.0.0.1:{server.port}, files in {workdir}:"
                f"\n  dig @127.0.0.1 -p {server.port} -k {workdir / 'tsig.key'} AXFR {ZONE}"
                f"\n  kill {pid}; rm -r {workdir}"
            )
        else:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)
