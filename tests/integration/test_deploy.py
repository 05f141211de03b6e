"""The image and the Kubernetes manifests: Dockerfile steps run for real, kustomize output checked.

No container engine runs here, so the image build is reproduced step by step
from the Dockerfile itself: the builder stage's COPY sources become a build
context, its RUN builds the wheels, the final stage's pip install goes into a
fresh venv, and the ENTRYPOINT/CMD and HEALTHCHECK run as the image's uid
(via setpriv, with no new privileges and no capabilities, as the Pod's
securityContext has it).  The kustomize manifests are checked from their files
always, and as rendered by ``kubectl kustomize`` (or ``kustomize build``) when
one is installed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from dnssync.config import AcmeWebhookConfig, Config, HTTPConfig, load
from dnssync.kinds import KINDS, WATCHED

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DEPLOY = ROOT / "config" / "deploy"
BASE = DEPLOY / "base"
SIDECAR = DEPLOY / "overlays" / "sidecar"
VERSION: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
TSIG_SECRET = base64.b64encode(b"dnssync-deploy-test-secret-32byt").decode()

Obj = dict[str, Any]

# --- Dockerfile ----------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"stage {self.name or self.base}: no {keyword}"
        return found[-1]

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for ins in self.all("ENV"):
            for token in shlex.split(ins.args):
                key, sep, value = token.partition("=")
                assert sep, f"line {ins.line}: use ENV KEY=value"
                out[key] = value
        return out


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages and their instructions (continuations joined, comments dropped)."""
    logical: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not buf):
            continue
        if not buf:
            start = n
        if stripped.endswith("\\"):
            buf.append(stripped[:-1].strip())
            continue
        buf.append(stripped)
        logical.append((start, " ".join(b for b in buf if b)))
        buf = []
    assert not buf, "the Dockerfile ends inside a continued line"
    stages: list[Stage] = []
    for line, text_line in logical:
        keyword, _, args = text_line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            flags = [p for p in parts if p.startswith("--")]
            rest = [p for p in parts if not p.startswith("--")]
            assert not flags, f"line {line}: FROM flags are not expected"
            name = rest[2] if len(rest) == 3 and rest[1].upper() == "AS" else None
            assert len(rest) in (1, 3), f"line {line}: FROM IMAGE [AS NAME]"
            stages.append(Stage(base=rest[0], name=name))
            continue
        if keyword in {"ARG"} and not stages:
            continue
        assert stages, f"line {line}: {keyword} before the first FROM"
        stages[-1].instructions.append(Instruction(keyword, args.strip(), line))
    return stages


