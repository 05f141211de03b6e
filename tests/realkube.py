"""A real control plane on loopback: etcd and kube-apiserver, RBAC on, started and restarted.

`ControlPlane` runs the binaries tests/peers/kube.py builds, on free 127.0.0.1 ports, with
everything a cluster's API needs and nothing else (no controller-manager, no kubelet):

- its own CA for the serving certificate and client certificates (admin: ``system:masters``);
- ``--authorization-mode=Node,RBAC``: a ServiceAccount can do only what its roles allow;
- service-account signing keys, so the TokenRequest API issues real tokens;
- the front-proxy (requestheader) CA and client certificate, so an aggregated API (the ACME
  webhook) is reached through it: with no kube-proxy here, Service ClusterIPs come from a
  loopback range (127.96.0.0/16), which the apiserver dials directly. (Aggregator routing to
  endpoints is no way out: EndpointSlice and Endpoints addresses may not be loopback.)
- automatic etcd compaction off (tests compact when they mean to).

`restart(graceful=...)` stops the apiserver with SIGTERM (or SIGKILL) and starts it again on the
same port with the same etcd, as a control-plane upgrade or crash does. Without a
controller-manager nothing fills in Endpoints, ServiceAccount tokens or namespace deletion:
tests create what they need.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.peers import kube as peers

ROOT = Path(__file__).resolve().parents[1]
DEPLOY_BASE = ROOT / "config" / "deploy" / "base"
SERVICE_CIDR = "127.96.0.0/16"
FRONT_PROXY_CN = "front-proxy-client"
# The kinds of config/deploy that a bare apiserver can take (cert-manager's are not served).
RBAC_KINDS = (
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
)

Obj = dict[str, Any]


class ControlPlaneError(RuntimeError):
    """The control plane did not start or answer; the message holds the log tail."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


@dataclass
class _Process:
    """One daemon with its log file."""

    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 90.0) -> float:
        """Send ``sig`` and wait for the exit (SIGKILL after ``timeout``); seconds it took."""
        started = time.monotonic()
        if self.proc is None:
            return 0.0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        return time.monotonic() - started


