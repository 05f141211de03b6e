"""cert-manager's DNS-01 webhook: an aggregated API server over HTTPS (aiohttp).

The kube-apiserver forwards ``POST /apis/<group>/v1alpha1/<solver>`` (a
``ChallengePayload``) here after its own authentication and RBAC, over TLS
with its *front-proxy* client certificate, naming the caller in
``X-Remote-User`` / ``X-Remote-Group``.  So:

* every ``/apis`` request must come with a client certificate that chains to
  the front-proxy CA (``requestheader-client-ca-file``) and, when a list of
  ``requestheader-allowed-names`` is given, carries one of those CNs -- only
  then are the ``X-Remote-*`` headers believed (a POST without a user is
  refused).  The CA and names come from the ``extension-apiserver-authentication``
  ConfigMap or from mounted files, and are re-read periodically;
* ``/healthz`` ``/livez`` ``/readyz`` answer without a certificate (kubelet
  probes); ``/apis``, ``/apis/<group>`` and ``/apis/<group>/v1alpha1`` are
  the discovery documents the aggregator's availability check reads;
* the serving certificate files are re-read every ``reload_interval`` and a
  changed pair is used for new connections (``sni_callback`` swaps the
  context during the handshake; established connections keep theirs, unless
  the front-proxy CA changed, in which case their requests are refused).

A Present / CleanUp answers with the request echoed and ``response`` always
set; a failure's ``status.message`` is stable text naming the cause (rcode,
TSIG error), never a timestamp, id or secret.  Each call is bounded by
``request_timeout``, well under the apiserver's ~60 s.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import ssl
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from dnssync.acme import payload
from dnssync.acme.payload import Action
from dnssync.acme.solver import Solver
from dnssync.config import AcmeConfig
from dnssync.errors import (
    ConfigError,
    DNSError,
    DnssyncError,
    DNSTimeout,
    InvalidInput,
    KubeRefused,
    PrerequisiteFailed,
    ServerRefused,
    TSIGFailure,
)

log = logging.getLogger(__name__)

HEALTH_PATHS = ("/healthz", "/livez", "/readyz")
MAX_BODY = 1 << 20


@dataclass(frozen=True, slots=True)
class FrontProxy:
    """Who may call: the front-proxy CA, allowed CNs and the identity headers."""

    ca_pem: str
    allowed_names: frozenset[str] = frozenset()  # empty: any CN the CA signed
    user_headers: tuple[str, ...] = ("X-Remote-User",)
    group_headers: tuple[str, ...] = ("X-Remote-Group",)


class AuthSource(Protocol):
    """Where the front-proxy settings come from (re-read on every reload)."""

    async def load(self) -> FrontProxy: ...


@dataclass(frozen=True, slots=True)
class FileAuth:
    """The front-proxy CA as a mounted file, allowed names from the config."""

    ca_file: Path
    allowed_names: tuple[str, ...] = ()

    async def load(self) -> FrontProxy:
        try:
            pem = await asyncio.to_thread(self.ca_file.read_text)
        except OSError as e:
            raise ConfigError(
                f"cannot read the front-proxy CA {self.ca_file}: {e.strerror}"
            ) from None
        if "BEGIN CERTIFICATE" not in pem:
            raise ConfigError(f"{self.ca_file} holds no PEM certificate")
        return FrontProxy(pem, frozenset(self.allowed_names))


def _json_list(text: object, key: str) -> tuple[str, ...]:
    if text in (None, ""):
        return ()
    try:
        value = json.loads(str(text))
    except ValueError:
        raise ConfigError(f"extension-apiserver-authentication: {key} is not JSON") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"extension-apiserver-authentication: {key} is not a list of strings")
    return tuple(value)


def front_proxy_from_configmap(data: Mapping[str, str]) -> FrontProxy:
    """The settings in an ``extension-apiserver-authentication`` ConfigMap's data."""
    pem = data.get("requestheader-client-ca-file") or ""
    if "BEGIN CERTIFICATE" not in pem:
        raise ConfigError(
            "extension-apiserver-authentication has no requestheader-client-ca-file: "
            "is the apiserver's front proxy (aggregation layer) enabled?"
        )
    users = _json_list(data.get("requestheader-username-headers"), "requestheader-username-headers")
    groups = _json_list(data.get("requestheader-group-headers"), "requestheader-group-headers")
    names = _json_list(data.get("requestheader-allowed-names"), "requestheader-allowed-names")
    return FrontProxy(
        pem,
        frozenset(names),
        users or ("X-Remote-User",),
        groups or ("X-Remote-Group",),
    )


