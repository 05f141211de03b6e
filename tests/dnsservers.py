"""Real BIND9, Knot DNS and PowerDNS servers on free loopback ports, for integration tests.

Each `DNSServer` is one daemon running in the foreground from the Debian packages, out of
a private temporary directory, as an unprivileged account, answering on 127.0.0.1 on a
port that was free for both UDP and TCP. Every server trusts two TSIG keys:

- `key` may UPDATE and AXFR/IXFR every zone made with `add_zone` (the zone and below);
- `other_key` is valid but allowed only on the zone "other.test", made at start.

Nothing here skips: a missing binary raises `DNSServerError` saying how to install it.
Servers are stopped at interpreter exit too (atexit), and die with the process that
started them (PR_SET_PDEATHSIG) should it be killed outright.
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import glob
import json
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import ClassVar

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.zone

__all__ = [
    "HOST",
    "BindSecondary",
    "BindServer",
    "DNSServer",
    "DNSServerError",
    "KnotServer",
    "PdnsServer",
    "PdnsTwin",
    "TechnitiumServer",
    "TlsBindServer",
    "TsigKey",
    "ViewedBindServer",
    "ZoneUnderTest",
    "session_keys",
    "start_server",
]

HOST = "127.0.0.1"
INSTALL_HINT = "install with `make deps`"
SERVICE_USER = "dnssync-test"
OTHER_ZONE = "other.test"

# A TXT record with a per-server random token lets the readiness probe tell our daemon
# from any other program that may hold (or steal) the same port.
PROBE_LABEL = "harness-probe"

START_TIMEOUT = 15.0  # generous: a loaded CI machine; a normal start takes ~50 ms
ZONE_TIMEOUT = 30.0  # only reached when something is wrong, or a huge journal replays
STOP_GRACE = 5.0

# Somebody else holds our port. BIND says "address in use" for TCP and the control
# channel but only "creating IPv4 interface lo failed" for UDP; Knot and PowerDNS say
# "Address already in use".
_PORT_BUSY = re.compile(
    r"address (already )?in use|creating IPv4 interface \S+ failed", re.IGNORECASE
)

_SBIN = "/usr/sbin"
_BIN = "/usr/bin"


class DNSServerError(RuntimeError):
    """A server could not be prepared, started, stopped or given a zone."""


@dataclass(frozen=True)
class TsigKey:
    """A TSIG key as the servers are configured with it."""

    name: str  # e.g. "dnssync-key"
    algorithm: str  # "hmac-sha256"
    secret: str = field(repr=False)  # base64; kept out of reprs and assertion output

    @classmethod
    def generate(cls, name: str) -> TsigKey:
        """A fresh hmac-sha256 key with a random 32-byte secret."""
        return cls(name, "hmac-sha256", base64.b64encode(secrets.token_bytes(32)).decode())


@cache
def session_keys() -> tuple[TsigKey, TsigKey]:
    """The (key, other_key) pair shared by every server of this process (= test session)."""
    return TsigKey.generate("dnssync-key"), TsigKey.generate("other-key")


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class _Account:
    uid: int
    gid: int


@cache
def _account() -> _Account | None:
    """The unprivileged account the daemons run as; None means "as ourselves".

    As root we create a system user once (root only if that fails): the daemons then
    cannot touch anything outside their work directory.
    """
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        # A concurrent session may create it at the same time: ignore the exit code and
        # look again.
        subprocess.run(
            [
                f"{_SBIN}/useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            capture_output=True,
            check=False,
        )
        try:
            pw = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            # All three daemons also run as root; better that than no integration tests.
            warnings.warn(
                f"cannot create user {SERVICE_USER!r}: the test DNS servers run as root",
                stacklevel=2,
            )
            return None
    return _Account(pw.pw_uid, pw.pw_gid)


def _chown(path: Path) -> None:
    account = _account()
    if account is not None:
        os.chown(path, account.uid, account.gid)


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    _chown(path)


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    _chown(path)


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    # PR_SET_PDEATHSIG (1): the kernel SIGKILLs the daemon when the thread that started
    # it dies, so a pytest killed by SIGKILL or os._exit (pytest-timeout's thread method)
    # leaves no server behind. Set after the uid switch, which would clear it.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def _child_env(workdir: Path, faketime: str | None = None) -> dict[str, str]:
    # A clean environment: no LD_PRELOAD, proxies or locale surprises from the caller.
    env = {
        "PATH": f"{_SBIN}:{_BIN}:/sbin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
    }
    if faketime is not None:
        # libfaketime clashes with jemalloc, which BIND links: both recurse into each
        # other at start-up and named hangs. Preloading glibc after libfaketime makes
        # plain malloc() glibc's again; BIND keeps using jemalloc through its own
        # mallocx()/sdallocx() calls, which stay consistent.
        env["LD_PRELOAD"] = f"{_libfaketime()}:libc.so.6"
        env["FAKETIME"] = faketime
        # Only the wall clock is shifted: timers and timeouts keep working.
        env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    return env


def _ids() -> tuple[int | None, int | None, list[int] | None]:
    """user, group and extra_groups for subprocess: the account's, or ours unchanged."""
    account = _account()
    if account is None:
        return None, None, None
    return account.uid, account.gid, []


