"""The peer cache: one directory per peer and version, built once, safe against parallel builders.

Layout: ``$DNSSYNC_PEERS_CACHE`` (default ``/var/cache/dnssync-peers``) holds
``<name>-<version>/`` with the built files and a ``.complete`` stamp written last, so a
build that died half-way is rebuilt instead of trusted. A file lock per peer lets a test
run and ``python -m tests.peers`` share the cache. Go programs come from the Go module
proxy (``go install`` or ``go mod download`` + ``go build`` inside a copy of the module,
for modules whose ``replace`` directives make ``go install`` refuse them; `pin_local_replaces`
turns a monorepo's ``replace x => ../x`` into the published ``x`` at a version).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("DNSSYNC_PEERS_CACHE", "/var/cache/dnssync-peers"))


class PeerUnavailable(RuntimeError):
    """A peer could not be built or found: the interop test fails with this message."""


@dataclass(frozen=True)
class Peer:
    """One real peer at one version; ``build(dest)`` puts its files into ``dest``."""

    name: str
    version: str
    build: Callable[[Path], None]

    @property
    def root(self) -> Path:
        return CACHE / f"{self.name}-{self.version}"

    def ensure(self) -> Path:
        """The peer's directory, building it first if it is not cached."""
        stamp = self.root / ".complete"
        if stamp.exists():
            return self.root
        CACHE.mkdir(parents=True, exist_ok=True)
        with _locked(CACHE / f".{self.name}-{self.version}.lock"):
            if stamp.exists():
                return self.root
            shutil.rmtree(self.root, ignore_errors=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{self.name}-", dir=CACHE))
            try:
                self.build(staging)
                (staging / ".complete").write_text(self.version + "\n")
                staging.rename(self.root)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return self.root

    def path(self, relative: str) -> Path:
        """A file of the built peer (``bin/x``); raises PeerUnavailable with the reason."""
        try:
            found = self.ensure() / relative
        except (OSError, subprocess.CalledProcessError, PeerUnavailable) as exc:
            raise PeerUnavailable(f"{self.name} {self.version} could not be built: {exc}") from exc
        if not found.exists():
            raise PeerUnavailable(
                f"{self.name} {self.version}: {relative} missing from {self.root}"
            )
        return found


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def go_env(**extra: str) -> dict[str, str]:
    """The environment for Go builds: the machine's toolchain only, no cgo unless asked."""
    env = dict(os.environ)
    env.setdefault("GOTOOLCHAIN", "local")
    env.setdefault("CGO_ENABLED", "0")
    env.setdefault("GOFLAGS", "-mod=mod")
    env.update(extra)
    return env


def run(
    cmd: Sequence[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """Run a build step; its output is kept for the error message if it fails."""
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env or go_env(), capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-4000:]
        raise PeerUnavailable(f"`{' '.join(map(str, cmd))}` failed ({done.returncode}):\n{tail}")
    return done.stdout


def go_install(package: str, version: str, dest: Path, **env: str) -> None:
    """``go install package@version`` into ``dest/bin``."""
    (dest / "bin").mkdir(parents=True, exist_ok=True)
    run(
        ["nice", "-n", "10", "go", "install", f"{package}@{version}"],
        env=go_env(GOBIN=str(dest / "bin"), **env),
    )


def go_module_copy(module: str, version: str, into: Path) -> Path:
    """A writable copy of ``module@version`` from the module proxy, for building in place."""
    info = json.loads(run(["go", "mod", "download", "-json", f"{module}@{version}"]))
    if "Dir" not in info:
        raise PeerUnavailable(f"go mod download {module}@{version}: {info.get('Error', info)}")
    copy = into / "src"
    shutil.copytree(info["Dir"], copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    return copy


def pin_local_replaces(source: Path, version: Callable[[str], str | None]) -> list[str]:
    """Point each ``replace M => ./dir`` (a directory the module zip lacks) at ``M@version(M)``.

    Monorepos (Kubernetes' staging modules, etcd's api/client/pkg) publish those directories as
    modules of their own at matching versions. Their ``go.work`` would pull the directories back
    in, so it goes too. Returns the modules re-pointed.
    """
    for name in ("go.work", "go.work.sum"):
        (source / name).unlink(missing_ok=True)
    edits = json.loads(run(["go", "mod", "edit", "-json"], cwd=source))
    pinned = []
    for rep in edits.get("Replace") or []:
        old, new = rep["Old"]["Path"], rep["New"]["Path"]
        at = version(old)
        if at is not None and new.startswith(("./", "../")) and not (source / new).is_dir():
            pinned.append(f"{old}@{at}")
    if pinned:
        run(["go", "mod", "edit", *(f"-replace={p.split('@')[0]}={p}" for p in pinned)], cwd=source)
    return pinned


def go_build(
    source: Path,
    packages: dict[str, str],
    dest: Path,
    *,
    ldflags: str = "",
    **env: str,
) -> None:
    """``go build -o dest/bin/<name> <package>`` inside ``source`` for each name → package."""
    (dest / "bin").mkdir(parents=True, exist_ok=True)
    for name, package in packages.items():
        run(
            [
                "nice",
                "-n",
                "10",
                "go",
                "build",
                "-trimpath",
                *([f"-ldflags={ldflags}"] if ldflags else []),
                "-o",
                str(dest / "bin" / name),
                package,
            ],
            cwd=source,
            env=go_env(**env),
        )
