"""What the short-lived commands import: hooks and one-shot runs start fast (issue #12).

``dnssync acme present|cleanup`` runs once per challenge from certbot or lego,
and ``plan`` / ``sync --once`` once per CI job: each heavy library they load
for nothing costs every run tens of milliseconds.  Each test runs the real
command to its end in a subprocess, against BIND9, and lists ``sys.modules``
afterwards; timings live in ``bench/startup.py``, never here.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

from tests.dnsservers import BindServer

ROOT = Path(__file__).resolve().parents[2]
#: The service's libraries: HTTP servers, the Kubernetes client, metrics, TLS tooling.
SERVICE_ONLY = ("aiohttp", "kubernetes_asyncio", "prometheus_client", "multidict", "yarl")
#: Tables and progress bars, AES for encrypted ownership, the manifests' YAML parser.
NOT_FOR_HOOKS = (*SERVICE_ONLY, "rich", "cryptography", "yaml_rs")
#: Loaded by a hook only on the path that needs it: tenacity on a retry, the stub
#: resolver with ``acme.resolvers``, the zone reader for the watcher's marker scan.
HOOK_ON_DEMAND = ("tenacity", "dns.asyncresolver", "dns.resolver", "dnssync.dns.zones")
RUN = """
import json, runpy, sys
sys.argv = ["dnssync", *sys.argv[1:]]
try:
    runpy.run_module("dnssync", run_name="__main__")
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def loaded(*args: str, env: dict[str, str] | None = None) -> tuple[int, set[str], str]:
    """Run ``dnssync *args`` to its end; its exit code, modules (dotted and top-level), stderr."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DNSSYNC_", "CERTBOT_"))},
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-c", RUN, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    names = set(result["modules"])
    return result["code"], names | {m.split(".")[0] for m in names}, done.stderr


def write_config(tmp: Path, server: BindServer, zone: str) -> Path:
    secret = tmp / "tsig.secret"
    secret.write_text(server.key.secret + "\n")
    secret.chmod(0o600)
    key = {"name": server.key.name, "algorithm": server.key.algorithm, "secret_file": str(secret)}
    endpoint = {"host": server.host, "port": server.port}
    manifests = tmp / "manifests"
    manifests.mkdir()
    (manifests / "web.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n"
        f"    external-dns.kubernetes.io/hostname: web.{zone}\n"
        "    external-dns.kubernetes.io/target: 192.0.2.1\n"
    )
    cfg = {
        "manifests": str(manifests),
        "targets": [{"name": "t", "server": endpoint, "zones": [zone], "key": key}],
        "acme": {"servers": [{"name": "bind", "server": endpoint, "key": key, "zones": [zone]}]},
    }
    path = tmp / "dnssync.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_acme_hooks_load_no_heavy_library(bind_server: BindServer, tmp_path: Path) -> None:
    """`acme present` and `acme cleanup` do their work without aiohttp, kubernetes, rich, AES."""
    zone = "startup-acme.test"
    bind_server.add_zone(zone)
    config = write_config(tmp_path, bind_server, zone)
    value = secrets.token_urlsafe(32)
    for action in ("present", "cleanup"):
        code, modules, stderr = loaded(
            "acme", action, "-c", str(config), f"_acme-challenge.{zone}.", value
        )
        assert code == 0, stderr
        assert modules.isdisjoint(NOT_FOR_HOOKS), sorted(modules & set(NOT_FOR_HOOKS))


def test_acme_hooks_load_retries_and_resolver_on_demand(
    bind_server: BindServer, tmp_path: Path
) -> None:
    """A hook whose exchanges succeed first time loads no retry library, resolver or zone reader."""
    zone = "startup-demand.test"
    bind_server.add_zone(zone)
    config = write_config(tmp_path, bind_server, zone)
    value = secrets.token_urlsafe(32)
    for action in ("present", "cleanup"):
        code, modules, stderr = loaded(
            "acme", action, "-c", str(config), f"_acme-challenge.{zone}.", value
        )
        assert code == 0, stderr
        assert modules.isdisjoint(HOOK_ON_DEMAND), sorted(modules & set(HOOK_ON_DEMAND))


def test_plan_loads_no_service_library(bind_server: BindServer, tmp_path: Path) -> None:
    """`plan` reads, plans and prints without the service's libraries or AES."""
    zone = "startup-plan.test"
    bind_server.add_zone(zone)
    config = write_config(tmp_path, bind_server, zone)
    code, modules, stderr = loaded("plan", "-c", str(config))
    assert code == 2, stderr  # one change pending
    # No bar without a terminal; no file watch (watchfiles, anyio) outside the service.
    heavy = {*SERVICE_ONLY, "cryptography", "rich.progress", "watchfiles", "anyio"}
    assert modules.isdisjoint(heavy), sorted(modules & heavy)


def test_acme_hooks_load_no_pydantic_plugin(bind_server: BindServer, tmp_path: Path) -> None:
    """An installed pydantic plugin is not searched for nor loaded: it would see the secrets."""
    zone = "startup-plugin.test"
    bind_server.add_zone(zone)
    config = write_config(tmp_path, bind_server, zone)
    site = tmp_path / "site"
    dist = site / "spyplugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: spyplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pydantic]\nspy = spyplugin:plugin\n")
    (site / "spyplugin.py").write_text(
        "class Spy:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        return None, None, None\n"
        "plugin = Spy()\n"
    )
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    record, value = f"_acme-challenge.{zone}.", secrets.token_urlsafe(32)
    for action in ("present", "cleanup"):
        code, modules, stderr = loaded("acme", action, "-c", str(config), record, value, env=env)
        assert code == 0, stderr
        assert "spyplugin" not in modules