def _run(
    argv: list[str],
    workdir: Path,
    *,
    faketime: str | None = None,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> str:
    """Run a helper tool (rndc, knotc, pdnsutil, dnssec-*) as the daemon's account,
    with `env` added to its clean environment.

    With `faketime`, on the daemon's shifted clock: rndc signs its commands with the
    time and would be rejected by a skewed named otherwise.
    """
    user, group, extra_groups = _ids()
    try:
        done = subprocess.run(
            argv,
            cwd=workdir,
            env={**_child_env(workdir, faketime), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )
    except FileNotFoundError as exc:
        raise DNSServerError(f"{argv[0]} not found: {INSTALL_HINT}") from exc
    except subprocess.TimeoutExpired as exc:
        raise DNSServerError(f"{' '.join(argv)} timed out after {timeout} s") from exc
    out: str = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        raise DNSServerError(f"{' '.join(argv)} failed ({done.returncode}):\n{out}")
    return out


def _require(path: str, package: str) -> None:
    if not os.access(path, os.X_OK):
        raise DNSServerError(f"{path} not found (Debian package {package}): {INSTALL_HINT}")


@cache
def _libfaketime() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        raise DNSServerError(f"libfaketime not found (Debian package faketime): {INSTALL_HINT}")
    return found[0]


def _apparmor_enforces(binary: str) -> bool:
    """Whether an AppArmor profile for `binary` is loaded in enforce mode."""
    try:
        profiles = Path("/sys/kernel/security/apparmor/profiles").read_text()
    except OSError:
        return False  # no AppArmor (or not readable: then it cannot be checked anyway)
    name = Path(binary).name
    return any(
        line.split(" ")[0] in (binary, name) and line.endswith("(enforce)")
        for line in profiles.splitlines()
    )


# --------------------------------------------------------------------------- ports

# Ports of every server of this process, running or stopped: a stopped server must find
# its port again on start(), so no other server of ours may take it meanwhile.
_RESERVED: set[int] = set()


def _port_is_free(port: int, *, udp: bool = True) -> bool:
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((HOST, port))
            except OSError:
                return False
    return True


def _port_range() -> range:
    # Stay below the kernel's ephemeral range: a client socket that happened to get our
    # port would otherwise make a restart on the same port fail.
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(10000, low) if low > 12000 else range(1025, 65536)


# Not the global `random`: tests (hypothesis) may seed it, and parallel sessions would
# then all try the same ports.
_random = random.SystemRandom()


def _pick_port(*, udp: bool = True) -> int:
    ports = _port_range()
    for _ in range(500):
        port = _random.choice(ports)
        if port not in _RESERVED and _port_is_free(port, udp=udp):
            _RESERVED.add(port)
            return port
    raise DNSServerError("no free loopback port found for a test DNS server")


# --------------------------------------------------------------------------- zones


def _normalize(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    if not name:
        raise DNSServerError("empty zone name")
    return name


def _zone_text(name: str, records: str) -> str:
    """SOA serial 1, one NS ns1.<zone> with its A, then the caller's lines."""
    body = textwrap.dedent(records).strip("\n")
    text = (
        f"$ORIGIN {name}.\n"
        "$TTL 300\n"
        "@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
        "@ IN NS ns1\n"
        "ns1 IN A 127.0.0.1\n"
        f"{body}\n"
    )
    try:
        # Fail here with dnspython's message instead of a zone that silently never loads.
        dns.zone.from_text(text, origin=f"{name}.", relativize=False)
    except dns.exception.DNSException as exc:
        raise DNSServerError(f"records for zone {name} do not parse: {exc}") from exc
    return text


@dataclass(frozen=True)
class ZoneUnderTest:
    """A fresh zone on a running server, as the `zone` fixture hands it out."""

    server: DNSServer
    name: str  # without trailing dot, e.g. "z7.test"


# --------------------------------------------------------------------------- servers


class DNSServer:
    """One daemon process; subclasses hold what differs between BIND, Knot and PowerDNS."""

    kind: ClassVar[str] = ""
    as_service_user: ClassVar[bool] = True  # run as the unprivileged account when root

    def __init__(
        self,
        *,
        key: TsigKey | None = None,
        other_key: TsigKey | None = None,
        faketime: str | None = None,
    ) -> None:
        self._check_binaries()
        if faketime is not None:
            _libfaketime()
        default_key, default_other = session_keys()
        self.host: str = HOST
        self.port: int = 0
        self.key: TsigKey = key or default_key
        self.other_key: TsigKey = other_key or default_other
        self.faketime = faketime
        # Outside pytest's tmp tree on purpose: that one is 0700 root-owned when we run as
        # root, so the unprivileged daemon could not enter it.
        self.workdir: Path = Path(tempfile.mkdtemp(prefix=f"dnssync-{self.kind}-"))
        _chown(self.workdir)
        self.log_path: Path = self.workdir / f"{self.kind}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False
        self._zones: list[str] = []
        self._probe_token = secrets.token_hex(8)
        _ALL.add(self)
        try:
            self._prepare()
            self._add_zone(
                OTHER_ZONE,
                _zone_text(OTHER_ZONE, f'{PROBE_LABEL} 300 IN TXT "{self._probe_token}"'),
                self.other_key,
            )
        except BaseException:
            self.close()
            raise

    # ---- public interface

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def zones(self) -> tuple[str, ...]:
        """Every zone served, "other.test" first."""
        return tuple(self._zones)

    def add_zone(self, name: str, records: str = "") -> None:
        """Create a fresh zone that `key` may update and transfer; wait until it answers."""
        name = _normalize(name)
        self._add_zone(name, _zone_text(name, records), self.key)
        if self.running:
            self.wait_for_zone(name)

    def add_signed_zone_without_keys(self, name: str) -> None:
        """A DNSSEC-signed zone whose private keys are gone (BIND only): UPDATE → SERVFAIL."""
        raise DNSServerError(f"{self.kind}: signed zones without keys exist only for BIND")

    def start(self) -> None:
        """Start (again) on the same port with the same zones and data."""
        if self._closed:
            raise DNSServerError(f"{self.kind} server was closed")
        if self.running:
            return
        fresh = self.port == 0
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if fresh:
                self._choose_ports()
            self._write_config()
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            self._spawn()
            problem = self._wait_ready(offset, deadline)
            if problem is None:
                # Zones load in the background after the listeners are up (BIND replays a
                # big journal in seconds): "started" means every zone answers.
                for name in self._zones:
                    self.wait_for_zone(name)
                return
            self._terminate(graceful=False)
            # Somebody else got the port between our check and the daemon's bind(): a new
            # port on first start; on a restart the port is ours, so wait for it instead.
            if problem == "port busy" and time.monotonic() < deadline:
                if not fresh:
                    time.sleep(0.2)
                continue
            raise DNSServerError(
                f"{self.kind} failed to start on {self.host}:{self.port}: {problem}\n"
                f"--- last lines of {self.log_path} ---\n{self.log_tail()}"
            )

    def stop(self) -> None:
        """Stop by PID: SIGTERM, then SIGKILL after a grace period. Data stays."""
        self._terminate(graceful=True)

    def kill(self) -> None:
        """SIGKILL at once, like a crash. Data written so far stays."""
        self._terminate(graceful=False)

    def close(self) -> None:
        """Stop and remove the work directory."""
        if self._closed:
            return
        self._terminate(graceful=True)
        self._closed = True
        _ALL.discard(self)
        _RESERVED.difference_update(self._ports())
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_zone(self, name: str, timeout: float = ZONE_TIMEOUT) -> None:
        """Return once `name` answers an authoritative SOA over TCP."""
        qname = f"{_normalize(name)}."
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise DNSServerError(
                    f"{self.kind} died while loading zone {name}\n{self.log_tail()}"
                )
            query = self._zone_query(qname)
            try:
                r = dns.query.tcp(query, self.host, port=self.port, timeout=1.0)
                if (
                    r.rcode() == dns.rcode.NOERROR
                    and r.flags & dns.flags.AA
                    and any(
                        rrset.rdtype == dns.rdatatype.SOA and rrset.name.to_text() == qname
                        for rrset in r.answer
                    )
                ):
                    return
            except (OSError, dns.exception.DNSException):
                pass
            if time.monotonic() > deadline:
                raise DNSServerError(
                    f"{self.kind}: zone {name} did not answer SOA within {timeout} s\n"
                    f"--- last lines of {self.log_path} ---\n{self.log_tail()}"
                )
            time.sleep(0.01)

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} {self.host}:{self.port} {state} {self.workdir}>"

    # ---- per-server hooks

    def _check_binaries(self) -> None:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Write what does not depend on the port: directories, databases, keys."""
        raise NotImplementedError

    def _choose_ports(self) -> None:
        _RESERVED.difference_update(self._ports())  # a retry after a port clash
        self.port = _pick_port()

    def _ports(self) -> set[int]:
        return {self.port}

    def _write_config(self) -> None:
        raise NotImplementedError

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _add_zone(self, name: str, text: str, key: TsigKey) -> None:
        raise NotImplementedError

    def _extra_env(self) -> dict[str, str]:
        """More environment for the daemon (a Kerberos config, say)."""
        return {}

    # ---- shared machinery

    def _register_zone(self, name: str) -> None:
        if name in self._zones:
            raise DNSServerError(f"{self.kind}: zone {name} exists already")
        self._zones.append(name)

    def _spawn(self) -> None:
        env = {**_child_env(self.workdir, self.faketime), **self._extra_env()}
        argv = self._argv()
        user, group, extra_groups = _ids() if self.as_service_user else (None, None, None)
        with self.log_path.open("ab") as log:
            try:
                self._proc = subprocess.Popen(
                    argv,
                    cwd=self.workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    # Own session: a Ctrl-C in the terminal reaches pytest, which then
                    # stops the server in order, instead of killing it mid-test.
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                    user=user,
                    group=group,
                    extra_groups=extra_groups,
                )
            except FileNotFoundError as exc:
                raise DNSServerError(f"{argv[0]} not found: {INSTALL_HINT}") from exc
        _chown(self.log_path)

    def _zone_query(self, qname: str) -> dns.message.Message:
        # Unsigned on purpose: the skewed server would answer a signed query BADTIME.
        return dns.message.make_query(qname, "SOA")

    def _wait_ready(self, log_offset: int, deadline: float) -> str | None:
        """None once our daemon answers the probe over TCP and UDP, else what went wrong."""
        assert self._proc is not None
        while True:
            code = self._proc.poll()  # before reading the log: a dying daemon says why
            if _PORT_BUSY.search(self._log_since(log_offset)):
                return "port busy"
            if code is not None:
                return f"exited with code {code}"
            if self._probe():
                return None
            if time.monotonic() > deadline:
                return f"no answer within {START_TIMEOUT} s"
            time.sleep(0.01)

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _probe(self) -> bool:
        query = dns.message.make_query(f"{PROBE_LABEL}.{OTHER_ZONE}.", "TXT")
        # TCP first: it is refused at once while nothing listens, where UDP would wait.
        for send in (dns.query.tcp, dns.query.udp):
            try:
                r = send(query, self.host, port=self.port, timeout=0.5)
            except (OSError, dns.exception.DNSException):
                return False
            if self._probe_token not in r.to_text():
                return False
        return True

    def _terminate(self, *, graceful: bool) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            if graceful:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_GRACE)
                    return
                except subprocess.TimeoutExpired:
                    pass
            proc.kill()
            proc.wait()


_ALL: set[DNSServer] = set()


@atexit.register
def _close_all() -> None:
    for server in list(_ALL):
        server.close()


# --------------------------------------------------------------------------- BIND 9


_COUNTED_SECTIONS = ("Incoming Requests", "Incoming Queries", "Name Server Statistics")


class BindServer(DNSServer):
    """BIND 9.18: `named -g`, zones in an included file, added with `rndc reconfig`."""

    kind = "bind"
    rndc_port: int = 0  # the control channel, TCP only
    NAMED = f"{_SBIN}/named"
    RNDC = f"{_SBIN}/rndc"
    KEYGEN = f"{_BIN}/dnssec-keygen"
    SIGNZONE = f"{_BIN}/dnssec-signzone"

    def _check_binaries(self) -> None:
        _require(self.NAMED, "bind9")
        _require(self.RNDC, "bind9")
        _require(self.KEYGEN, "bind9-utils")
        _require(self.SIGNZONE, "bind9-utils")
        if _apparmor_enforces(self.NAMED):
            # Debian's profile keeps named inside /etc/bind and /var/cache/bind: it could
            # not read its config in our work directory and would die with "permission
            # denied". Containers and CI have no AppArmor; a desktop may.
            raise DNSServerError(
                f"AppArmor confines {self.NAMED} to /etc/bind and /var/cache/bind; "
                f"allow the test servers with `aa-complain {self.NAMED}` (as root)"
            )

    def _prepare(self) -> None:
        self._rndc_key = TsigKey.generate("rndc-key")
        self._stanzas: dict[str, str] = {}
        _mkdir(self.workdir / "zones")
        _mkdir(self.workdir / "keys")
        # Empty trust anchors: no validation is done, and /etc/bind is not relied upon.
        _write(self.workdir / "bind.keys", "")
        _write(self.workdir / "zones.conf", "")

    def _choose_ports(self) -> None:
        super()._choose_ports()
        self.rndc_port = _pick_port(udp=False)

    def _ports(self) -> set[int]:
        return {self.port, self.rndc_port}

    def _argv(self) -> list[str]:
        return [self.NAMED, "-g", "-c", str(self.workdir / "named.conf")]

    @staticmethod
    def _key_clause(key: TsigKey) -> str:
        return f'key "{key.name}" {{ algorithm {key.algorithm}; secret "{key.secret}"; }};\n'

    def _write_config(self) -> None:
        wd = self.workdir
        conf = (
            self._key_clause(self.key)
            + self._key_clause(self.other_key)
            + self._key_clause(self._rndc_key)
            + f"controls {{ inet {HOST} port {self.rndc_port} allow {{ {HOST}; }}"
            f' keys {{ "{self._rndc_key.name}"; }}; }};\n'
            + f"""options {{
    directory "{wd}";
    pid-file "{wd}/named.pid";
    lock-file "{wd}/named.lock";
    session-keyfile "{wd}/session.key";
    managed-keys-directory "{wd}";
    dump-file "{wd}/named_dump.db";
    statistics-file "{wd}/named.stats";
    memstatistics-file "{wd}/named.memstats";
    secroots-file "{wd}/named.secroots";
    recursing-file "{wd}/named.recursing";
    bindkeys-file "{wd}/bind.keys";
    listen-on port {self.port} {{ {HOST}; }};
    listen-on-v6 {{ none; }};
    automatic-interface-scan no;
    recursion no;
    notify no;
    dnssec-validation no;
    querylog no;
    allow-transfer {{ none; }};
    // Defaults of 100 records per RRset / types per name would SERVFAIL big RRsets.
    max-records-per-type 0;
    max-types-per-name 0;
    // Keep the whole history so IXFR is served from the journal, never AXFR instead.
    max-journal-size unlimited;
    max-ixfr-ratio unlimited;
    tcp-clients 1000;
    transfers-out 100;
    // Tests write arbitrary owner names (underscores, wildcards): accept them all.
    check-names primary ignore;
    check-names secondary ignore;
    check-names response ignore;
    check-integrity no;
    check-mx ignore;
    check-wildcard no;
    check-dup-records ignore;
    check-sibling no;
}};
{self._zones_clause()}
"""
        )
        _write(wd / "named.conf", conf)
        _write(
            wd / "rndc.conf",
            self._key_clause(self._rndc_key)
            + f'options {{ default-key "{self._rndc_key.name}"; default-server {HOST};'
            f" default-port {self.rndc_port}; }};\n",
        )

    def _zones_clause(self) -> str:
        return f'include "{self.workdir}/zones.conf";'

    def _stanza(self, name: str, file: str, key: TsigKey, extra: str = "") -> str:
        return (
            f'zone "{name}" {{ type primary; file "{file}"; {extra}'
            f'update-policy {{ grant "{key.name}" subdomain {name}. ANY; }}; '
            f'allow-transfer {{ key "{key.name}"; }}; }};\n'
        )

    def _add_zone(self, name: str, text: str, key: TsigKey) -> None:
        self._register_zone(name)
        _write(self.workdir / "zones" / f"{name}.db", text)
        self._install(name, self._stanza(name, f"zones/{name}.db", key))

    def _install(self, name: str, stanza: str) -> None:
        self._stanzas[name] = stanza
        _write(self.workdir / "zones.conf", "".join(self._stanzas.values()))
        if self.running:
            # reconfig loads only new zones; measured ~50 ms with 500 zones.
            self._rndc("reconfig")

    def add_zone_denying(self, name: str, denied: str, records: str = "") -> None:
        """Like `add_zone`, but an UPDATE touching the name `denied` is REFUSED (BIND only)."""
        name = _normalize(name)
        self._register_zone(name)
        _write(self.workdir / "zones" / f"{name}.db", _zone_text(name, records))
        deny = f'deny "{self.key.name}" name {_normalize(denied)}. ANY; '
        stanza = self._stanza(name, f"zones/{name}.db", self.key)
        self._install(name, stanza.replace("update-policy { ", "update-policy { " + deny))
        if self.running:
            self.wait_for_zone(name)

    def add_notifying_zone(self, name: str, secondary: BindSecondary) -> None:
        """Like `add_zone`, and every change is NOTIFYed to `secondary` at once.

        Set when the zone is made: `rndc reconfig` leaves existing zones' options alone.
        """
        name = _normalize(name)
        self._register_zone(name)
        _write(self.workdir / "zones" / f"{name}.db", _zone_text(name, ""))
        notify = (
            f"notify explicit; notify-delay 0; also-notify {{ {HOST} port {secondary.port}; }}; "
        )
        self._install(name, self._stanza(name, f"zones/{name}.db", self.key, notify))
        if self.running:
            self.wait_for_zone(name)

    def request_counts(self) -> dict[str, int]:
        """What BIND has answered since it started, from `rndc stats`: requests by
        opcode (``QUERY``, ``UPDATE``), queries by type (``SOA``, ``AXFR``, ``IXFR``)
        and queries by transport (``TCP queries received``, ``UDP queries received``).

        Counters are server-wide: take the difference around what is measured.
        """
        stats = self.workdir / "named.stats"
        stats.unlink(missing_ok=True)
        self._rndc("stats")
        counts: dict[str, int] = {}
        section = ""
        for line in stats.read_text().splitlines():
            if line.startswith("++ "):
                section = line.strip("+ ")
            elif section in _COUNTED_SECTIONS and line.strip():
                number, _, name = line.strip().partition(" ")
                counts[name] = counts.get(name, 0) + int(number)
        return counts

    def _rndc(self, *args: str) -> str:
        return _run(
            [self.RNDC, "-c", str(self.workdir / "rndc.conf"), *args],
            self.workdir,
            faketime=self.faketime,
        )

    def add_signed_zone_without_keys(self, name: str) -> None:
        """Sign offline (KSK + ZSK), delete the private keys, serve it dynamically."""
        name = _normalize(name)
        self._register_zone(name)
        keydir = self.workdir / "keys" / name
        _mkdir(keydir)
        _write(self.workdir / "zones" / f"{name}.db", _zone_text(name, ""))
        for extra in (["-f", "KSK"], []):
            _run(
                [self.KEYGEN, "-q", "-K", str(keydir), "-a", "ECDSAP256SHA256", *extra, name],
                self.workdir,
                faketime=self.faketime,
            )
        _run(
            [
                self.SIGNZONE,
                "-q",
                "-S",
                "-K",
                str(keydir),
                "-o",
                name,
                "-f",
                f"zones/{name}.signed",
                f"zones/{name}.db",
            ],
            self.workdir,
            faketime=self.faketime,
        )
        for private in keydir.glob("*.private"):
            private.unlink()
        # key-directory points at the public halves only: BIND finds the keys, cannot sign
        # with them, and answers an UPDATE with SERVFAIL ("found no active private keys").
        self._install(
            name,
            self._stanza(name, f"zones/{name}.signed", self.key, f'key-directory "keys/{name}"; '),
        )
        if self.running:
            self.wait_for_zone(name)


class TlsBindServer(BindServer):
    """BIND 9.18 that also serves DNS over TLS (XoT, RFC 9103) on `tls_port`.

    `cert_pem` (chain) and `key_pem` are the server's certificate and key, e.g. from a
    trustme CA in the test: a `tls` block and `listen-on port T tls ...` serve every
    query, transfer and UPDATE over TLS, with the same keys and zones as plain TCP.
    """

    kind = "bind-tls"

    def __init__(self, cert_pem: bytes, key_pem: bytes, **kw: TsigKey | str | None) -> None:
        self._pem = (cert_pem, key_pem)
        self.tls_port = 0
        super().__init__(**kw)  # type: ignore[arg-type]

    def _prepare(self) -> None:
        super()._prepare()
        cert, key = self._pem
        (self.workdir / "tls-cert.pem").write_bytes(cert)
        (self.workdir / "tls-key.pem").write_bytes(key)
        for name in ("tls-cert.pem", "tls-key.pem"):
            _chown(self.workdir / name)

    def _choose_ports(self) -> None:
        super()._choose_ports()
        self.tls_port = _pick_port(udp=False)

    def _ports(self) -> set[int]:
        return {*super()._ports(), self.tls_port}

    def _write_config(self) -> None:
        super()._write_config()
        path = self.workdir / "named.conf"
        wd = self.workdir
        text = path.read_text()
        block = (
            f'tls dnssync-tls {{ cert-file "{wd}/tls-cert.pem"; key-file "{wd}/tls-key.pem"; }};\n'
        )
        listen = f"listen-on port {self.port} {{ {HOST}; }};"
        text = block + text.replace(
            listen, f"{listen}\n    listen-on port {self.tls_port} tls dnssync-tls {{ {HOST}; }};"
        )
        _write(path, text)


class BindSecondary(BindServer):
    """BIND holding secondary copies of zones of a primary `BindServer`, as a zone's second
    authoritative server: the first copy by AXFR, then NOTIFY + IXFR signed with `key`.

    The zones' SOA refresh is an hour, so without NOTIFY a copy stays behind: a lagging
    secondary. Stopped, it answers nothing; started again, it catches up from the primary.
    """

    kind = "bind-secondary"

    def add_secondary_zone(self, name: str, primary: BindServer, *, notify: bool = True) -> None:
        """Make zone `name` on `primary` and serve a copy of it here (first by AXFR); with
        `notify`, the primary NOTIFYs every change and the copy follows by IXFR."""
        if not self.running:
            raise DNSServerError(f"{self.kind}: start the secondary before adding zones")
        if notify:
            primary.add_notifying_zone(name, self)
        else:
            primary.add_zone(name)
        name = _normalize(name)
        self._register_zone(name)
        self._install(
            name,
            f'zone "{name}" {{ type secondary; file "zones/{name}.bak"; '
            f'primaries {{ {HOST} port {primary.port} key "{primary.key.name}"; }}; '
            f'allow-transfer {{ key "{primary.key.name}"; }}; }};\n',
        )
        self.wait_for_zone(name)


# --------------------------------------------------------------------------- Knot DNS


class ViewedBindServer(BindServer):
    """BIND split into two views by TSIG key, as some sites run their primaries.

    Requests signed with `key` see the live zones (updatable, as in `BindServer`);
    all others see a static copy of each zone taken when it was added, or, for a
    zone added with ``public=False``, no zone at all (REFUSED).
    """

    kind = "bind-views"

    def _prepare(self) -> None:
        super()._prepare()
        self._public: dict[str, str] = {}
        _mkdir(self.workdir / "public")
        # The start-up probe is unsigned: the public view must answer it too.
        probe = f'{PROBE_LABEL} 300 IN TXT "{self._probe_token}"'
        self._add_public(OTHER_ZONE, _zone_text(OTHER_ZONE, probe))

    def _zones_clause(self) -> str:
        wd = self.workdir
        return (
            f'view "keyed" {{ match-clients {{ key "{self.key.name}"; }}; '
            f'include "{wd}/zones.conf"; }};\n'
            f'view "public" {{ match-clients {{ any; }}; include "{wd}/public.conf"; }};'
        )

    def _add_public(self, name: str, text: str) -> None:
        _write(self.workdir / "public" / f"{name}.db", text)
        self._public[name] = f'zone "{name}" {{ type primary; file "public/{name}.db"; }};\n'
        _write(self.workdir / "public.conf", "".join(self._public.values()))

    def add_zone(self, name: str, records: str = "", *, public: bool = True) -> None:
        """Add `name` to the keyed view and, if `public`, a frozen copy to the other."""
        if public:
            self._add_public(_normalize(name), _zone_text(_normalize(name), records))
        super().add_zone(name, records)  # its reconfig loads both

    def _zone_query(self, qname: str) -> dns.message.Message:
        # Signed: the live zone is the one that must have loaded.
        query = dns.message.make_query(qname, "SOA")
        query.use_tsig(dns.tsig.Key(self.key.name, self.key.secret, self.key.algorithm))
        return query


class KnotServer(DNSServer):
    """Knot DNS 3.2: `knotd -c`, zones added by a `knotc` conf transaction.

    The text config is rewritten with every zone too, so a restart serves the same zones;
    the zone file is loaded whole and the journal (our updates) replayed on top of it.
    """

    kind = "knot"
    KNOTD = f"{_SBIN}/knotd"
    KNOTC = f"{_SBIN}/knotc"

    def _check_binaries(self) -> None:
        _require(self.KNOTD, "knot")
        _require(self.KNOTC, "knot")

    def _prepare(self) -> None:
        for sub in ("zones", "db"):
            _mkdir(self.workdir / sub)
        self._socket = self.workdir / "knot.sock"

    def _argv(self) -> list[str]:
        # knotd refuses to start while the PID in its pidfile is alive: after a kill()
        # that PID may already belong to some other process.
        (self.workdir / "knot.pid").unlink(missing_ok=True)
        return [self.KNOTD, "-c", str(self.workdir / "knot.conf")]

    def _write_config(self) -> None:
        wd = self.workdir
        keys = "".join(
            f"  - id: {k.name}\n    algorithm: {k.algorithm}\n    secret: {k.secret}\n"
            for k in (self.key, self.other_key)
        )
        acls = "".join(
            # update-owner zone + sub-or-equal: the key may change the zone and below only.
            f"  - id: {acl}\n    key: {k.name}\n    action: [update, transfer]\n"
            "    update-owner: zone\n    update-owner-match: sub-or-equal\n"
            for acl, k in (("main", self.key), ("other", self.other_key))
        )
        zones = "".join(
            f"  - domain: {z}\n" + ("    acl: other\n" if z == OTHER_ZONE else "")
            for z in self._zones
        )
        conf = f"""server:
    rundir: "{wd}"
    pidfile: "{wd}/knot.pid"
    listen: {HOST}@{self.port}
    # tcp-io-timeout stays at its 500 ms default on purpose: readers must be fast.
    tcp-idle-timeout: 300
    tcp-max-clients: 4096
log:
  - target: stderr
    any: info
control:
    listen: "{self._socket}"
database:
    storage: "{wd}/db"
key:
{keys}acl:
{acls}template:
  - id: default
    storage: "{wd}/zones"
    file: "%s.zone"
    # Updates live in the journal only (zone file never rewritten); on start the zone
    # file is loaded whole and the journal replayed, and IXFR is served from it.
    journal-content: changes
    zonefile-sync: -1
    zonefile-load: whole
    journal-max-depth: 10000
    journal-max-usage: 1G
    dnssec-signing: off
    semantic-checks: off
    acl: main
zone:
{zones}"""
        _write(wd / "knot.conf", conf)

    def _add_zone(self, name: str, text: str, key: TsigKey) -> None:
        self._register_zone(name)
        _write(self.workdir / "zones" / f"{name}.zone", text)
        self._write_config()
        if self.running:
            self._knotc("conf-begin")
            try:
                self._knotc("conf-set", f"zone[{name}]")
            except DNSServerError:
                self._knotc("conf-abort")
                raise
            self._knotc("conf-commit")

    def _knotc(self, *args: str) -> str:
        return _run(
            [self.KNOTC, "-s", str(self._socket), "-t", "10", *args],
            self.workdir,
            faketime=self.faketime,
        )


# --------------------------------------------------------------------------- PowerDNS


class PdnsServer(DNSServer):
    """PowerDNS 4.7 with gsqlite3: zones via `pdnsutil load-zone` plus TSIG metadata."""

    kind = "pdns"
    PDNS = f"{_SBIN}/pdns_server"
    PDNSUTIL = f"{_BIN}/pdnsutil"
    SCHEMAS = (
        "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql",
        "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql",
    )
    BACKEND = "/usr/lib/*/pdns/libgsqlite3backend.so"

    def _check_binaries(self) -> None:
        _require(self.PDNS, "pdns-server")
        _require(self.PDNSUTIL, "pdns-server")
        if not glob.glob(self.BACKEND):
            raise DNSServerError(
                f"PowerDNS sqlite backend not found (pdns-backend-sqlite3): {INSTALL_HINT}"
            )

    def _prepare(self) -> None:
        schema = next((Path(p) for p in self.SCHEMAS if Path(p).exists()), None)
        if schema is None:
            raise DNSServerError(f"PowerDNS sqlite schema not found: {INSTALL_HINT}")
        self._db = self.workdir / "pdns.sqlite3"
        with sqlite3.connect(self._db) as db:
            db.executescript(schema.read_text())
        db.close()
        _chown(self._db)
        self._zones_dir = self.workdir / "zones"
        _mkdir(self._zones_dir)
        # pdnsutil reads pdns.conf: it must exist before the first port is chosen.
        self._write_config()
        for k in (self.key, self.other_key):
            self._pdnsutil("import-tsig-key", k.name, k.algorithm, k.secret)

    def _argv(self) -> list[str]:
        return [self.PDNS, f"--config-dir={self.workdir}"]

    def _write_config(self) -> None:
        wd = self.workdir
        conf = f"""launch=gsqlite3
gsqlite3-database={self._db}
# Losing the last writes on an OS crash is fine for tests; fsync per update is slow.
gsqlite3-pragma-synchronous=0
local-address={HOST}
local-port={self.port or 53}
daemon=no
guardian=no
disable-syslog=yes
socket-dir={wd}
write-pid=no
primary=no
secondary=no
webserver=no
api=no
security-poll-suffix=
dnsupdate=yes
allow-dnsupdate-from=127.0.0.0/8
# Empty: no address may transfer unsigned; TSIG-ALLOW-AXFR per zone decides.
allow-axfr-ips=
disable-axfr=no
# No caches: every answer reflects the database, new zones are visible at once.
query-cache-ttl=0
cache-ttl=0
negquery-cache-ttl=0
zone-cache-refresh-interval=0
consistent-backends=yes
max-tcp-connections=1000
tcp-idle-timeout=300
loglevel=6
"""
        _write(wd / "pdns.conf", conf)

    def _add_zone(self, name: str, text: str, key: TsigKey) -> None:
        self._register_zone(name)
        path = self._zones_dir / f"{name}.zone"
        _write(path, text)
        self._pdnsutil("load-zone", name, str(path))
        for kind, value in (
            ("TSIG-ALLOW-DNSUPDATE", key.name),
            ("TSIG-ALLOW-AXFR", key.name),
            # Without it PowerDNS leaves the serial alone on UPDATE.
            ("SOA-EDIT-DNSUPDATE", "INCREASE"),
        ):
            self._pdnsutil("set-meta", name, kind, value)

    def _pdnsutil(self, *args: str) -> str:
        return _run(
            [self.PDNSUTIL, f"--config-dir={self.workdir}", *args],
            self.workdir,
            faketime=self.faketime,
        )


class PdnsTwin(PdnsServer):
    """A second PowerDNS on the first one's database: two primaries of the same zones.

    This is how several primaries stay consistent in practice (a shared SQL backend, as
    with PowerDNS or Active Directory): either takes an UPDATE and both serve it at once.
    Zones are added through the first server; the twin serves them as they appear.
    """

    def __init__(self, first: PdnsServer) -> None:
        self._first = first
        super().__init__(key=first.key, other_key=first.other_key)

    def _prepare(self) -> None:
        self._db = self._first._db
        self._zones_dir = self.workdir / "zones"
        _mkdir(self._zones_dir)
        self._probe_token = self._first._probe_token  # other.test is the first one's
        self._write_config()

    def _add_zone(self, name: str, text: str, key: TsigKey) -> None:
        self._register_zone(name)  # in the shared database already

    def follow(self) -> None:
        """Serve (and wait for) every zone the first server has."""
        for name in self._first.zones:
            if name not in self._zones:
                self._register_zone(name)
                if self.running:
                    self.wait_for_zone(name)


# --------------------------------------------------------------------------- Technitium


class TechnitiumServer(DNSServer):
    """The Technitium DNS Server 15 stand-in (tests/technitium.py, behaviour from its source).

    Zones are set up as ../shared/TECHNITIUM.md A.8 says dnssync needs: `update=Allow`,
    two policy rows per key (the zone apex and `*.zone`, types ANY), `zoneTransfer=Allow`
    plus `zoneTransferTsigKeyNames=<key>`.  `set_zone_options` changes them per zone.
    """

    kind = "technitium"
    SCRIPT = Path(__file__).with_name("technitium.py")
    # A Python program: runs as ourselves (the service account may not read our venv).
    as_service_user = False

    def _check_binaries(self) -> None:
        if not self.SCRIPT.exists():
            raise DNSServerError(f"{self.SCRIPT} is missing")

    def _prepare(self) -> None:
        self._options: dict[str, dict[str, object]] = {}
        _mkdir(self.workdir / "zones")

    def _argv(self) -> list[str]:
        return [sys.executable, str(self.SCRIPT), str(self.workdir / "config.json"), str(self.port)]

    def _write_config(self) -> None:
        keys = [
            {"name": k.name, "algorithm": k.algorithm, "secret": k.secret}
            for k in (self.key, self.other_key, *self._extra_keys())
        ]
        config = {"keys": keys, "zones": self._options}
        _write(self.workdir / "config.json", json.dumps(config, indent=1))

    def _extra_keys(self) -> list[TsigKey]:
        return list(getattr(self, "extra_keys", []))

    def _add_zone(self, name: str, text: str, key: TsigKey) -> None:
        self._register_zone(name)
        path = self.workdir / "zones" / f"{name}.zone"
        _write(path, text)
        self._options[name] = {
            "file": str(path),
            "update": "Allow",
            "updateSecurityPolicies": [[key.name, name, ["ANY"]], [key.name, f"*.{name}", ["ANY"]]],
            "zoneTransfer": "Allow",
            "zoneTransferTsigKeyNames": [key.name],
        }
        self._reload()

    def set_zone_options(self, name: str, **options: object) -> None:
        """Change a zone's options (Technitium's names: `updateSecurityPolicies`, ...)."""
        self._options[_normalize(name)].update(options)
        self._reload()

    def add_key(self, key: TsigKey) -> None:
        """One more server-wide TSIG key (Settings -> TSIG)."""
        self.extra_keys = [*self._extra_keys(), key]
        self._reload()

    def _reload(self) -> None:
        """Rewrite the config; a running stand-in re-reads it on SIGHUP."""
        self._write_config()
        if self.running and self._proc is not None:
            self._proc.send_signal(signal.SIGHUP)
            time.sleep(0.05)


# --------------------------------------------------------------------------- factory

KINDS: dict[str, type[DNSServer]] = {
    "bind": BindServer,
    "bind-views": ViewedBindServer,
    "bind-secondary": BindSecondary,
    "knot": KnotServer,
    "pdns": PdnsServer,
    "technitium": TechnitiumServer,
}


def start_server(
    kind: str,
    *,
    key: TsigKey | None = None,
    other_key: TsigKey | None = None,
    faketime: str | None = None,
) -> DNSServer:
    """Prepare and start a server of `kind` ("bind", "knot", "pdns"); close() it after.

    `faketime` (e.g. "+2h") runs the daemon with its wall clock shifted by libfaketime.
    """
    try:
        cls = KINDS[kind]
    except KeyError:
        raise DNSServerError(f"unknown DNS server kind {kind!r}; one of {sorted(KINDS)}") from None
    server = cls(key=key, other_key=other_key, faketime=faketime)
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server