class ConfigMapAuth:
    """The front-proxy settings read through the Kubernetes API."""

    def __init__(self, api: Any, namespace: str, name: str, *, grace: float = 120.0) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.grace = grace

    async def load(self) -> FrontProxy:
        from dnssync.kube.client import read_config_map

        try:
            data = await read_config_map(self.api, self.namespace, self.name, grace=self.grace)
        except KubeRefused as e:
            raise KubeRefused(
                f"{e} (RoleBinding to extension-apiserver-authentication-reader?)",
                status=e.status,
                reason=e.reason,
            ) from None
        return front_proxy_from_configmap(data)


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request: the front proxy's CN and the user it vouches for."""

    cn: str
    user: str
    groups: tuple[str, ...]


class _Refused(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.response = web.json_response(payload.status(code, reason, message), status=code)


def _common_name(cert: Mapping[str, Any]) -> str:
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


def reason_for(error: DnssyncError) -> str:
    """A stable CamelCase reason for ``status.reason``."""
    if isinstance(error, InvalidInput):
        return "InvalidPayload"
    if isinstance(error, TSIGFailure):
        return "TSIGFailure"
    if isinstance(error, PrerequisiteFailed):
        return "PrerequisiteFailed"
    if isinstance(error, ServerRefused):
        return f"DNS{error.rcode.title().replace('_', '')}" if error.rcode else "DNSRefused"
    if isinstance(error, DNSTimeout):
        return "DNSTimeout"
    if isinstance(error, DNSError):
        return "DNSError"
    return "Failed"


class Webhook:
    """The HTTPS server; ``async with Webhook(...)`` serves until the block ends."""

    def __init__(
        self,
        solver: Solver,
        *,
        group_name: str,
        solver_name: str,
        cert_file: Path,
        key_file: Path,
        auth: AuthSource,
        host: str = "0.0.0.0",
        port: int = 8443,
        reload_interval: float = 10.0,
        request_timeout: float = 25.0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.solver = solver
        self.group = group_name
        self.solver_name = solver_name
        self.cert_file = cert_file
        self.key_file = key_file
        self.auth = auth
        self.host = host
        self.requested_port = port
        self.reload_interval = reload_interval
        self.request_timeout = request_timeout
        self._ctx: ssl.SSLContext | None = None
        self._front: FrontProxy | None = None
        self._fingerprint = b""
        self._ca_of: weakref.WeakKeyDictionary[ssl.SSLContext, str] = weakref.WeakKeyDictionary()
        self._runner: web.AppRunner | None = None
        self._reloader: asyncio.Task[None] | None = None
        self.port = 0
        self.reloads = 0
        self._requests = Counter(
            "dnssync_acme_webhook_requests",
            "ChallengePayload requests by action and result",
            ["action", "result"],
            registry=registry,
        )
        self._seconds = Histogram(
            "dnssync_acme_webhook_request_seconds",
            "Time to answer a ChallengePayload",
            ["action"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25),
        )
        self._success: dict[str, tuple[Counter, Histogram]] = {}

    @classmethod
    def from_config(
        cls,
        cfg: AcmeConfig,
        solver: Solver,
        *,
        api: Any = None,
        registry: CollectorRegistry | None = None,
        api_grace: float = 120.0,
    ) -> Webhook:
        w = cfg.webhook
        auth: AuthSource
        if w.client_ca_file is not None:
            auth = FileAuth(w.client_ca_file, w.allowed_names)
        else:
            if api is None:
                raise ConfigError(
                    "acme.webhook: set client_ca_file, or give the webhook Kubernetes "
                    f"access to read {w.auth_configmap}"
                )
            namespace, _, name = w.auth_configmap.partition("/")
            auth = ConfigMapAuth(api, namespace, name, grace=api_grace)
        return cls(
            solver,
            group_name=w.group_name,
            solver_name=w.solver_name,
            cert_file=w.cert_file,
            key_file=w.key_file,
            auth=auth,
            host=w.host,
            port=w.port,
            reload_interval=w.reload_interval,
            request_timeout=w.request_timeout,
            registry=registry,
        )

    # --- life cycle -------------------------------------------------------

    async def start(self) -> None:
        """Load the certificate and front-proxy settings, then listen."""
        await self.reload(initial=True)
        assert self._ctx is not None
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port, ssl_context=self._ctx)
        try:
            await site.start()
        except OSError as e:
            await self._runner.cleanup()
            self._runner = None
            where = f"{self.host}:{self.requested_port}"
            raise ConfigError(
                f"acme.webhook: cannot listen on {where}: {e.strerror or e}"
            ) from None
        self.port = int(self._runner.addresses[0][1])
        self._reloader = asyncio.create_task(self._reload_loop(), name="webhook-reload")
        log.info("ACME webhook listening on https://%s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._reloader is not None:
            self._reloader.cancel()
            # wait() never raises the task's CancelledError, so a cancellation
            # of close() itself still propagates.
            await asyncio.wait([self._reloader])
            self._reloader = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Webhook:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        async with self:
            await asyncio.Event().wait()

    # --- TLS and front-proxy settings --------------------------------------

    async def reload(self, *, initial: bool = False) -> bool:
        """Re-read certificate files and front-proxy settings; True when changed.

        A failed reload keeps the previous settings (and raises only the
        first time, when there is nothing to keep).
        """
        try:
            cert, key = await asyncio.to_thread(
                lambda: (self.cert_file.read_bytes(), self.key_file.read_bytes())
            )
            front = await self.auth.load()
        except OSError as e:
            if initial:
                raise ConfigError(f"cannot read the serving certificate: {e}") from None
            log.warning("webhook reload: cannot read the serving certificate: %s", e.strerror)
            return False
        except DnssyncError as e:
            if initial:
                raise
            log.warning("webhook reload: %s; keeping the previous settings", e)
            return False
        digest = hashlib.sha256()
        for part in (cert, key, front.ca_pem.encode()):
            digest.update(len(part).to_bytes(8, "big") + part)
        fingerprint = digest.digest()
        if fingerprint == self._fingerprint:
            self._front = front  # allowed names / headers may change alone
            return False
        try:
            ctx = self._context(front)
        except (ssl.SSLError, ValueError, OSError) as e:
            if initial:
                raise ConfigError(
                    f"cannot use the serving certificate / front-proxy CA: {e}"
                ) from None
            log.warning("webhook reload: unusable certificate or CA (%s); keeping the old", e)
            return False
        self._ctx = ctx
        self._front = front
        self._ca_of[ctx] = front.ca_pem
        self._fingerprint = fingerprint
        if not initial:
            self.reloads += 1
            log.info("webhook: serving certificate / front-proxy CA reloaded")
        return True

    def _context(self, front: FrontProxy) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        # If the files change between the read above and this load, the next
        # reload sees a new fingerprint and loads again: it converges.
        ctx.load_cert_chain(self.cert_file, self.key_file)
        # OPTIONAL: probes reach /healthz without a certificate; a certificate
        # that is sent must verify, or the handshake fails.
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(cadata=front.ca_pem)
        ctx.sni_callback = self._pick_context
        # A connection's client certificate is the one asyncio read at the
        # handshake (_authenticate): renegotiation, the only way it could
        # change, is refused.
        ctx.options |= ssl.OP_NO_RENEGOTIATION
        return ctx

    def _pick_context(self, sslobj: ssl.SSLObject, _name: str | None, _ctx: ssl.SSLContext) -> None:
        # Called on every ClientHello (with or without SNI): hand the
        # handshake the current context, so reloads reach new connections.
        current = self._ctx
        if current is not None and sslobj.context is not current:
            sslobj.context = current

    async def _reload_loop(self) -> None:
        while True:
            await asyncio.sleep(self.reload_interval)
            try:
                await self.reload()
            except DnssyncError as e:
                log.warning("webhook reload failed: %s", e)

    # --- requests -----------------------------------------------------------

    def _authenticate(self, request: web.Request, *, need_user: bool) -> Caller:
        front = self._front
        transport = request.transport
        sslobj = transport.get_extra_info("ssl_object") if transport is not None else None
        # As read at the handshake: getpeercert() builds the dict anew on each call.
        cert = transport.get_extra_info("peercert") if transport is not None else None
        if not cert or not isinstance(sslobj, ssl.SSLObject) or front is None:
            raise _Refused(401, "Unauthorized", "a front-proxy client certificate is required")
        if self._ca_of.get(sslobj.context) != front.ca_pem:
            # Verified by a CA that has since been replaced: make it reconnect.
            raise _Refused(401, "Unauthorized", "the front-proxy CA changed; reconnect")
        cn = _common_name(cert)
        if front.allowed_names and cn not in front.allowed_names:
            raise _Refused(
                403, "Forbidden", f"client certificate CN {cn[:64]!r} is not an allowed front proxy"
            )
        user = next((v for h in front.user_headers if (v := request.headers.get(h, ""))), "")
        groups = tuple(v for h in front.group_headers for v in request.headers.getall(h, ()))
        if need_user and not user:
            raise _Refused(401, "Unauthorized", "the front proxy named no user")
        return Caller(cn, user, groups)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path in HEALTH_PATHS:
            return web.Response(text="ok")
        parts = [p for p in path.split("/") if p]
        try:
            if request.method == "POST" and len(parts) == 4 and parts[0] == "apis":
                caller = self._authenticate(request, need_user=True)
                return await self._post(request, parts[1], parts[2], parts[3], caller)
            if request.method in ("GET", "HEAD") and parts and parts[0] == "apis":
                self._authenticate(request, need_user=False)
                return self._discovery(parts)
            if parts and parts[0] in ("apis", "api", "openapi"):
                self._authenticate(request, need_user=False)
        except _Refused as r:
            log.info("webhook: refused %s %s: %s", request.method, path, r)
            return r.response
        return web.json_response(
            payload.status(404, "NotFound", f"the server could not find {path[:100]}"), status=404
        )

    def _discovery(self, parts: list[str]) -> web.Response:
        doc: dict[str, Any] | None = None
        if parts == ["apis"]:
            doc = payload.api_group_list(self.group)
        elif parts == ["apis", self.group]:
            doc = payload.api_group(self.group)
        elif parts == ["apis", self.group, payload.VERSION]:
            doc = payload.api_resource_list(self.group, self.solver_name)
        if doc is None:
            path = "/" + "/".join(parts)
            return web.json_response(
                payload.status(404, "NotFound", f"the server could not find {path[:100]}"),
                status=404,
            )
        return web.json_response(doc)

    async def _post(
        self, request: web.Request, group: str, version: str, resource: str, caller: Caller
    ) -> web.Response:
        if group != self.group or version != payload.VERSION or resource != self.solver_name:
            return web.json_response(
                payload.status(
                    404,
                    "NotFound",
                    f"no resource {resource[:63]!r} in {group[:100]}/{version[:20]}",
                ),
                status=404,
            )
        started = time.perf_counter()
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response(
                payload.status(413, "RequestEntityTooLarge", "the body is over 1 MiB"), status=413
            )
        try:
            obj = payload.decode(body)
        except InvalidInput as e:
            self._requests.labels("unknown", "invalid").inc()
            return web.json_response(payload.status(400, "BadRequest", str(e)), status=400)
        uid = payload.request_uid(obj)
        action = "unknown"
        record = ""
        try:
            req = payload.parse_request(obj)
            action, record = req.action.value, req.record
            await self._run(req)
        except InvalidInput as e:
            return self._fail(obj, uid, action, "invalid", reason_for(e), str(e), caller)
        except TimeoutError:
            message = f"{action} took longer than {self.request_timeout:g} s; it will be retried"
            return self._fail(obj, uid, action, "timeout", "Timeout", message, caller)
        except DnssyncError as e:
            message = f"{action} {record}: {e}"
            return self._fail(obj, uid, action, "error", reason_for(e), message, caller)
        except Exception:
            log.exception("webhook: %s failed unexpectedly", action)
            message = f"{action}: internal error in the dnssync webhook; see its log"
            return self._fail(obj, uid, action, "error", "InternalError", message, caller)
        count, seconds = self._succeeded(action)
        count.inc()
        seconds.observe(time.perf_counter() - started)
        log.info("webhook: %s at %s for %s: done", action, record, caller.user)
        return web.json_response(payload.response(obj, uid=uid, success=True), status=201)

    def _succeeded(self, action: str) -> tuple[Counter, Histogram]:
        """The success counter and latency histogram of ``action``, looked up once."""
        metrics = self._success.get(action)
        if metrics is None:
            metrics = (self._requests.labels(action, "success"), self._seconds.labels(action))
            self._success[action] = metrics
        return metrics

    async def _run(self, req: payload.ChallengeRequest) -> None:
        async with asyncio.timeout(self.request_timeout):
            if req.action is Action.PRESENT:
                await self.solver.present(req.record, req.key, options=req.options)
            else:
                await self.solver.cleanup(req.record, req.key, options=req.options)

    def _fail(
        self,
        obj: Mapping[str, Any],
        uid: str,
        action: str,
        result: str,
        reason: str,
        message: str,
        caller: Caller,
    ) -> web.Response:
        self._requests.labels(action, result).inc()
        log.warning("webhook: %s for %s failed: %s", action, caller.user or "?", message)
        body = payload.response(obj, uid=uid, success=False, reason=reason, message=message)
        return web.json_response(body, status=201)