def global_args(text: str) -> dict[str, str]:
    """The ARGs before the first FROM, with their defaults."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line.upper().startswith("FROM "):
            break
        if line.upper().startswith("ARG "):
            key, _, value = line[4:].strip().partition("=")
            out[key] = value
    return out


def exec_form(ins: Instruction) -> list[str]:
    """A JSON (exec form) argument list."""
    try:
        value = json.loads(ins.args)
    except json.JSONDecodeError:
        pytest.fail(f"line {ins.line}: {ins.keyword} must use the exec (JSON) form")
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return [str(v) for v in value]


def split_flags(args: str) -> tuple[dict[str, str], str]:
    """Leading ``--flag=value`` options of an instruction, and the rest."""
    flags: dict[str, str] = {}
    rest = args
    while rest.startswith("--"):
        token, _, rest = rest.partition(" ")
        key, _, value = token[2:].partition("=")
        flags[key] = value
        rest = rest.lstrip()
    return flags, rest


def parse_user(stage: Stage) -> tuple[int, int]:
    user = stage.last("USER").args
    uid_text, _, gid_text = user.partition(":")
    assert uid_text.isdigit(), f"USER {user}: use a numeric uid, so runAsNonRoot can verify it"
    uid = int(uid_text)
    gid = int(gid_text) if gid_text.isdigit() else uid
    return uid, gid


def stages() -> tuple[Stage, Stage]:
    parsed = parse_dockerfile(DOCKERFILE.read_text())
    assert len(parsed) >= 2, "the Dockerfile must be multi-stage (builder + final)"
    return parsed[0], parsed[-1]


def dockerignore_patterns() -> list[str]:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def ignored(relpath: str, patterns: Sequence[str]) -> bool:
    """Whether .dockerignore keeps ``relpath`` (or a folder above it) out of the context."""
    parts = Path(relpath).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    out = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _ignore_regex(pattern.removeprefix("!").strip("/"))
        if any(regex.match(prefix) for prefix in prefixes):
            out = not negate
    return out


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """Docker's matching: ``*`` and ``?`` stay within one path segment, ``**`` crosses them."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            j = pattern.index("]", i)
            out, i = out + pattern[i : j + 1], j + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def test_dockerfile_structure() -> None:
    """Multi-stage; the final stage installs wheels only, no build tools, numeric non-root USER."""
    builder, final = stages()
    assert builder.name == "builder"
    # One base for both stages, python:3.11-slim unless the build names another
    # (tools/image.py passes the same layout built from Debian's packages).
    assert builder.base == final.base == "${PYTHON_IMAGE}"
    assert global_args(DOCKERFILE.read_text()) == {"PYTHON_IMAGE": "python:3.11-slim"}
    assert any(
        "pip wheel" in r.args and "/wheels" in r.args and "--no-cache-dir" in r.args
        for r in builder.all("RUN")
    ), "the builder must `pip wheel` the project into /wheels"

    uid, gid = parse_user(final)
    assert uid == 10001 and gid == 10001
    runs = [i.line for i in final.all("RUN")]
    assert final.last("USER").line > max(runs), "switch to the non-root USER after installing"

    tools = re.compile(
        r"(?<![\w.-])(gcc|g\+\+|cc|clang|make|build-essential|python3?(\.\d+)?-dev|"
        r"libc6?-dev|apt-get|apt|apk|cargo|rustc|setuptools|wheel)(?![\w.+-])"
    )
    for ins in final.all("RUN"):
        flags, command = split_flags(ins.args)
        assert not tools.search(command), f"line {ins.line}: build tooling in the final stage"
        if "pip install" in command:
            assert "--no-index" in command, "install only the builder's wheels (--no-index)"
            assert "--no-cache-dir" in command, "no pip cache in the image"
            assert "/wheels" in command
            assert flags.get("mount", "").startswith("type=bind,from=builder"), (
                "bind-mount the wheels from the builder so none stays in a layer"
            )
    for ins in final.all("COPY"):
        flags, _ = split_flags(ins.args)
        assert flags.get("from") == "builder", f"line {ins.line}: the final stage copies sources"

    assert exec_form(final.last("ENTRYPOINT")) == ["dnssync"]
    assert exec_form(final.last("CMD")) == ["run", "--config", "/etc/dnssync/config.yaml"]
    exposed = {int(p.split("/")[0]) for i in final.all("EXPOSE") for p in i.args.split()}
    assert exposed == {HTTPConfig().port, AcmeWebhookConfig().port} == {8080, 8443}
    env = final.env()
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("PYTHONUNBUFFERED") == "1"

    flags, rest = split_flags(final.last("HEALTHCHECK").args)
    assert rest.startswith("CMD ")
    check = exec_form(Instruction("HEALTHCHECK", rest[4:], 0))
    assert check[:2] == ["python", "-c"]
    assert "urllib" in check[2]
    assert f"http://127.0.0.1:{HTTPConfig().port}/healthz" in check[2]
    assert {"interval", "timeout"} <= flags.keys()


def test_dockerignore() -> None:
    """.dockerignore keeps tests, bench, .git, caches and .demo out, and the build's sources in."""
    patterns = dockerignore_patterns()
    for path in (
        "tests/unit/test_plan.py",
        "bench/run_all.py",
        ".git/HEAD",
        ".demo/named.conf",
        ".mypy_cache/x",
        ".pytest_cache/x",
        ".ruff_cache/x",
        ".hypothesis/x",
        "dnssync/__pycache__/cli.cpython-311.pyc",
        "dnssync.egg-info/PKG-INFO",
    ):
        assert ignored(path, patterns), f"{path} would be sent to the build"
    builder, _ = stages()
    for src, _ in copy_pairs(builder):
        assert not ignored(src, patterns), f"{src} is copied by the builder but ignored"
        files = (ROOT / src).rglob("*.py") if (ROOT / src).is_dir() else iter(())
        for f in files:
            rel = str(f.relative_to(ROOT))
            assert "__pycache__" in rel or not ignored(rel, patterns), f"{rel} is ignored"


def copy_pairs(stage: Stage) -> list[tuple[str, str]]:
    """(source, destination) of each COPY from the build context."""
    pairs: list[tuple[str, str]] = []
    for ins in stage.all("COPY"):
        flags, rest = split_flags(ins.args)
        assert "from" not in flags, f"line {ins.line}: the builder copies from the context"
        *sources, dest = shlex.split(rest)
        assert sources, f"line {ins.line}: COPY SRC... DEST"
        if len(sources) > 1:
            assert dest.endswith("/"), f"line {ins.line}: several sources need a DEST/"
        pairs.extend((s, dest) for s in sources)
    return pairs


# --- running the image's steps -------------------------------------------------


@pytest.fixture
def image_dir() -> Iterator[Path]:
    """A temporary folder the image's uid can read (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="dnssync-image-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def as_user(uid: int, gid: int) -> list[str]:
    """The prefix that runs a command as the image's user, the way the Pod does."""
    if os.geteuid() != 0:
        return []  # already unprivileged: run as ourselves
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("setpriv (util-linux) is needed to run the image's steps as its uid")
    return [
        setpriv,
        f"--reuid={uid}",
        f"--regid={gid}",
        "--clear-groups",
        "--no-new-privs",  # allowPrivilegeEscalation: false
        "--inh-caps=-all",  # capabilities: drop: [ALL]
        "--bounding-set=-all",
    ]