@dataclass
class ControlPlane:
    """etcd + kube-apiserver in ``root``; see the module docstring."""

    root: Path
    api_port: int = field(default_factory=free_port)
    etcd_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)
    ca: trustme.CA = field(default_factory=trustme.CA)
    front_proxy_ca: trustme.CA = field(default_factory=trustme.CA)
    ready_at: float = 0.0  # time.monotonic() when the apiserver last answered /readyz
    _etcd: _Process | None = None
    _apiserver: _Process | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    @property
    def ca_file(self) -> Path:
        return self.root / "pki" / "ca.crt"

    @property
    def front_proxy_ca_file(self) -> Path:
        return self.root / "pki" / "front-proxy-ca.crt"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.root / "admin.kubeconfig"

    # ---- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        self._write_pki()
        self._etcd = _Process("etcd", self._etcd_argv(), self.root / "etcd.log")
        self._etcd.start()
        self._wait(lambda: self._get(f"{self.etcd_url}/health", tls=False), "etcd", self._etcd)
        self._apiserver = _Process(
            "kube-apiserver", self._apiserver_argv(), self.root / "kube-apiserver.log"
        )
        self._start_apiserver()

    def close(self) -> None:
        for proc in (self._apiserver, self._etcd):
            if proc is not None:
                proc.stop(signal.SIGKILL)

    def restart(self, *, graceful: bool = True) -> float:
        """Stop the apiserver (SIGTERM, or SIGKILL), start it again; seconds it was stopping."""
        assert self._apiserver is not None
        took = self._apiserver.stop(signal.SIGTERM if graceful else signal.SIGKILL)
        self._start_apiserver()
        return took

    def _start_apiserver(self) -> None:
        assert self._apiserver is not None
        self._apiserver.start()
        self._wait(self._ready, "kube-apiserver", self._apiserver, within=120)
        self.ready_at = time.monotonic()

    def _ready(self) -> bool:
        return self._get(f"{self.url}/readyz", tls=True) == 200

    def _wait(self, probe: Any, what: str, proc: _Process, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not proc.alive():
                raise ControlPlaneError(f"{what} exited:\n{_tail(proc.log)}")
            if probe():
                return
            time.sleep(0.1)
        raise ControlPlaneError(f"{what} not ready within {within:g} s:\n{_tail(proc.log)}")

    def _get(self, url: str, *, tls: bool) -> int | None:
        try:
            with urllib.request.urlopen(
                url, timeout=2, context=self.admin_ssl() if tls else None
            ) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def admin_ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(self.root / "pki" / "admin.crt", self.root / "pki" / "admin.key")
        return ctx

    # ---- configuration --------------------------------------------------------------

    def _write_pki(self) -> None:
        pki = self.root / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.front_proxy_ca.cert_pem.write_to_path(str(self.front_proxy_ca_file))
        serving = self.ca.issue_cert(
            "127.0.0.1",
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "127.96.0.1",
            common_name="kube-apiserver",
        )
        serving.cert_chain_pems[0].write_to_path(str(pki / "apiserver.crt"))
        serving.private_key_pem.write_to_path(str(pki / "apiserver.key"))
        admin = self.ca.issue_cert(
            "kubernetes-admin", common_name="kubernetes-admin", organization_name="system:masters"
        )
        admin.cert_chain_pems[0].write_to_path(str(pki / "admin.crt"))
        admin.private_key_pem.write_to_path(str(pki / "admin.key"))
        proxy = self.front_proxy_ca.issue_cert(FRONT_PROXY_CN, common_name=FRONT_PROXY_CN)
        proxy.cert_chain_pems[0].write_to_path(str(pki / "front-proxy-client.crt"))
        proxy.private_key_pem.write_to_path(str(pki / "front-proxy-client.key"))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (pki / "sa.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (pki / "sa.pub").write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        self._write_kubeconfig(
            self.admin_kubeconfig,
            {"client-certificate": str(pki / "admin.crt"), "client-key": str(pki / "admin.key")},
        )

    def _etcd_argv(self) -> list[str]:
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        return [
            str(peers.etcd()),
            "--name=default",
            f"--data-dir={self.root / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
            # A test cluster: losing the data on a host crash is fine, fsync latency is not.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]

    def _apiserver_argv(self) -> list[str]:
        pki = self.root / "pki"
        return [
            str(peers.kube_apiserver()),
            f"--etcd-servers={self.etcd_url}",
            "--etcd-compaction-interval=0",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            f"--cert-dir={self.root / 'certs'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={self.ca_file}",
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--requestheader-client-ca-file={self.front_proxy_ca_file}",
            f"--requestheader-allowed-names={FRONT_PROXY_CN}",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
            "--profiling=false",
            # On SIGTERM, end open watches (within 2 s) as a managed control plane
            # does, instead of holding them to the 60 s shutdown timeout: dnssync
            # then sees the graceful end of its watches (SIGKILL restarts cut them).
            "--shutdown-watch-termination-grace-period=2s",
            "--v=1",
        ]

    def _write_kubeconfig(self, path: Path, user: dict[str, str]) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "real",
                    "cluster": {"server": self.url, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": "user", "user": user}],
            "contexts": [{"name": "real", "context": {"cluster": "real", "user": "user"}}],
            "current-context": "real",
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)
        return path

    # ---- using it ------------------------------------------------------------------

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        kubeconfig: Path | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run the kubectl peer against this cluster (admin unless ``kubeconfig``)."""
        proc = subprocess.run(
            [str(peers.kubectl()), f"--kubeconfig={kubeconfig or self.admin_kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
        return proc

    def apply(self, objs: Iterable[Obj]) -> None:
        docs = list(objs)
        if docs:
            self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))

    def service_account_kubeconfig(self, namespace: str, name: str, path: Path) -> Path:
        """A kubeconfig with a TokenRequest token of ServiceAccount ``namespace/name``."""
        token = self.kubectl(
            "create", "token", name, "-n", namespace, "--duration=24h"
        ).stdout.strip()
        return self._write_kubeconfig(path, {"token": token})

    def install_crd(self, crd: Obj) -> None:
        """Apply a CustomResourceDefinition and wait until it is served."""
        self.apply([crd])
        name = crd["metadata"]["name"]
        deadline = time.monotonic() + 60

        def established() -> bool:
            # Not `kubectl wait` nor jsonpath: both fail while the status has no conditions.
            status = json.loads(self.kubectl("get", "crd", name, "-o", "json").stdout)["status"]
            conditions = status.get("conditions") or []
            return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

        while not established():
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"CRD {name} not established within 60 s")
            time.sleep(0.2)

    def compact_etcd(self) -> int:
        """Compact etcd's history up to its current revision; returns that revision."""
        status = self._etcd_post("/v3/kv/range", {"key": "AA==", "limit": 1})
        revision = int(status["header"]["revision"])
        self._etcd_post("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        return revision

    def _etcd_post(self, path: str, body: Obj) -> Obj:
        request = urllib.request.Request(
            self.etcd_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            result: Obj = json.loads(resp.read())
        return result

    def log_tail(self) -> str:
        return _tail(self.root / "kube-apiserver.log")


def shipped_objects(kinds: Sequence[str] = RBAC_KINDS) -> list[Obj]:
    """config/deploy/base rendered by the kubectl peer's kustomize, only ``kinds``."""
    proc = subprocess.run(
        [str(peers.kubectl()), "kustomize", str(DEPLOY_BASE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise ControlPlaneError(f"kubectl kustomize {DEPLOY_BASE} failed:\n{proc.stderr[-3000:]}")
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    return [d for d in docs if d.get("kind") in kinds]


def start_control_plane(root: Path) -> ControlPlane:
    """A started control plane with the shipped RBAC applied; close() it when done."""
    plane = ControlPlane(root)
    try:
        plane.start()
        plane.apply(shipped_objects())
    except BaseException:
        plane.close()
        raise
    return plane


CERT_MANAGER = "v1.21.2"


def cert_manager_crd(plural: str) -> Obj:
    """cert-manager's own CustomResourceDefinition of ``plural`` (e.g. ``challenges``).

    Read from the cert-manager module on the Go module proxy (its ``deploy/crds``), so the
    real schema -- required fields, pruning, the status subresource -- is what tests meet.
    """
    done = subprocess.run(
        ["go", "mod", "download", "-json", f"github.com/cert-manager/cert-manager@{CERT_MANAGER}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"},
    )
    info = json.loads(done.stdout or "{}")
    if "Dir" not in info:
        raise ControlPlaneError(f"cert-manager {CERT_MANAGER} CRDs: {info or done.stderr[-2000:]}")
    (path,) = (Path(info["Dir"]) / "deploy" / "crds").glob(f"*_{plural}.yaml")
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    crd: Obj = docs[0]
    return crd
