"""The CLI's edges as a user meets them, as processes against real BIND9.

Exit codes (one test per row of the README's table), the safety gate's refusal
in every command, one-line errors without tracebacks, secrets kept out of every
output, and tables that never split a DNS name.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from tests.dnsservers import DNSServer
from tests.integration.test_cli import _config, axfr, dnssync
from tests.unit.test_config import _leaks, bomb

MANAGE = "external-dns.alpha.kubernetes.io/"
_n = itertools.count()
# What a user must never see on stderr.
NOISE = ("Traceback", "was never awaited", "Unclosed client session", "ExceptionGroup")


def _zone(server: DNSServer, label: str) -> str:
    zone = f"{label}{next(_n)}.test"
    server.add_zone(zone)
    return zone


def service(name: str, host: str, target: str = "192.0.2.10") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": "apps",
            "annotations": {
                f"{MANAGE}manage": "mdapi",
                f"{MANAGE}hostname": host,
                f"{MANAGE}target": target,
            },
        },
    }


def manifests(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.mkdir(exist_ok=True)
    (path / "objects.yaml").write_text(yaml.safe_dump_all(objects))
    return path


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """stderr holds one line and none of the noise of a crash; returns it."""
    for noise in NOISE:
        assert noise not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode()


@contextlib.contextmanager
def service_process(*args: str, port: int | None = None) -> Iterator[subprocess.Popen[str]]:
    """``dnssync <args>`` running; SIGTERM on the way out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dnssync", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        if port is not None:
            deadline = time.monotonic() + 60  # start-up on a busy machine
            while True:
                with contextlib.suppress(OSError):
                    get(port, "/healthz")
                    break
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the service did not start listening"
                time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out, err


# --- the safety gate ---------------------------------------------------------


@pytest.fixture
def refused_setup(bind_server: DNSServer, tmp_path: Path) -> tuple[Path, str]:
    """A zone with eight records of ours, and manifests now asking for one of them."""
    zone = _zone(bind_server, "gate")
    objs = [service(f"s{i}", f"s{i}.{zone}", f"192.0.2.{i + 1}") for i in range(8)]
    man = manifests(tmp_path / "manifests", objs)
    cfg = _config(tmp_path, bind_server, zone, man, policy="sync")
    done = dnssync("sync", "--once", "-c", str(cfg))
    assert done.returncode == 0, done.stdout + done.stderr
    manifests(man, objs[:1])
    return cfg, zone


def test_a_refused_plan_never_reads_as_success(
    refused_setup: tuple[Path, str], bind_server: DNSServer
) -> None:
    """plan and sync --once exit 3 on a refusal, never say "in step", and name --force."""
    cfg, zone = refused_setup
    planned = dnssync("plan", "-c", str(cfg))
    assert planned.returncode == 3, planned.stdout + planned.stderr
    assert "refused" in planned.stdout and "--force" in planned.stdout
    assert "max_change_ratio" in planned.stdout
    assert "in step" not in planned.stdout
    synced = dnssync("sync", "--once", "-c", str(cfg))
    assert synced.returncode == 3, synced.stdout + synced.stderr
    assert "in step" not in synced.stdout
    assert axfr(bind_server, zone).get_rdataset(f"s7.{zone}.", "A") is not None
    forced = dnssync("sync", "--once", "--force", "-c", str(cfg))
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert axfr(bind_server, zone).get_rdataset(f"s7.{zone}.", "A") is None


