"""A real MIT Kerberos KDC and a GSS-TSIG BIND on loopback, for the GSS-TSIG tests.

`KDC` makes a realm in a temporary directory (`kdb5_util create -s`), principals and
keytabs with `kadmin.local` (no kadmind runs), and runs `krb5kdc -n` on a free loopback
port (UDP and TCP).  Hosts in Kerberos are names, never looked up: the krb5.conf it
writes has `dns_lookup_kdc = false`, `rdns = false`, `dns_canonicalize_hostname = false`
and the KDC at `127.0.0.1:<port>`, so the server's principal `DNS/ns1.dnssync.test`
needs no /etc/hosts entry.  The config reaches processes through `KRB5_CONFIG`, never
through /etc.

`GssBindServer` is BIND 9.18 with `tkey-gssapi-keytab` (it accepts TKEY mode 3 for the
principals in that keytab) and zones whose update policy grants Kerberos principals.

Nothing skips: a missing binary or a KDC that does not start raises `DNSServerError`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.dnsservers import (
    HOST,
    BindServer,
    DNSServerError,
    _child_env,
    _chown,
    _ids,
    _normalize,
    _pick_port,
    _require,
    _run,
    _write,
    _zone_text,
)

REALM = "DNSSYNC.TEST"
SERVICE = "DNS/ns1.dnssync.test"  # the BIND's principal: a name only Kerberos knows
_SBIN = "/usr/sbin"
_START = 15.0


class KDC:
    """One realm and its `krb5kdc`, in a private directory, stopped by `close`."""

    def __init__(self) -> None:
        for tool, package in (
            ("krb5kdc", "krb5-kdc"),
            ("kdb5_util", "krb5-kdc"),
            ("kadmin.local", "krb5-admin-server"),
        ):
            _require(f"{_SBIN}/{tool}", package)
        self.workdir = Path(tempfile.mkdtemp(prefix="dnssync-kdc-"))
        _chown(self.workdir)
        self.port = _pick_port()
        self.krb5_conf = self.workdir / "krb5.conf"
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_config()
        self._tool([f"{_SBIN}/kdb5_util", "-r", REALM, "-P", "dnssync-test-master", "create", "-s"])

    @property
    def env(self) -> dict[str, str]:
        """What a Kerberos program needs to find this realm."""
        return {
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self.workdir / "kdc.conf"),
        }

    def _write_config(self) -> None:
        wd = self.workdir
        _write(
            self.krb5_conf,
            f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
[realms]
    {REALM} = {{
        kdc = {HOST}:{self.port}
    }}
[domain_realm]
    .dnssync.test = {REALM}
    dnssync.test = {REALM}
""",
        )
        _write(
            wd / "kdc.conf",
            f"""[kdcdefaults]
    kdc_listen = {HOST}:{self.port}
    kdc_tcp_listen = {HOST}:{self.port}
[realms]
    {REALM} = {{
        database_name = {wd}/principal
        key_stash_file = {wd}/stash
        acl_file = {wd}/kadm5.acl
        max_life = 10h
        supported_enctypes = aes256-cts-hmac-sha1-96:normal
    }}
[logging]
    kdc = FILE:{wd}/kdc.log
""",
        )
        _write(wd / "kadm5.acl", "")

    def _tool(self, argv: list[str]) -> str:
        return _run(argv, self.workdir, env=self.env)

    def add_principal(self, name: str, *, maxlife: str = "") -> Path:
        """A principal with a random key, and a keytab holding it (owned by the daemons'
        account: BIND reads its own)."""
        life = f'-maxlife "{maxlife}" ' if maxlife else ""
        self._tool([f"{_SBIN}/kadmin.local", "-r", REALM, "-q", f"addprinc {life}-randkey {name}"])
        keytab = self.workdir / (name.replace("/", "_") + ".keytab")
        self._tool([f"{_SBIN}/kadmin.local", "-r", REALM, "-q", f"ktadd -k {keytab} {name}"])
        _chown(keytab)
        keytab.chmod(0o600)
        return keytab

    def start(self) -> None:
        user, group, extra = _ids()
        log = (self.workdir / "krb5kdc.out").open("ab")
        self._proc = subprocess.Popen(
            [f"{_SBIN}/krb5kdc", "-n", "-P", str(self.workdir / "kdc.pid")],
            cwd=self.workdir,
            env={**_child_env(self.workdir), **self.env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=group,
            extra_groups=extra,
        )
        log.close()
        deadline = time.monotonic() + _START
        while not self._answers():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise DNSServerError(f"krb5kdc did not start on {HOST}:{self.port}\n{self.log()}")
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def log(self) -> str:
        text = ""
        for name in ("krb5kdc.out", "kdc.log"):
            path = self.workdir / name
            if path.exists():
                text += path.read_text(errors="replace")[-3000:]
        return text

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


class GssBindServer(BindServer):
    """BIND accepting GSS-TSIG for `SERVICE` (its keytab), with zones granted to principals."""

    kind = "bind-gss"

    def __init__(self, kdc: KDC) -> None:
        self.kdc = kdc
        self.keytab = kdc.add_principal(SERVICE)
        super().__init__()

    def _extra_env(self) -> dict[str, str]:
        return {"KRB5_CONFIG": str(self.kdc.krb5_conf)}

    def _write_config(self) -> None:
        super()._write_config()
        path = self.workdir / "named.conf"
        text = path.read_text().replace(
            "options {\n", f'options {{\n    tkey-gssapi-keytab "{self.keytab}";\n', 1
        )
        _write(path, text)

    def restart_forgetting_contexts(self) -> None:
        """Restart with no negotiated context: BIND keeps them across a restart in
        `_default.tsigkeys` (it exports the GSS contexts at shutdown), so drop that."""
        self.stop()
        (self.workdir / "_default.tsigkeys").unlink(missing_ok=True)
        self.start()

    def add_gss_zone(self, name: str, grants: str) -> None:
        """A zone whose `update-policy` is `grants` (e.g. `grant p@REALM zonesub ANY;`);
        transfers by address (BIND's ACLs name keys, and a context's key name is new
        each time), signed with the requester's context all the same."""
        name = _normalize(name)
        self._register_zone(name)
        _write(self.workdir / "zones" / f"{name}.db", _zone_text(name, ""))
        self._install(
            name,
            f'zone "{name}" {{ type primary; file "zones/{name}.db"; '
            f"update-policy {{ {grants} }}; allow-transfer {{ {HOST}; }}; }};\n",
        )
        if self.running:
            self.wait_for_zone(name)


def client_env(kdc: KDC) -> dict[str, str]:
    """The environment this process needs to be a Kerberos client of `kdc`."""
    return {"KRB5_CONFIG": str(kdc.krb5_conf)}


def set_env(values: dict[str, str]) -> dict[str, str | None]:
    """Set environment variables; return the old values for `restore_env`."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    return old


def restore_env(old: dict[str, str | None]) -> None:
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
