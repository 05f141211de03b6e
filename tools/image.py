"""Build the Dockerfile without a daemon: buildah, on a base built from Debian's packages.

Docker Hub (``python:3.11-slim``) is out of reach here, so the Dockerfile's
``PYTHON_IMAGE`` is a base of the same layout built by mmdebstrap
(tests/peers/python_rootfs.py, cached with the other peers) and imported into
buildah's storage once.  The Dockerfile itself is built unchanged, both stages,
with buildah's chroot isolation (no daemon, no OCI runtime).  No layer cache is
kept (each test run changes the sources the wheels are built from, so it would
only fill the disk), and the image a rebuild replaces is removed: the storage
holds the base and one dnssync image.  ``--format docker`` keeps HEALTHCHECK.

    python -m tools.image            # build, print the image and its size
    python -m tools.image --oci DIR  # also write it as an OCI layout (gzip layers)

The size reported is what a registry stores and a node pulls: the sum of the
gzip-compressed layers of the OCI manifest.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.peers import python_rootfs  # noqa: E402

VERSION: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
IMAGE = f"localhost/dnssync:{VERSION}"
BASE = f"localhost/dnssync-base/python:{python_rootfs.VERSION}"
# The official image's environment for Python (LANG for UTF-8 stdio, PATH with /usr/local).
BASE_ENV = ("LANG=C.UTF-8", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


class ImageError(RuntimeError):
    """A buildah step failed; the message carries its output's tail."""


@dataclass(frozen=True)
class Built:
    """A built image: its name, its config, and its gzip-compressed layer sizes."""

    name: str
    config: dict[str, Any]
    layers: tuple[int, ...]

    @property
    def compressed(self) -> int:
        return sum(self.layers)


def buildah(*args: str | Path, quiet: bool = True) -> str:
    """Run buildah; its stdout, or ImageError with the output's tail."""
    tool = shutil.which("buildah")
    if tool is None:
        raise ImageError("buildah (Debian package buildah) is needed to build the image")
    done = subprocess.run(
        [tool, *map(str, args)], capture_output=quiet, text=True, check=False, timeout=1800
    )
    if done.returncode != 0:
        tail = ((done.stdout or "") + (done.stderr or ""))[-4000:]
        raise ImageError(
            f"buildah {' '.join(map(str, args[:2]))} failed ({done.returncode}):\n{tail}"
        )
    return done.stdout or ""


def exists(name: str) -> bool:
    tool = shutil.which("buildah") or "buildah"
    probe = [tool, "inspect", "--type", "image", name]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def base_image() -> str:
    """The Debian-built stand-in for python:3.11-slim, imported into buildah once."""
    if exists(BASE):
        return BASE
    rootfs = python_rootfs.PEER.path("rootfs.tar")
    container = buildah("from", "scratch").strip()
    try:
        buildah("add", "--quiet", container, rootfs, "/")
        env = [a for e in BASE_ENV for a in ("--env", e)]
        buildah("config", *env, "--cmd", '["python3"]', container)
        buildah("commit", "--quiet", "--format", "docker", container, BASE)
    finally:
        buildah("rm", container)
    return BASE


def image_id(name: str) -> str | None:
    tool = shutil.which("buildah") or "buildah"
    probe = [tool, "inspect", "--type", "image", "--format", "{{.FromImageID}}", name]
    done = subprocess.run(probe, capture_output=True, text=True, check=False)
    return done.stdout.strip() or None if done.returncode == 0 else None


def build(name: str = IMAGE) -> str:
    """Build the Dockerfile (both stages) as ``name``; the build context is the repository."""
    volumes = ["-v", f"{HOST_CA}:{HOST_CA}:ro"] if HOST_CA.is_file() else []
    replaced = image_id(name)
    buildah(
        "build",
        "--quiet",
        "--isolation",
        "chroot",
        "--format",
        "docker",
        "--layers=false",
        "--build-arg",
        f"PYTHON_IMAGE={base_image()}",
        # The builder's pip reaches PyPI through this machine's CA bundle (RUN steps only).
        *volumes,
        "--file",
        ROOT / "Dockerfile",
        "--tag",
        name,
        ROOT,
    )
    if replaced and replaced != image_id(name):
        # Untagged now; it may still be in use by a concurrent run's container: then it stays.
        subprocess.run(
            [shutil.which("buildah") or "buildah", "rmi", replaced],
            capture_output=True,
            check=False,
        )
    return name


def inspect(name: str) -> dict[str, Any]:
    """The image's Docker config (Entrypoint, Cmd, Env, User, WorkingDir, Healthcheck)."""
    data = json.loads(buildah("inspect", "--type", "image", name))
    config: dict[str, Any] = data["Docker"]["config"]
    return config


def export(name: str, oci_dir: Path) -> Built:
    """Write ``name`` as an OCI layout with gzip layers; its config and compressed sizes."""
    shutil.rmtree(oci_dir, ignore_errors=True)
    buildah("push", "--quiet", "--compression-format", "gzip", name, f"oci:{oci_dir}:dnssync")
    index = json.loads((oci_dir / "index.json").read_text())
    digest = index["manifests"][0]["digest"].removeprefix("sha256:")
    manifest = json.loads((oci_dir / "blobs" / "sha256" / digest).read_text())
    layers = tuple(int(layer["size"]) for layer in manifest["layers"])
    for layer in manifest["layers"]:
        if not layer["mediaType"].endswith("gzip"):
            raise ImageError(f"layer {layer['digest']} is {layer['mediaType']}, not gzip")
    return Built(name, inspect(name), layers)


@contextmanager
def mounted(name: str) -> Iterator[Path]:
    """The image's root file system, mounted from a throw-away working container."""
    container = buildah("from", "--quiet", "--pull-never", name).strip()
    try:
        yield Path(buildah("mount", container).strip())
    finally:
        buildah("umount", container)
        buildah("rm", container)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--tag", default=IMAGE)
    ap.add_argument("--oci", type=Path, help="also write the image as an OCI layout here")
    args = ap.parse_args(argv)
    try:
        name = build(args.tag)
        with tempfile.TemporaryDirectory() as tmp:
            built = export(name, args.oci or Path(tmp) / "oci")
    except ImageError as e:
        print(f"image: {e}", file=sys.stderr)
        return 1
    mb = [f"{size / 1e6:.1f}" for size in built.layers]
    print(f"{name}: {built.compressed / 1e6:.1f} MB compressed (layers {' + '.join(mb)} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
