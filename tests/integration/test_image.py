"""The container image for real: the Dockerfile built by buildah, its entrypoint run like the Pod's.

tools/image.py builds both stages of the Dockerfile without a daemon, on a base of
python:3.11-slim's layout built from Debian's packages (Docker Hub is out of reach). The
image's own root file system then runs ENTRYPOINT + CMD from the image's config in fresh
mount, PID and network namespaces: the root read-only, /tmp a small tmpfs, the config and key
mounted read-only at /etc/dnssync, as uid 10001 with no capabilities and no new privileges (as
the chart's securityContext has it). The image's HEALTHCHECK must pass while `dnssync run`
serves /healthz, SIGTERM must end it with 0, and the health check must fail afterwards.
"""

from __future__ import annotations

import base64
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tools import image

ROOT = Path(__file__).resolve().parents[2]
# The goal for what a node pulls (gzip layers).
MAX_COMPRESSED = 80_000_000
UID = 10001
TSIG = base64.b64encode(b"dnssync-image-test-secret-32byte").decode()

# Runs inside `unshare --mount --pid --net --fork`: $1 the image's root, $2 the config folder,
# $3 the environment (one KEY=value per line), $4.. ENTRYPOINT + CMD.
RUNNER = r"""
set -u
root=$1 conf=$2 envfile=$3
shift 3
mount --make-rprivate /
ip link set lo up
mount --bind "$root" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o nosuid,nodev,size=16m,mode=1777 tmpfs "$root/tmp"
mount -t tmpfs -o nosuid,mode=755 tmpfs "$root/dev"
for node in null zero full random urandom; do
  touch "$root/dev/$node" && mount --bind "/dev/$node" "$root/dev/$node"
done
mkdir -p "$root/etc/dnssync"
mount --bind "$conf" "$root/etc/dnssync"
mount -o remount,bind,ro "$root/etc/dnssync"
mount -o remount,bind,ro "$root"
as_user() {
  env -i $(cat "$envfile") HOME=/nonexistent chroot "$root" \
    setpriv --reuid=10001 --regid=10001 --clear-groups --no-new-privs \
      --inh-caps=-all --bounding-set=-all -- "$@"
}
# The service in the background: the subshell becomes env -> chroot -> setpriv -> dnssync (one
# PID, all exec), so SIGTERM reaches dnssync itself.
serve() { exec env -i $(cat "$envfile") HOME=/nonexistent chroot "$root" \
    setpriv --reuid=10001 --regid=10001 --clear-groups --no-new-privs \
      --inh-caps=-all --bounding-set=-all -- "$@"; }
echo "uid=$(as_user id -u) gid=$(as_user id -g)"
if as_user sh -c ': > /probe' 2>/dev/null; then echo "root=writable"; else echo "root=read-only"; fi
if as_user sh -c ': > /tmp/probe' 2>/dev/null; then echo "tmp=writable"; fi
serve "$@" > "$conf.log" 2>&1 &
service=$!
healthy=no
for _ in $(seq 120); do
  if ! kill -0 "$service" 2>/dev/null; then break; fi
  if eval "as_user $HEALTHCHECK" 2>/dev/null; then healthy=yes; break; fi
  sleep 0.25
done
echo "healthcheck=$healthy"
as_user python -c '
import urllib.request, urllib.error
for path in ("/healthz", "/readyz", "/metrics"):
    try:
        r = urllib.request.urlopen("http://127.0.0.1:8080" + path, timeout=3)
        code, body = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        code, body = e.code, ""
    print(f"GET {path}={code}")
    if path == "/metrics":
        names = {line.split("{")[0].split(" ")[0] for line in body.splitlines()}
        print("metrics=" + " ".join(sorted(n for n in names if n.startswith("dnssync_"))))
'
kill -TERM "$service"
wait "$service"
echo "exit=$?"
if eval "as_user $HEALTHCHECK" 2>/dev/null; then echo "after=healthy"; else echo "after=down"; fi
"""