def run(
    cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def check_ok(proc: subprocess.CompletedProcess[str], what: str) -> str:
    if proc.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {proc.returncode}): {shlex.join(proc.args)}\n"
            f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )
    return proc.stdout


def user_python(prefix: Sequence[str]) -> Path:
    """A Python 3.11 the image's uid may run (pyenv under /root is not one)."""
    candidates = [Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))]
    candidates += [Path(p) for p in ("/usr/local/bin/python3.11", "/usr/bin/python3.11")]
    tried = []
    for py in candidates:
        if not py.is_file():
            continue
        probe = [*prefix, str(py), "-c", "import sys, venv, ensurepip; print(sys.version_info[:2])"]
        proc = subprocess.run(probe, capture_output=True, text=True, cwd="/", timeout=30)
        if proc.returncode == 0 and proc.stdout.strip() == "(3, 11)":
            return py
        tried.append(f"{py}: {proc.stderr.strip()[-200:] or proc.stdout.strip()}")
    pytest.fail(
        "no Python 3.11 with venv/ensurepip that a non-root user can run "
        "(install Debian's python3.11 and python3-venv): " + "; ".join(tried)
    )


def scratch_etc(root: Path) -> Path:
    """A minimal /etc for groupadd/useradd --prefix: the image's account steps, run for real."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\n")
    for name in ("shadow", "gshadow"):
        (etc / name).chmod(0o600)
    if Path("/etc/login.defs").is_file():
        shutil.copy2("/etc/login.defs", etc / "login.defs")
    (root / "var" / "log").mkdir(parents=True)
    (root / "var" / "mail").mkdir(parents=True)
    return root


def account_step(words: list[str], root: Path) -> None:
    """Run one groupadd/useradd step of the Dockerfile inside ``root`` (root privileges needed)."""
    if os.geteuid() != 0:
        pytest.fail(f"{words[0]} --prefix needs root to run the image's account step")
    tool = shutil.which(words[0]) or f"/usr/sbin/{words[0]}"
    if not Path(tool).is_file():
        pytest.fail(f"{words[0]} (Debian's passwd package) is needed to run the image's steps")
    proc = run([tool, "--prefix", str(root), *words[1:]], env=os.environ, cwd=root)
    check_ok(proc, shlex.join(words))
    assert not proc.stderr.strip(), f"{shlex.join(words)} warns: {proc.stderr.strip()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_image_steps_build_and_run_as_non_root(image_dir: Path) -> None:
    """The Dockerfile's steps for real: wheels, fresh venv, CLI and HEALTHCHECK as its uid."""
    builder, final = stages()
    uid, gid = parse_user(final)
    prefix = as_user(uid, gid)
    patterns = dockerignore_patterns()

    # Builder: the build context is exactly what its COPY instructions name.
    context = image_dir / "src"
    context.mkdir()
    for src, dest in copy_pairs(builder):
        source = ROOT / src
        assert source.exists(), f"COPY {src}: not in the repository"
        target = context / dest / source.name if dest.endswith("/") else context / dest
        if source.is_dir():
            shutil.copytree(
                source,
                target,
                ignore=lambda d, names: [
                    n for n in names if ignored(str(Path(d, n).relative_to(ROOT)), patterns)
                ],
            )
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    wheels = image_dir / "wheels"
    shim = image_dir / "bin"
    shim.mkdir()
    (shim / "python").symlink_to(sys.executable)
    build_env = {**os.environ, **builder.env(), "PATH": f"{shim}:{os.environ.get('PATH', '')}"}
    for ins in builder.all("RUN"):
        _, command = split_flags(ins.args)
        command = command.replace("/wheels", str(wheels))
        check_ok(
            run(["sh", "-c", command], env=build_env, cwd=context, timeout=300),
            f"builder RUN (line {ins.line})",
        )
    built = sorted(p.name for p in wheels.iterdir())
    assert all(n.endswith(".whl") for n in built), f"not all wheels: {built}"
    assert f"dnssync-{VERSION}-py3-none-any.whl" in built
    # A plain linux_* tag was compiled here; python:3.11-slim has no compiler for that.
    local = [n for n in built if re.search(r"-linux_[a-z0-9_]+\.whl$", n)]
    assert not local, f"built from source (needs a compiler in the builder): {local}"

    # Final stage: a fresh venv takes the place of the image's Python.
    base_python = user_python(prefix)
    venv = image_dir / "venv"
    check_ok(run([str(base_python), "-m", "venv", str(venv)], env=os.environ, cwd=ROOT), "venv")
    install_env = {
        **os.environ,
        **final.env(),
        "PIP_CONFIG_FILE": os.devnull,  # no index or find-links from this machine
    }
    install_env.pop("PIP_FIND_LINKS", None)
    install_env.pop("PIP_INDEX_URL", None)
    installed = False
    accounts = scratch_etc(image_dir / "rootfs")
    for ins in final.all("RUN"):
        flags, command = split_flags(ins.args)
        mount = dict(kv.split("=", 1) for kv in flags.get("mount", "").split(",") if "=" in kv)
        for step in (s.strip() for s in command.split("&&")):
            words = shlex.split(step)
            if words[:4] == ["python", "-m", "pip", "install"]:
                wheel_dir = mount.get("target", "/wheels")
                args = [w.replace(wheel_dir, str(wheels)) for w in words[4:]]
                check_ok(
                    run(
                        [str(venv / "bin" / "python"), "-m", "pip", "install", *args],
                        env=install_env,
                        cwd=ROOT,
                        timeout=300,
                    ),
                    f"final RUN pip install (line {ins.line})",
                )
                installed = True
            elif words[:1] in (["groupadd"], ["useradd"]):
                # Run against a scratch /etc (--prefix), never this machine's accounts.
                account_step(words, accounts)
            else:
                pytest.fail(f"line {ins.line}: this test does not know the step {step!r}")
    assert installed, "the final stage installs no wheels"
    passwd = {
        line.split(":")[0]: line.split(":")
        for line in accounts.joinpath("etc/passwd").read_text().splitlines()
    }
    assert any(e[2] == str(uid) and e[3] == str(gid) for e in passwd.values()), (
        f"the final stage creates no account for USER {uid}:{gid}"
    )
    (entry,) = [e for e in passwd.values() if e[2] == str(uid)]
    assert entry[6].endswith("nologin"), "the image's user needs no shell"

    # The installed entry point, as the image's user, in the image's environment.
    entrypoint = exec_form(final.last("ENTRYPOINT"))
    cmd = exec_form(final.last("CMD"))
    user_env = {
        **final.env(),
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/nonexistent",
        "LANG": "C.UTF-8",
    }
    workdir = Path(final.last("WORKDIR").args)
    exe = str(venv / "bin" / entrypoint[0])
    out = check_ok(run([*prefix, exe, "--help"], env=user_env, cwd=workdir), "dnssync --help")
    assert "usage: dnssync" in out
    for sub in ("plan", "sync", "run", "check"):
        assert sub in out
    for sub in ("check", "webhook"):  # `webhook`: the ACME side on its own
        out = check_ok(
            run([*prefix, exe, sub, "--help"], env=user_env, cwd=workdir), f"dnssync {sub} --help"
        )
        assert f"usage: dnssync {sub}" in out
    assert cmd[0] == "run"
    out = check_ok(
        run([*prefix, exe, cmd[0], "--help"], env=user_env, cwd=workdir), "dnssync run --help"
    )
    assert "--config" in out

    # The service starts from ENTRYPOINT + CMD, and the HEALTHCHECK command sees it.
    port = free_port()
    config = write_run_config(image_dir / "run", http_port=port)
    service_cmd = [exe, *(str(config) if c == "/etc/dnssync/config.yaml" else c for c in cmd)]
    hc_flags, hc_rest = split_flags(final.last("HEALTHCHECK").args)
    check = exec_form(Instruction("HEALTHCHECK", hc_rest.removeprefix("CMD "), 0))
    check = [str(venv / "bin" / "python") if c == "python" else c for c in check]
    check = [c.replace(f":{HTTPConfig().port}/", f":{port}/") for c in check]
    hc_timeout = float(hc_flags.get("timeout", "30s").removesuffix("s"))
    log = (image_dir / "service.log").open("w+")
    service = subprocess.Popen(
        [*prefix, *service_cmd], env=user_env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if service.poll() is not None:
                log.seek(0)
                pytest.fail(f"dnssync run exited {service.returncode}:\n{log.read()[-3000:]}")
            probe = run([*prefix, *check], env=user_env, cwd=workdir, timeout=hc_timeout)
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"HEALTHCHECK never passed: {probe.stderr[-1000:]}")
            time.sleep(0.2)
        service.send_signal(signal.SIGTERM)
        try:
            code = service.wait(timeout=25)
        except subprocess.TimeoutExpired:
            pytest.fail("dnssync run did not stop within 25 s of SIGTERM")
        log.seek(0)
        assert code == 0, f"dnssync run exited {code} on SIGTERM:\n{log.read()[-3000:]}"
        after = run([*prefix, *check], env=user_env, cwd=workdir, timeout=hc_timeout)
        assert after.returncode != 0, "the HEALTHCHECK passes with nothing listening"
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
        log.close()