def test_run_reports_a_refusal_in_logs_metrics_and_readyz(
    refused_setup: tuple[Path, str], tmp_path: Path
) -> None:
    """run: one ERROR per distinct refusal, dnssync_plan_refused=1, /readyz 503 naming it."""
    cfg, zone = refused_setup
    port = free_port()
    data = yaml.safe_load(cfg.read_text())
    data["http"] = {"host": "127.0.0.1", "port": port}
    data["targets"][0]["interval"] = 0.2
    data["reconcile"] = {"readiness_grace": 0}
    cfg.write_text(yaml.safe_dump(data))
    with service_process("run", "-c", str(cfg), port=port) as proc:
        deadline = time.monotonic() + 30
        while get(port, "/readyz")[0] != 503 or "refused" not in get(port, "/readyz")[1]:
            assert time.monotonic() < deadline, get(port, "/readyz")
            time.sleep(0.1)
        time.sleep(1.0)  # several more passes: the refusal is still logged once
        status, body = get(port, "/readyz")
        _, metrics = get(port, "/metrics")
        code, _, err = stop(proc)
    assert status == 503
    problems = json.loads(body)["problems"]
    assert any("refused" in v for v in problems.values()), problems
    assert f'dnssync_plan_refused{{target="internal",zone="{zone}"}} 1.0' in metrics
    refusals = [line for line in err.splitlines() if "refused by the safety gate" in line]
    assert len(refusals) == 1, err
    assert "ERROR" in refusals[0] and "--force" in refusals[0]
    assert code == 0


# --- exit codes ----------------------------------------------------------------