@pytest.fixture(scope="module")
def built() -> Iterator[image.Built]:
    """The image, built from the Dockerfile now."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            yield image.export(image.build(), Path(tmp) / "oci")
        except image.ImageError as e:
            pytest.fail(str(e))


def test_image_size(built: image.Built) -> None:
    """What a node pulls, the gzip-compressed layers, stays within 80 MB."""
    mb = built.compressed / 1e6
    layers = [round(x / 1e6, 1) for x in built.layers]
    print(f"\n{built.name}: {mb:.1f} MB compressed, layers {layers}")
    assert built.compressed <= MAX_COMPRESSED, f"{mb:.1f} MB compressed"


def test_image_config(built: image.Built) -> None:
    """The image runs `dnssync run --config /etc/dnssync/config.yaml` as 10001:10001, from /."""
    config = built.config
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["dnssync"]
    assert config["Cmd"] == ["run", "--config", "/etc/dnssync/config.yaml"]
    assert config["WorkingDir"] == "/"
    assert set(config["ExposedPorts"]) == {"8080/tcp", "8443/tcp"}
    check = config["Healthcheck"]["Test"]
    assert check[0] == "CMD" and "http://127.0.0.1:8080/healthz" in check[-1]
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["PYTHONUNBUFFERED"] == "1" and env["LANG"] == "C.UTF-8"


def test_image_holds_no_build_leftovers(built: image.Built) -> None:
    """No wheels, pip cache, sources or compiler in the final image; dnssync installed."""
    with image.mounted(built.name) as root:
        assert not (root / "wheels").exists()
        assert not (root / "src").exists()
        assert not list((root / "root").glob(".cache/pip*"))
        for tool in ("gcc", "cc", "make"):
            assert not (root / "usr" / "bin" / tool).exists(), tool
        assert (root / "usr" / "local" / "bin" / "dnssync").is_file()
        passwd = (root / "etc" / "passwd").read_text().splitlines()
        (entry,) = [line for line in passwd if line.split(":")[2] == str(UID)]
        assert entry.endswith(":/usr/sbin/nologin")


def run_config(folder: Path) -> Path:
    """A manifests-mode config whose DNS server does not answer: the service runs, not ready."""
    folder.mkdir(mode=0o755)
    shutil.copytree(ROOT / "config" / "examples" / "manifests", folder / "manifests")
    (folder / "tsig.key").write_text(TSIG + "\n")
    data = {
        "manifests": "/etc/dnssync/manifests",
        "targets": [
            {
                "name": "internal",
                "server": {"host": "127.0.0.1", "port": 5353, "timeout": 0.5},
                "zones": ["home.tillo.ch"],
                "key": {"name": "dnssync-internal", "secret_file": "/etc/dnssync/tsig.key"},
            }
        ],
        "log": {"level": "info", "format": "json"},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(data))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def test_entrypoint_serves_healthz_as_uid_10001_on_a_read_only_root(built: image.Built) -> None:
    """ENTRYPOINT + CMD in namespaces, read-only root, uid 10001: healthy, then 0 on SIGTERM."""
    config = built.config
    with (
        tempfile.TemporaryDirectory(prefix="dnssync-image-") as tmp,
        image.mounted(built.name) as root,
    ):
        folder = Path(tmp)
        folder.chmod(0o755)
        conf = run_config(folder / "etc")
        envfile = folder / "env"
        envfile.write_text("\n".join(config["Env"]) + "\n")
        check = shlex.join(config["Healthcheck"]["Test"][1:])
        done = subprocess.run(
            [
                "unshare",
                "--mount",
                "--pid",
                "--net",
                "--fork",
                "--kill-child",
                "bash",
                "-c",
                RUNNER,
                "runner",
                str(root),
                str(conf),
                str(envfile),
                *config["Entrypoint"],
                *config["Cmd"],
            ],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HEALTHCHECK": check},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        log = (folder / "etc.log").read_text() if (folder / "etc.log").exists() else ""
    report = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    context = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-2000:]}\nservice log:\n{log[-3000:]}"
    assert report.get("uid") == f"{UID} gid={UID}", context
    assert report.get("root") == "read-only", context
    assert report.get("tmp") == "writable", context
    assert report.get("healthcheck") == "yes", context
    assert report.get("GET /healthz") == "200", context
    assert report.get("GET /readyz") == "503", context  # its DNS server does not answer
    assert "dnssync_leader" in report.get("metrics", "").split(), context
    assert report.get("exit") == "0", context
    assert report.get("after") == "down", context
    assert "Traceback" not in log, log
