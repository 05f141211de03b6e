"""A Debian root file system with Python 3.11: the image's base where Docker Hub is out of reach.

The layout of Docker Hub's ``python:3.11-slim`` (Debian with Python 3.11, pip, no
compiler), built from Debian's own packages by mmdebstrap into ``rootfs.tar``.
Debian's marker against pip installs into the system Python (PEP 668) is removed,
as the official image has none; pip's and setuptools' bytecode and the docs go,
since only the builder stage runs them.  tools/image.py imports it as the
Dockerfile's ``PYTHON_IMAGE``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.peers._common import Peer, PeerUnavailable, run

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-pip", "python-is-python3", "ca-certificates")
# Bump when the package list or the trimming below changes.
VERSION = "bookworm-py3.11-2"

_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*")
_TRIM = (
    'rm -f "$1"/usr/lib/python3.11/EXTERNALLY-MANAGED',
    'find "$1"/usr/lib/python3/dist-packages -name __pycache__ -prune -exec rm -rf {} +',
    'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/cache/debconf/*-old'
    ' "$1"/var/log/*',
)


def _build(dest: Path) -> None:
    tool = shutil.which("mmdebstrap")
    if tool is None:
        raise PeerUnavailable("mmdebstrap (Debian's mmdebstrap) is needed to build the rootfs")
    cmd: list[str | Path] = [
        "nice",
        "-n",
        "10",
        tool,
        "--quiet",
        "--variant=minbase",
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        f"--include={','.join(PACKAGES)}",
        *(f"--dpkgopt=path-exclude={p}" for p in _EXCLUDES),
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        *(f"--customize-hook={hook}" for hook in _TRIM),
        SUITE,
        dest / "rootfs.tar",
        MIRROR,
    ]
    run(cmd, env=None)


PEER = Peer("python-rootfs", VERSION, _build)