def test_plan_exit_codes_in_step_pending_error_and_usage(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """plan: 0 in step, 2 pending, 1 on an error, 64 on bad usage or config (never 2)."""
    zone = _zone(bind_server, "codes")
    man = manifests(tmp_path / "m", [service("a", f"a.{zone}")])
    cfg = _config(tmp_path, bind_server, zone, man)
    assert dnssync("plan", "-c", str(cfg)).returncode == 2
    assert dnssync("sync", "--once", "-c", str(cfg)).returncode == 0
    assert dnssync("plan", "-c", str(cfg)).returncode == 0
    bad_input = manifests(tmp_path / "bad", [service("b", f"b.{zone}", "192.0.2.300")])
    assert dnssync("plan", "-c", str(cfg), "--manifests", str(bad_input)).returncode == 1
    usage = dnssync("plan", "-c", str(cfg), "--no-such-option")
    assert usage.returncode == 64, usage.stderr
    missing = dnssync("plan", "-c", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 64
    assert "missing.yaml" in one_line_error(missing)


def test_sync_exit_codes_done_failed_and_invalid_config(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """sync --once: 0 done, 1 on rejected input, 2 on an invalid config."""
    zone = _zone(bind_server, "scodes")
    cfg = _config(
        tmp_path, bind_server, zone, manifests(tmp_path / "m", [service("a", f"a.{zone}")])
    )
    assert dnssync("sync", "--once", "-c", str(cfg)).returncode == 0
    bad = manifests(tmp_path / "bad", [service("b", f"b.{zone}", "192.0.2.300")])
    assert dnssync("sync", "--once", "-c", str(cfg), "--manifests", str(bad)).returncode == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text("targets: [{name: a}]\n")
    assert dnssync("sync", "--once", "-c", str(broken)).returncode == 2


def test_run_exits_0_on_sigterm_1_on_a_port_in_use_2_on_nothing_to_run(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """run: SIGTERM is a clean 0; a busy port is one line and 1; acme with nothing on is 2."""
    zone = _zone(bind_server, "run")
    cfg = _config(tmp_path, bind_server, zone, manifests(tmp_path / "m", []))
    port = free_port()
    data = yaml.safe_load(cfg.read_text())
    data["http"] = {"host": "127.0.0.1", "port": port}
    cfg.write_text(yaml.safe_dump(data))
    with service_process("run", "-c", str(cfg), port=port) as proc:
        busy = dnssync("run", "-c", str(cfg))
        code, _, err = stop(proc)
    assert code == 0, err
    assert busy.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in one_line_error(busy)
    data["acme"] = {
        "servers": [{"name": "m", "server": {"host": bind_server.host, "port": bind_server.port}}],
        "webhook": {"enabled": False},
        "challenges": {"enabled": False},
    }
    cfg.write_text(yaml.safe_dump(data))
    idle = dnssync("run", "-c", str(cfg))
    assert idle.returncode == 2
    assert "nothing to run" in one_line_error(idle)


def _webhook_config(tmp_path: Path, server: DNSServer, port: int, *, certs: bool) -> Path:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    cert, key, client_ca = tmp_path / "tls.crt", tmp_path / "tls.key", tmp_path / "ca.crt"
    if certs:
        leaf.private_key_and_cert_chain_pem.write_to_path(str(key))
        leaf.cert_chain_pems[0].write_to_path(str(cert))
    ca.cert_pem.write_to_path(str(client_ca))
    data = {
        "log": {"level": "info", "format": "json"},
        "acme": {
            "servers": [{"name": "m", "server": {"host": server.host, "port": server.port}}],
            "webhook": {
                "host": "127.0.0.1",
                "port": port,
                "cert_file": str(cert),
                "key_file": str(key),
                "client_ca_file": str(client_ca),
            },
            "challenges": {"enabled": False},
        },
    }
    path = tmp_path / "webhook.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_webhook_exits_0_on_sigterm_1_on_a_busy_port_and_logs_by_log_format(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """webhook: JSON logs as configured, SIGTERM ends it with 0 (not 143), and a second one on
    the same port fails with one line and 1."""
    port = free_port()
    cfg = _webhook_config(tmp_path, bind_server, port, certs=True)
    with service_process("webhook", "-c", str(cfg)) as proc:
        deadline = time.monotonic() + 60  # start-up on a busy machine
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        busy = dnssync("webhook", "-c", str(cfg))
        code, _, err = stop(proc)
    assert code == 0, err
    assert busy.returncode == 1, busy.stderr
    assert not any(noise in busy.stderr for noise in NOISE), busy.stderr
    causes = [json.loads(line)["msg"] for line in busy.stderr.splitlines() if "in use" in line]
    assert len(causes) == 1 and causes[0].startswith("stopping:"), busy.stderr
    assert f"'127.0.0.1', {port}" in causes[0], causes
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert any("webhook on 127.0.0.1" in line["msg"] for line in lines), err


def test_a_missing_tls_file_is_one_line_and_exit_2(bind_server: DNSServer, tmp_path: Path) -> None:
    """webhook and run with a missing serving certificate: one line naming the file, exit 2."""
    cfg = _webhook_config(tmp_path, bind_server, free_port(), certs=False)
    for command in ("webhook", "run"):
        result = dnssync(command, "-c", str(cfg))
        assert result.returncode == 2, result.stderr
        line = one_line_error(result)
        assert "acme.webhook.cert_file" in line and "tls.crt" in line


def test_an_unreadable_manifests_directory_is_one_line(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """A manifests directory the process may not list: one line, no traceback."""
    zone = _zone(bind_server, "unread")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    cfg = _config(tmp_path, bind_server, zone, locked)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    # Root reads every directory; without CAP_DAC_* it obeys the mode like anyone.
    result = subprocess.run(
        [
            "setpriv",
            "--bounding-set=-dac_override,-dac_read_search",
            sys.executable,
            "-m",
            "dnssync",
            "plan",
            "-c",
            str(cfg),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    locked.chmod(0o700)
    assert result.returncode == 64
    assert "Permission denied" in one_line_error(result)


def test_subcommand_help_has_a_description_exit_codes_and_only_useful_options() -> None:
    """Each --help says what the command does and its exit codes; check/acme/webhook offer no
    options that do nothing for them."""
    for command in ("plan", "sync", "run", "check", "webhook", "demo"):
        text = dnssync(command, "--help").stdout
        assert "exit codes:" in text, command
    assert "--manifests" not in dnssync("check", "--help").stdout
    assert "--manifests" not in dnssync("webhook", "--help").stdout
    assert "--target" not in dnssync("webhook", "--help").stdout
    acme = dnssync("acme", "present", "--help").stdout
    assert "--manifests" not in acme and "--target" not in acme and "exit codes:" in acme


# --- secrets -------------------------------------------------------------------


def test_no_output_of_any_command_carries_the_secret(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """Broken configs holding the secret, for every command: stdout and stderr never show it."""
    secret = base64.b64encode(os.urandom(32)).decode()
    broken = [
        f"targets:\n- {{name: a, zones: [a.test], key: {{name: k, secert: {secret}}}}}\n",
        f'targets:\n- name: a\n  key: {{name: k, secret: "{secret}\n',
        f"targets:\n- {{name: a, zones: [a.test], key: {{name: k, secret_file: {secret}}}}}\n",
        f"acme:\n  servers:\n  - {{name: m, key: {{name: k, secrets: {secret}}}}}\n",
    ]
    for i, text in enumerate(broken):
        cfg = tmp_path / f"c{i}.yaml"
        cfg.write_text(text)
        for args in (
            ["check"],
            ["plan", "--manifests", str(tmp_path)],
            ["sync", "--once", "--manifests", str(tmp_path)],
            ["run"],
            ["webhook"],
            ["acme", "present", "x.a.test", "v"],
        ):
            result = dnssync(*args, "-c", str(cfg))
            assert result.returncode != 0
            assert not _leaks(result.stdout + result.stderr, secret), (args, text)
            if "invalid configuration" not in result.stderr:
                one_line_error(result)


def test_a_wrong_secret_stays_out_of_logs_metrics_and_readyz(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """run with a secret BIND does not know: BADSIG named; the secret nowhere."""
    zone = _zone(bind_server, "wrong")
    secret = base64.b64encode(os.urandom(32)).decode()
    man = manifests(tmp_path / "m", [service("a", f"a.{zone}")])
    cfg = _config(tmp_path, bind_server, zone, man)
    (tmp_path / "tsig.secret").write_text(secret)
    port = free_port()
    data = yaml.safe_load(cfg.read_text())
    data["http"] = {"host": "127.0.0.1", "port": port}
    data["log"] = {"level": "debug"}
    cfg.write_text(yaml.safe_dump(data))
    with service_process("run", "-c", str(cfg), port=port) as proc:
        deadline = time.monotonic() + 30
        while "BADSIG" not in get(port, "/metrics")[1]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        texts = [get(port, "/readyz")[1], get(port, "/metrics")[1]]
        _, out, err = stop(proc)
    assert "BADSIG" in err
    for text in (*texts, out, err):
        assert not _leaks(text, secret)


# --- YAML bombs --------------------------------------------------------------


def test_alias_bombs_end_every_command_quickly_with_the_file_named(tmp_path: Path) -> None:
    """Billion laughs in the config or a manifest: one line naming the file, no hang."""
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text(bomb() + "targets: *i\n")
    for args in (["check"], ["plan"], ["run"], ["webhook"]):
        started = time.monotonic()
        result = dnssync(*args, "-c", str(cfg))
        assert time.monotonic() - started < 20  # a Python start-up on a busy machine
        assert result.returncode in (2, 64)
        assert str(cfg) in one_line_error(result)
    man = tmp_path / "m"
    man.mkdir()
    (man / "svc.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels:\n"
        + bomb("    ")
        + "spec:\n  ports: *i\n"
    )
    ok = tmp_path / "ok.yaml"
    ok.write_text(
        yaml.safe_dump(
            {
                "manifests": str(man),
                "targets": [{"name": "a", "zones": ["a.test"], "server": {"port": 9}}],
            }
        )
    )
    result = dnssync("plan", "-c", str(ok))
    assert "svc.yaml" in result.stderr and "aliases" in result.stderr


# --- what plan and sync say ------------------------------------------------------


def cli(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "dnssync", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_names_are_never_split_at_80_columns(bind_server: DNSServer, tmp_path: Path) -> None:
    """A table that fits is a table; one that does not becomes blocks: every name whole."""
    zone = _zone(bind_server, "wide")
    short = f"grafana.{zone}"
    long = f"a-rather-long-service-name-for-the-table.monitoring.{zone}"
    for name in (short, long):
        man = manifests(tmp_path / name.split(".")[0], [service("s", name)])
        cfg = _config(tmp_path, bind_server, zone, man)
        result = cli("plan", "-c", str(cfg))
        assert result.returncode == 2, result.stdout + result.stderr
        assert name in result.stdout, result.stdout
        assert all(len(line) <= 80 for line in result.stdout.splitlines() if name not in line)


def test_applied_counts_the_rows_shown(bind_server: DNSServer, tmp_path: Path) -> None:
    """A type change is two rows (delete A, create CNAME) and "applied 2 change(s)"."""
    zone = _zone(bind_server, "rows")
    man = manifests(tmp_path / "m", [service("s", f"app.{zone}")])
    cfg = _config(tmp_path, bind_server, zone, man)
    assert cli("sync", "--once", "-c", str(cfg)).returncode == 0
    manifests(man, [service("s", f"app.{zone}", f"ingress.{zone}")])
    planned = cli("plan", "-c", str(cfg), columns=200)
    rows = [line for line in planned.stdout.splitlines() if f"app.{zone}" in line]
    assert len(rows) == 2 and "2 change(s) pending" in planned.stdout, planned.stdout
    synced = cli("sync", "--once", "-c", str(cfg), columns=200)
    assert "applied 2 change(s)" in synced.stdout, synced.stdout


def test_other_targets_records_are_a_count_and_strict_fails_on_skips(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """Two targets: each says once how many records belong to the other; a name outside
    every zone is skipped, counted in the summary, and fails the run under --strict."""
    internal, lab = _zone(bind_server, "int"), _zone(bind_server, "lab")
    objs = [service(f"i{i}", f"i{i}.{internal}") for i in range(3)]
    objs += [service(f"l{i}", f"l{i}.{lab}") for i in range(2)]
    objs += [service("away", "www.example.org")]
    cfg = _config(tmp_path, bind_server, internal, manifests(tmp_path / "m", objs))
    data = yaml.safe_load(cfg.read_text())
    data["targets"].append({**data["targets"][0], "name": "lab", "zones": [lab]})
    cfg.write_text(yaml.safe_dump(data))
    planned = cli("plan", "-c", str(cfg), columns=200)
    out = planned.stdout
    assert planned.returncode == 2, out + planned.stderr
    assert "2 record(s) belong to zones of other targets" in out
    assert "3 record(s) belong to zones of other targets" in out
    assert "not inside any zone of target" not in out
    assert out.count("www.example.org") == 1  # skipped once, not once per target
    assert "not inside any zone of any target" in out
    assert "summary: 5 change(s) pending, 1 skipped" in out
    strict = cli("plan", "--strict", "-c", str(cfg))
    assert strict.returncode == 1


def test_run_logs_start_up_and_each_applied_pass_in_json(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """At info level run says what it serves, where it listens, and what each pass applied."""
    zone = _zone(bind_server, "logs")
    man = manifests(tmp_path / "m", [service("s", f"app.{zone}")])
    cfg = _config(tmp_path, bind_server, zone, man)
    port = free_port()
    data = yaml.safe_load(cfg.read_text())
    data["http"] = {"host": "127.0.0.1", "port": port}
    data["log"] = {"level": "info", "format": "json"}
    cfg.write_text(yaml.safe_dump(data))
    with service_process("run", "-c", str(cfg), port=port) as proc:
        deadline = time.monotonic() + 30
        while axfr(bind_server, zone).get_rdataset(f"app.{zone}.", "A") is None:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        manifests(man, [service("s", f"app.{zone}"), service("bad", f"bad.{zone}", "192.0.2.999")])
        time.sleep(6)  # one manifests poll (5 s)
        code, _, err = stop(proc)
    assert code == 0
    msgs = [json.loads(line)["msg"] for line in err.splitlines() if line.strip()]
    assert any(m.startswith("target internal: server") and zone in m for m in msgs), msgs
    assert any(m.startswith(f"http: listening on 127.0.0.1:{port}") for m in msgs), msgs
    assert f"target internal: applied 1 change(s) in 1 message(s) to zone {zone}" in msgs
    assert sum("apps/bad" in m and "192.0.2.999" in m for m in msgs) == 1, msgs