def write_run_config(folder: Path, *, http_port: int) -> Path:
    """A manifests-mode config whose DNS server does not answer: the service runs, not ready."""
    folder.mkdir(mode=0o755)
    shutil.copytree(ROOT / "config" / "examples" / "manifests", folder / "manifests")
    secret = folder / "tsig.key"
    secret.write_text(TSIG_SECRET + "\n")
    config = folder / "config.yaml"
    data = {
        "manifests": str(folder / "manifests"),
        "targets": [
            {
                "name": "internal",
                "server": {"host": "127.0.0.1", "port": free_port(), "timeout": 0.5},
                "zones": ["home.tillo.ch"],
                "key": {"name": "dnssync-internal", "secret_file": str(secret)},
                "annotation_filter": "external-dns.alpha.kubernetes.io/manage=mdapi",
                "annotation_prefix": "external-dns.alpha.kubernetes.io/",
            }
        ],
        "http": {"host": "127.0.0.1", "port": http_port},
    }
    config.write_text(yaml.safe_dump(data))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return config


# --- kustomize -----------------------------------------------------------------

# Every permission dnssync's own roles may grant: (apiGroup, resource) -> verbs.
# Every kind of the source registry is read (and nothing else is): RBAC follows it.
ALLOWED_RULES: dict[tuple[str, str], set[str]] = {
    **{(k.group, k.plural): {"get", "list", "watch"} for k in WATCHED.values()},
    **{(k.group, f"{k.plural}/status"): {"update"} for k in KINDS if k.writes_status},
    ("acme.cert-manager.io", "challenges"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch", "get"},
    ("events.k8s.io", "events"): {"create", "patch"},
    ("coordination.k8s.io", "leases"): {"get", "create", "update"},
    ("acme.dnssync.io", "dnssync"): {"create"},
}
BUILTIN_ROLES = {("kube-system", "extension-apiserver-authentication-reader")}
RBAC_KINDS = {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


def renderer() -> list[str] | None:
    """``kubectl kustomize`` or ``kustomize build``, whichever is installed."""
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


def render(folder: Path, tool: list[str]) -> list[Obj]:
    proc = subprocess.run(
        [*tool, str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, f"{shlex.join(tool)} {folder} failed:\n{proc.stderr[-3000:]}"
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d is not None]
    assert docs, f"{folder} renders no objects"
    return docs


def check_object(doc: Any, where: str) -> Obj:
    assert isinstance(doc, dict), f"{where}: not a mapping"
    for key in ("apiVersion", "kind"):
        assert isinstance(doc.get(key), str) and doc[key], f"{where}: no {key}"
    name = (doc.get("metadata") or {}).get("name")
    assert isinstance(name, str) and name, f"{where}: no metadata.name"
    return doc


def from_files(folder: Path) -> list[Obj]:
    """The objects a kustomization's files name (resources, generators), each checked to exist."""
    kfile = folder / "kustomization.yaml"
    assert kfile.is_file(), f"{folder}: no kustomization.yaml"
    kust = yaml.safe_load(kfile.read_text())
    assert kust.get("kind", "Kustomization") == "Kustomization"
    objs: list[Obj] = []
    for entry in kust.get("resources") or []:
        path = (folder / entry).resolve()
        assert path.exists(), f"{kfile}: resource {entry} does not exist"
        if path.is_dir():
            objs.extend(from_files(path))
            continue
        for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
            objs.append(check_object(doc, f"{path.relative_to(ROOT)}#{i}"))
    for gen in kust.get("configMapGenerator") or []:
        data: dict[str, str] = {}
        for spec in gen.get("files") or []:
            key, _, name = str(spec).rpartition("=")
            path = folder / name
            assert path.is_file(), f"{kfile}: configMapGenerator file {name} does not exist"
            data[key or path.name] = path.read_text()
        cm: Obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": gen["name"], "namespace": gen.get("namespace")},
            "data": data,
        }
        if gen.get("behavior") in {"replace", "merge"}:
            old = find(objs, "ConfigMap", gen["name"])
            objs.remove(old)
        objs.append(cm)
    for patch in kust.get("patches") or []:
        target = patch.get("target") or {}
        if "path" in patch:
            path = folder / patch["path"]
            assert path.is_file(), f"{kfile}: patch {patch['path']} does not exist"
            docs = list(yaml.safe_load_all(path.read_text()))
        else:
            docs = list(yaml.safe_load_all(patch["patch"]))
        assert docs and all(isinstance(d, dict) for d in docs), f"{kfile}: empty patch"
        if target:
            kinds = re.compile(f"^(?:{target.get('kind', '.*')})$")
            names = re.compile(f"^(?:{target.get('name', '.*')})$")
            hits = [o for o in objs if kinds.match(o["kind"]) and names.match(_name(o))]
            assert hits, f"{kfile}: patch target {target} matches nothing"
        else:
            for doc in docs:
                find(objs, doc["kind"], doc["metadata"]["name"])
    for image in kust.get("images") or []:
        assert image.get("newTag") == VERSION, f"{kfile}: image tag is not {VERSION}"
    return objs


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def find(objs: Sequence[Obj], kind: str, name: str | None = None) -> Obj:
    hits = [o for o in objs if o["kind"] == kind and (name is None or _name(o) == name)]
    assert len(hits) == 1, f"expected one {kind} {name or ''}, found {len(hits)}"
    return hits[0]


def configmap_for(objs: Sequence[Obj], name: str) -> Obj:
    """The ConfigMap a volume names (generated names carry a hash suffix when rendered)."""
    return find(objs, "ConfigMap", name)


def load_deployed_config(cm: Obj, key: str, tmp: Path) -> Config:
    """The config.yaml inside a ConfigMap, through dnssync.config.load (secrets from tmp)."""
    path = tmp / f"{_name(cm)}-{key}"
    path.write_text(cm["data"][key])
    data = yaml.safe_load(cm["data"][key])
    secret = tmp / "tsig.key"
    secret.write_text(TSIG_SECRET)
    env = {}
    for i, t in enumerate(data.get("targets") or []):
        for key_field in ("key", "transfer_key"):
            if (t.get(key_field) or {}).get("secret_file"):
                env[f"DNSSYNC_TARGETS__{i}__{key_field.upper()}__SECRET_FILE"] = str(secret)
    for i, s in enumerate((data.get("acme") or {}).get("servers") or []):
        if (s.get("key") or {}).get("secret_file"):
            env[f"DNSSYNC_ACME__SERVERS__{i}__KEY__SECRET_FILE"] = str(secret)
    return load(path, env=env)


def secret_files(data: Mapping[str, Any]) -> list[str]:
    files = []
    for t in data.get("targets") or []:
        for k in ("key", "transfer_key"):
            if (t.get(k) or {}).get("secret_file"):
                files.append(t[k]["secret_file"])
    for s in (data.get("acme") or {}).get("servers") or []:
        if (s.get("key") or {}).get("secret_file"):
            files.append(s["key"]["secret_file"])
    return files


def check_rbac(objs: Sequence[Obj], cfg: Config, namespace: str) -> None:
    granted: dict[tuple[str, str], set[str]] = {}
    for role in (o for o in objs if o["kind"] in {"ClusterRole", "Role"}):
        for rule in role.get("rules") or []:
            assert "nonResourceURLs" not in rule, f"{_name(role)}: nonResourceURLs"
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(key, []), f"{_name(role)}: '*' in {key}"
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    allowed = ALLOWED_RULES.get((group, resource))
                    assert allowed is not None, f"{_name(role)}: {group}/{resource} not needed"
                    extra = set(rule["verbs"]) - allowed
                    assert not extra, f"{_name(role)}: {group}/{resource} {sorted(extra)}"
                    granted.setdefault((group, resource), set()).update(rule["verbs"])
            if "leases" in rule["resources"]:
                assert role["kind"] == "Role", "leases only in dnssync's namespace (a Role)"
                assert role["metadata"]["namespace"] == namespace
                if set(rule["verbs"]) & {"get", "update"}:
                    assert rule.get("resourceNames") == [cfg.leader_election.lease_name]
    assert granted == ALLOWED_RULES, f"granted {granted}, needed {ALLOWED_RULES}"
    roles = {
        (o["metadata"].get("namespace"), _name(o))
        for o in objs
        if o["kind"] in {"Role", "ClusterRole"}
    }
    for binding in (o for o in objs if o["kind"] in {"ClusterRoleBinding", "RoleBinding"}):
        ref = binding["roleRef"]
        ns = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        assert (ns, ref["name"]) in roles or (ns, ref["name"]) in BUILTIN_ROLES, (
            f"{_name(binding)} binds {ref['kind']} {ref['name']}, which is not defined"
        )
        for subject in binding["subjects"]:
            assert subject["kind"] == "ServiceAccount"
            assert (subject["namespace"], subject["name"]) in {
                (namespace, "dnssync"),
                ("cert-manager", "cert-manager"),  # may call the solver, nothing else
            }
            if subject["name"] == "cert-manager":
                assert ref["name"] == "dnssync-acme-solver"


def pod_of(objs: Sequence[Obj]) -> tuple[Obj, Obj, Obj]:
    """(Deployment, pod spec, the dnssync container)."""
    dep = find(objs, "Deployment", "dnssync")
    pod = dep["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "dnssync"]
    return dep, pod, container


def check_pod(objs: Sequence[Obj], *, rendered: bool, tmp: Path) -> Config:
    """The Deployment's security, probes, image, args and mounts; returns its loaded config."""
    _, final = stages()
    uid, _ = parse_user(final)
    dep, pod, c = pod_of(objs)
    assert set(dep["spec"]["selector"]["matchLabels"].items()) <= set(
        dep["spec"]["template"]["metadata"]["labels"].items()
    )
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True
    assert psc["runAsUser"] == uid, "runAsUser must be the image's USER"
    assert psc["seccompProfile"]["type"] == "RuntimeDefault"
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        sc = container.get("securityContext") or {}
        where = f"container {container['name']}"
        assert sc.get("allowPrivilegeEscalation") is False, where
        assert sc.get("readOnlyRootFilesystem") is True, where
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
        assert not sc.get("capabilities", {}).get("add"), where
        assert sc.get("privileged", False) is False, where
        assert sc.get("runAsNonRoot", psc["runAsNonRoot"]) is True, where
        assert sc.get("runAsUser", psc["runAsUser"]) != 0, where
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{where}: {kind}"
    assert c["securityContext"]["runAsUser"] == uid

    # Image and arguments: the image's ENTRYPOINT with its CMD, spelled out.
    for container in pod["containers"]:
        if container["image"].rpartition(":")[0] != "dnssync":
            continue
        if rendered:
            assert container["image"] == f"dnssync:{VERSION}"
        assert "command" not in container, "keep the image's ENTRYPOINT"
    assert c["args"] == exec_form(final.last("CMD"))

    # Mounts: the config file from the ConfigMap, TSIG secrets from a Secret.
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    config_path = c["args"][c["args"].index("--config") + 1]
    mount = mounts[config_path]
    assert mount.get("readOnly") is True
    cm = configmap_for(objs, volumes[mount["name"]]["configMap"]["name"])
    key = mount["subPath"]
    assert key in cm["data"]
    data = yaml.safe_load(cm["data"][key])
    cfg = load_deployed_config(cm, key, tmp)
    secret_mounts = [
        path
        for path, m in mounts.items()
        if "secret" in volumes[m["name"]] and m.get("readOnly") is True
    ]
    for file in secret_files(data):
        assert any(Path(file).parent == Path(p) for p in secret_mounts), (
            f"secret_file {file} is not in a mounted Secret ({secret_mounts})"
        )
    for m in c["volumeMounts"]:
        volume = volumes[m["name"]]
        assert set(volume) & {"configMap", "secret", "emptyDir"}, f"volume {m['name']}"

    # Probes: /healthz and /readyz on the port the config serves them on.
    ports = {p["name"]: p["containerPort"] for p in c["ports"] if "name" in p}
    assert cfg.http.port == HTTPConfig().port == ports["http"] == 8080
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert get["path"] == path
        assert ports.get(get["port"], get["port"]) == cfg.http.port
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"

    # The metrics Service reaches the probes/metrics port.
    services = [o for o in objs if o["kind"] == "Service"]
    assert any(
        any(p.get("targetPort") in ("http", cfg.http.port) for p in s["spec"]["ports"])
        and s["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
        for s in services
    ), "no Service for /metrics on port http"
    return cfg


def check_base(objs: Sequence[Obj], *, rendered: bool, tmp: Path) -> None:
    kinds = {o["kind"] for o in objs}
    assert kinds >= {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
        "APIService",
    }
    namespace = _name(find(objs, "Namespace"))
    assert namespace == "dnssync"
    for o in objs:
        if o["kind"] not in {"Namespace", "ClusterRole", "ClusterRoleBinding", "APIService"}:
            assert o["metadata"].get("namespace") in {namespace, "kube-system"}, _name(o)
    assert not any(o["kind"] == "Secret" for o in objs), "no Secret in git: bring your own"

    cfg = check_pod(objs, rendered=rendered, tmp=tmp)
    check_rbac(objs, cfg, namespace)
    dep, pod, c = pod_of(objs)
    assert dep["spec"]["replicas"] == 2
    assert pod["serviceAccountName"] == "dnssync"
    assert pod.get("automountServiceAccountToken", True) is True

    # Leader election: on, in the Pod's own namespace (downward API overrides the file).
    assert cfg.leader_election.enabled
    env = {e["name"]: e for e in c.get("env", [])}
    ns_env = env["DNSSYNC_LEADER_ELECTION__NAMESPACE"]["valueFrom"]["fieldRef"]
    assert ns_env["fieldPath"] == "metadata.namespace"
    assert cfg.manifests is None, "the base watches the Kubernetes API"

    # Soft spreading only: never block scheduling.
    for tsc in pod.get("topologySpreadConstraints", []):
        assert tsc["whenUnsatisfiable"] == "ScheduleAnyway"
    anti = pod.get("affinity", {}).get("podAntiAffinity", {})
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti
    assert pod.get("topologySpreadConstraints") or anti

    # The targets of DESIGN.md, and the webhook wired to the APIService.
    (target,) = cfg.targets
    assert target.zones == ("home.tillo.ch",) and target.policy == "upsert-only"
    assert target.txt_prefix == "extdns-"
    assert cfg.acme is not None
    assert [z for s in cfg.acme.servers for z in s.zones] == ["mdapi.ch"]
    webhook = cfg.acme.webhook
    # `dnssync run` serves the webhook itself (every replica): one container.
    assert [x["name"] for x in pod["containers"]] == [c["name"]]
    hook = c
    ports = {p["name"]: p["containerPort"] for p in hook["ports"]}
    assert ports["webhook"] == webhook.port == AcmeWebhookConfig().port
    api = find(objs, "APIService")
    assert api["spec"]["group"] == webhook.group_name
    assert _name(api) == f"v1alpha1.{webhook.group_name}"
    svc = find(objs, "Service", api["spec"]["service"]["name"])
    (svc_port,) = [p for p in svc["spec"]["ports"] if p["port"] == api["spec"]["service"]["port"]]
    assert svc_port["targetPort"] in ("webhook", webhook.port)
    assert svc["spec"]["selector"].items() <= pod_labels(dep).items()
    solver = find(objs, "ClusterRole", "dnssync-acme-solver")
    assert solver["rules"][0]["resources"] == [webhook.solver_name]
    mounts = {m["mountPath"]: m for m in hook["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for file in (webhook.cert_file, webhook.key_file):
        mount = mounts[str(file.parent)]
        secret = volumes[mount["name"]]["secret"]["secretName"]
        cert = [o for o in objs if o["kind"] == "Certificate" and o["spec"]["secretName"] == secret]
        assert cert, f"no cert-manager Certificate writes the Secret {secret}"
        assert f"{svc['metadata']['name']}.{namespace}.svc" in cert[0]["spec"]["dnsNames"]
    assert api["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        f"{namespace}/{_name(cert[0])}"
    )
    for secret_file in secret_files(yaml.safe_load(deployed_config_text(objs, hook))):
        parent = Path(secret_file).parent
        assert any(parent == Path(m["mountPath"]) for m in hook["volumeMounts"]), (
            f"{c['name']}: {secret_file} not mounted"
        )


def pod_labels(dep: Obj) -> dict[str, str]:
    return dict(dep["spec"]["template"]["metadata"]["labels"])


def deployed_config_text(objs: Sequence[Obj], container: Obj) -> str:
    """The config file a container reads (its --config, from a ConfigMap mount)."""
    _, pod, _ = pod_of(objs)
    path = container["args"][container["args"].index("--config") + 1]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == path]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    cm = configmap_for(objs, volume["configMap"]["name"])
    return str(cm["data"][mount["subPath"]])


def test_deployment_args_are_cli_commands() -> None:
    """Every dnssync container's args are a command the CLI knows (its --help exits 0)."""
    for folder in (BASE, SIDECAR):
        kust_objs = from_files(folder)
        for dep in (o for o in kust_objs if o["kind"] == "Deployment"):
            for container in dep["spec"]["template"]["spec"]["containers"]:
                if container["image"].rpartition(":")[0] != "dnssync":
                    continue
                args = container["args"]
                proc = subprocess.run(
                    [sys.executable, "-m", "dnssync", args[0], "--help"],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    cwd=ROOT,
                    check=False,
                )
                assert proc.returncode == 0, f"dnssync {args[0]} --help: {proc.stderr}"
                assert "--config" in proc.stdout


def test_kustomize_base(tmp_path: Path) -> None:
    """Base: well-formed files, least-privilege RBAC, secure pod (also rendered, with kubectl)."""
    objs = from_files(BASE)
    check_base(objs, rendered=False, tmp=tmp_path)
    tool = renderer()
    if tool is None:
        # No kubectl/kustomize (CI installs neither): the file checks above are the result.
        return
    rendered = render(BASE, tool)
    check_base(rendered, rendered=True, tmp=tmp_path)
    # The rendering is the files' objects: nothing lost, nothing added.
    unhash = re.compile(r"-[a-z0-9]{10}$")
    ids_files = sorted((o["kind"], _name(o)) for o in objs)
    ids_rendered = sorted(
        (o["kind"], unhash.sub("", _name(o)) if o["kind"] == "ConfigMap" else _name(o))
        for o in rendered
    )
    assert ids_rendered == ids_files


def test_kustomize_sidecar_overlay(tmp_path: Path) -> None:
    """Sidecar overlay: one replica, no API access, dnssync reading git-sync's checkout."""
    objs = from_files(SIDECAR)
    cm = find(objs, "ConfigMap", "dnssync-config")
    cfg = load_deployed_config(cm, "config.yaml", tmp_path)
    assert cfg.manifests is not None and cfg.manifests.is_absolute()
    assert not cfg.leader_election.enabled
    assert cfg.acme is None
    patch = yaml.safe_load((SIDECAR / "deployment-patch.yaml").read_text())
    assert patch["spec"]["replicas"] == 1
    tool = renderer()
    if tool is None:
        # No kubectl/kustomize: the patches cannot be applied; the file checks above stand.
        return
    rendered = render(SIDECAR, tool)
    kinds = {o["kind"] for o in rendered}
    assert not kinds & (RBAC_KINDS | {"APIService", "Issuer", "Certificate"}), kinds
    cfg = check_pod(rendered, rendered=True, tmp=tmp_path)
    assert cfg.manifests is not None
    dep, pod, c = pod_of(rendered)
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"]["type"] == "Recreate", "never two writers at once"
    assert pod["automountServiceAccountToken"] is False
    assert [x["name"] for x in pod["containers"] if x["name"] == "acme-webhook"] == []
    assert "webhook" not in {p.get("name") for x in pod["containers"] for p in x.get("ports", [])}
    assert not [v for v in pod["volumes"] if "secret" in v and "tls" in v["name"]]
    # The manifests path lies on a volume dnssync reads and git-sync writes.
    (mount,) = [m for m in c["volumeMounts"] if cfg.manifests.is_relative_to(m["mountPath"])]
    assert mount.get("readOnly") is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" in volume
    writers = [
        x["name"]
        for x in [*pod.get("initContainers", []), *pod["containers"]]
        if x["name"] != "dnssync"
        and any(m["name"] == mount["name"] and not m.get("readOnly") for m in x["volumeMounts"])
    ]
    assert any("git-sync" in w for w in writers), writers
    assert cfg.reconcile.manifests_poll > 0
