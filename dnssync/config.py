"""Configuration: a YAML file plus ``DNSSYNC_*`` environment overrides.

This is the only module that reads the environment or configuration files
(secret files included); everything else receives these frozen models.  A
TSIG secret is held as :class:`~pydantic.SecretStr` from the moment it is
read, so it never shows up in a ``repr``, a log line or an error.  Every
validation error is re-raised as one :class:`~dnssync.errors.ConfigError`
that names the key (``targets[0].key.secret_file``) and why; the value only
for a known field outside every key/secret section (a misspelt ``secert``
may hold the secret itself).  YAML errors give line and column, never the
line's text, and alias expansion is bounded (:mod:`dnssync.yamlnodes`).

Environment overrides use ``__`` for nesting and list indices:
``DNSSYNC_TARGETS__0__KEY__SECRET=...``, ``DNSSYNC_LOG__LEVEL=debug``; a value
starting with ``[`` or ``{`` is JSON (``DNSSYNC_TARGETS__0__ZONES='["a","b"]'``).
pydantic-settings is not used: it silently ignores list indices
(``TARGETS__0__SERVER__PORT``) when the file sets the list.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import logging
import os
import re
import stat
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import dns.name
import dns.tsig
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from dnssync.errors import ConfigError, InvalidName
from dnssync.kinds import BY_NAME, DEFAULT_SOURCES, SourceKind
from dnssync.model import Policy
from dnssync.names import normalize, tsig_algorithm
from dnssync.rtypes import TYPES
from dnssync.yamlnodes import ExpansionTooLarge, check_expansion, yaml_problem

ENV_PREFIX = "DNSSYNC_"
#: Expanded YAML nodes allowed in a configuration file (a real one has hundreds).
CONFIG_NODE_LIMIT = 100_000
#: A place in the configuration whose values are never shown in an error:
#: keys, secrets and anything like them, in any spelling.
_SECRETISH = re.compile(r"secret|key|token|passw|credential", re.IGNORECASE)
#: Longest value quoted in an error (values of known, non-secret fields only).
_SHOWN_MAX = 80

log = logging.getLogger(__name__)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuietKey(dns.tsig.Key):
    """dnspython's key, minus the secret in its ``repr`` (which logs may show)."""

    def __repr__(self) -> str:
        return f"<TSIG key {self.name} {self.algorithm}>"

    __str__ = __repr__


class KeyConfig(_Model):
    """A TSIG key: its secret comes from a file (preferred) or the environment."""

    name: str
    algorithm: str = "hmac-sha256"
    secret: SecretStr | None = None
    secret_file: Path | None = None

    @field_validator("algorithm")
    @classmethod
    def _algorithm(cls, v: str) -> str:
        try:
            return tsig_algorithm(v).to_text(omit_final_dot=True).lower()
        except ConfigError as e:
            # names.py quotes the value; inside a key section nothing is quoted.
            known = str(e).rpartition("known: ")[2]
            raise ValueError(f"not a TSIG algorithm; known: {known}") from None

    @model_validator(mode="after")
    def _secret(self) -> KeyConfig:
        if (self.secret is None) == (self.secret_file is None):
            raise ValueError("set exactly one of 'secret_file' or 'secret' (e.g. from the env)")
        secret = self.secret
        if self.secret_file is not None:
            secret = SecretStr(_read_secret_file(self.secret_file, "secret_file"))
            object.__setattr__(self, "secret", secret)
        assert secret is not None
        try:
            raw = base64.b64decode(secret.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"the secret of key {self.name!r} is not valid base64") from None
        if not raw:
            raise ValueError(f"the secret of key {self.name!r} is empty")
        return self

    def tsig(self) -> dns.tsig.Key:
        """The dnspython key (its secret is only ever passed to dnspython)."""
        assert self.secret is not None
        return QuietKey(
            dns.name.from_text(self.name),
            self.secret.get_secret_value(),
            tsig_algorithm(self.algorithm),
        )


def _read_secret_file(path: Path, field: str) -> str:
    """A secret file's text; warns (one line, no secret) when others may read it."""
    try:
        text = path.read_text().strip()
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as e:
        # The path is not shown: a secret pasted into the field would be echoed.
        reason = e.strerror if isinstance(e, OSError) else "not text"
        raise ValueError(f"cannot read {field}: {reason}") from None
    if mode & stat.S_IROTH:
        log.warning(
            "%s %s is readable by every user (mode %04o); make it 0600 "
            "(in Kubernetes: defaultMode 0400 on the Secret volume)",
            field,
            path,
            stat.S_IMODE(mode),
        )
    return text


class TLSConfig(_Model):
    """DNS over TLS (XoT, RFC 9103) for transfers, updates and queries."""

    ca_file: Path | None = None  # else the system's trust store
    server_name: str | None = None  # name the certificate must carry; else the host
    verify: bool = True  # false: encrypted, but anyone may answer (testing only)


class GSSConfig(_Model):
    """GSS-TSIG (RFC 3645): sign with a Kerberos principal's context instead of a key
    (Active Directory; BIND with ``tkey-gssapi-keytab``)."""

    #: The client principal, ``name[/instance][@REALM]`` (no realm: the default realm).
    principal: str
    #: The principal's keytab: tickets are fetched and renewed from it.  None: the
    #: tickets must already be in ``ccache`` (kinit, a sidecar).
    keytab: Path | None = None
    #: A credential cache (``FILE:/path``, ``KEYRING:...``); None: one in memory of
    #: our own with a keytab, else the default (KRB5CCNAME).
    ccache: str | None = None
    #: The server's principal; ``{host}`` is the host as configured (each of ``hosts``).
    service: str = "DNS/{host}"
    #: Seconds of context asked of the server; renewed before they run out.
    lifetime: int = Field(3600, ge=60, le=604_800)

    @field_validator("principal", "service")
    @classmethod
    def _principal(cls, v: str) -> str:
        name, _, realm = v.partition("@")
        if not name or any(c.isspace() for c in v) or v.count("@") > 1 or ("@" in v and not realm):
            raise ValueError("not a Kerberos principal (name[/instance][@REALM])")
        return v

    @field_validator("keytab")
    @classmethod
    def _keytab(cls, v: Path | None) -> Path | None:
        if v is not None:
            _read_keytab(v)
        return v


def _read_keytab(path: Path) -> None:
    """A keytab must be readable (its keys are never read here); warn when others may."""
    try:
        with path.open("rb") as f:
            head = f.read(2)
        mode = path.stat().st_mode
    except OSError as e:
        raise ValueError(f"cannot read keytab: {e.strerror}") from None
    if head not in (b"\x05\x01", b"\x05\x02"):
        raise ValueError("not a Kerberos keytab (make it with kadmin ktadd or ktutil)")
    if mode & stat.S_IROTH:
        log.warning(
            "keytab %s is readable by every user (mode %04o); make it 0600",
            path,
            stat.S_IMODE(mode),
        )


class ServerConfig(_Model):
    host: str = "127.0.0.1"
    #: Several primaries (``host`` or ``host:port``), tried in this order; replaces ``host``.
    hosts: tuple[str, ...] = ()
    port: int = Field(53, ge=1, le=65535)
    timeout: float = Field(3.0, gt=0, le=60)  # bounds a query or UPDATE, retries included
    transfer_timeout: float = Field(120.0, gt=0)  # bounds a zone read, retries included
    tls: TLSConfig | None = None
    #: Zone reads (SOA + transfer) on the first host up (``ordered``) or on each of
    #: ``hosts`` in turn (``round-robin``); writes always go in order.
    read: Literal["ordered", "round-robin"] = "ordered"
    #: GSS-TSIG instead of a TSIG ``key`` (then leave ``key`` unset).
    gss: GSSConfig | None = None

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for h in hosts:
            _host_port(h, 53)
        return hosts

    def addresses(self) -> tuple[tuple[str, int], ...]:
        """(host, port) of every primary, in failover order."""
        return tuple(_host_port(h, self.port) for h in self.hosts or (self.host,))


def _host_port(text: str, default: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""
    host, sep, port = text.rpartition(":")
    if text.startswith("[") and "]" in text:
        inside, _, rest = text[1:].partition("]")
        return inside, int(rest[1:]) if rest.startswith(":") else default
    if not sep or ":" in host:
        return text, default
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"server.hosts: bad port in {text!r}")
    return host, int(port)


class TTLConfig(_Model):
    #: 0 is external-dns's TTL for records without a ttl annotation.
    default: int = Field(300, ge=0, le=2_147_483_647)
    min: int = Field(0, ge=0, le=2_147_483_647)
    max: int = Field(604_800, ge=1, le=2_147_483_647)
    #: Ownership TXTs at the record's TTL, or at ``min`` as external-dns writes them.
    ownership: Literal["record", "min"] = "record"

    @model_validator(mode="after")
    def _order(self) -> TTLConfig:
        if not self.min <= self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class TargetConfig(_Model):
    """One server, its zones, key, policy and the sources that feed it."""

    name: str
    server: ServerConfig = ServerConfig()
    zones: tuple[str, ...]
    key: KeyConfig | None = None
    #: A separate key for AXFR/IXFR, when transfers use other credentials.
    transfer_key: KeyConfig | None = None
    policy: Policy = Policy.UPSERT_ONLY
    owner_id: str = "default"
    #: external-dns's --migrate-from-txt-owner: take over this owner's records,
    #: only those whose resource label names an object the target reads.
    migrate_from_txt_owner: str = ""
    txt_prefix: str = ""
    txt_suffix: str = ""
    txt_wildcard_replacement: str = ""
    txt_encrypt_key: SecretStr | None = None
    txt_encrypt_key_file: Path | None = None
    annotation_filter: str = ""
    #: external-dns's --annotation-prefix: the one prefix annotations are read under.
    annotation_prefix: str = "external-dns.kubernetes.io/"
    #: external-dns's --domain-filter / --exclude-domains / --regex-domain-filter /
    #: --regex-domain-exclusion: names outside are neither published nor touched.
    domain_filter: tuple[str, ...] = ()
    exclude_domains: tuple[str, ...] = ()
    regex_domain_filter: str = ""
    regex_domain_exclusion: str = ""
    #: external-dns's --managed-record-types: of dnssync.rtypes.TYPES, default as external-dns.
    managed_record_types: tuple[str, ...] = ("A", "AAAA", "CNAME")
    #: external-dns's --create-ptr (was --rfc2136-create-ptr): a PTR for every
    #: A/AAAA in the reverse zones of ``zones``; the record-type annotation overrides it.
    create_ptr: bool = False
    #: external-dns's --source values (the source registry: dnssync/kinds.py).
    sources: tuple[str, ...] = DEFAULT_SOURCES
    default_targets: tuple[str, ...] = ()
    ttl: TTLConfig = TTLConfig()
    ingress_tls_hosts: bool = True
    publish_internal: bool = False
    max_change_ratio: float | None = Field(0.5, ge=0, le=1)
    #: The gate applies only once a plan touches more than this many owned
    #: record sets: a small zone moves freely.
    safety_floor: int = Field(5, ge=0)
    interval: float = Field(60.0, gt=0)

    @field_validator("sources")
    @classmethod
    def _sources(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in v if name not in BY_NAME]
        if unknown:
            known = ", ".join(BY_NAME)
            raise ValueError(f"unknown source {unknown[0]!r}: the sources are {known}")
        return tuple(dict.fromkeys(v))

    @property
    def source_kinds(self) -> tuple[SourceKind, ...]:
        """The registry entries of ``sources``."""
        return tuple(BY_NAME[name] for name in self.sources)

    @property
    def source_refs(self) -> frozenset[str]:
        """dnssync's names of the kinds in ``sources`` (``ObjectRef.kind``)."""
        return frozenset(k.ref for k in self.source_kinds)

    @field_validator("zones")
    @classmethod
    def _zones(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("list at least one zone")
        try:
            return tuple(normalize(z, underscore=True, wildcard=False) for z in v)
        except InvalidName as e:
            raise ValueError(str(e)) from None

    @field_validator("managed_record_types")
    @classmethod
    def _record_types(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        types = tuple(t.upper() for t in v)
        unknown = [t for t in types if t not in TYPES]
        if unknown:
            raise ValueError(f"unknown record type {unknown[0]!r}; known: {', '.join(TYPES)}")
        return types

    @model_validator(mode="after")
    def _checks(self) -> TargetConfig:
        if self.key is not None and self.server.gss is not None:
            raise ValueError("set either 'key' or 'server.gss', not both")
        if self.migrate_from_txt_owner and self.migrate_from_txt_owner == self.owner_id:
            raise ValueError("migrate_from_txt_owner is this target's own owner_id")
        if self.create_ptr and "PTR" not in self.managed_record_types:
            # As external-dns: its planner would never touch the records it derives.
            raise ValueError("create_ptr needs PTR in managed_record_types")
        # The registry options (affixes, owner id, the AES key's form) are
        # checked by dnssync.registry itself when the target is built.
        if self.txt_encrypt_key_file is not None:
            text = _read_secret_file(self.txt_encrypt_key_file, "txt_encrypt_key_file")
            object.__setattr__(self, "txt_encrypt_key", SecretStr(text))
        return self


class KubernetesConfig(_Model):
    kubeconfig: Path | None = None  # None: in-cluster, else ~/.kube/config
    context: str | None = None
    namespaces: tuple[str, ...] = ()  # empty: all
    watch_timeout: int = Field(300, ge=1, le=3600)  # timeoutSeconds of each watch
    events: bool = True  # Kubernetes Events on the objects (published/conflict/refused)
    events_qps: float = Field(5.0, gt=0)  # Events posted per second at most ...
    events_burst: int = Field(25, ge=1)  # ... after a burst of this many
    #: How long 401/403/404 from the API are retried before they count as final
    #: (a restarted API server refuses until its RBAC cache has filled).
    refusal_grace: float = Field(120.0, ge=0)


class LeaderElectionConfig(_Model):
    enabled: bool = True  # only with Kubernetes; a manifests-only run always writes
    lease_name: str = "dnssync"
    namespace: str = "default"
    duration: float = Field(15.0, gt=0)
    renew_deadline: float = Field(10.0, gt=0)
    retry_period: float = Field(2.0, gt=0)

    @model_validator(mode="after")
    def _order(self) -> LeaderElectionConfig:
        if not self.retry_period < self.renew_deadline < self.duration:
            raise ValueError("need retry_period < renew_deadline < duration")
        return self


class ReconcileConfig(_Model):
    debounce: float = Field(0.02, ge=0, le=10)  # gather a burst of events into one pass
    full_read_every: float = Field(3600.0, gt=0)  # drop caches, AXFR, repair drift
    backoff_max: float = Field(60.0, gt=0)
    # A manifests directory is watched (inotify): an edit re-reads that file within ms.
    # Off (an NFS mount, whose changes made elsewhere raise no events): polled only.
    manifests_watch: bool = True
    # Seconds between checks of a manifests directory when it is not watched (while
    # watched, the same check runs every minute, as a safety net for lost events).
    manifests_poll: float = Field(5.0, gt=0)
    readiness_grace: float = Field(30.0, ge=0)


class LogConfig(_Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class HTTPConfig(_Model):
    host: str = "0.0.0.0"
    port: int = Field(8080, ge=0, le=65535)


class AcmeServerConfig(_Model):
    """One primary that takes the ACME TXT updates, with its key and zones."""

    name: str
    server: ServerConfig = ServerConfig()
    key: KeyConfig | None = None
    #: Zones this server is primary for; empty: found by SOA queries to it.
    zones: tuple[str, ...] = ()
    #: Authoritative servers (``host`` or ``host:port``, ``[v6]:port``) that
    #: must serve a presented value before success (``acme.verify:
    #: authoritative``); empty: the zone's NS set, as the primary serves it.
    nameservers: tuple[str, ...] = ()
    #: UPDATE exchanges in flight at once to this primary (per address,
    #: shared by entries naming the same one); more wait their turn.
    max_concurrent_updates: int = Field(16, ge=1, le=1024)

    @model_validator(mode="after")
    def _one_credential(self) -> AcmeServerConfig:
        if self.key is not None and self.server.gss is not None:
            raise ValueError("set either 'key' or 'server.gss', not both")
        return self

    @field_validator("zones")
    @classmethod
    def _zones(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        try:
            return tuple(normalize(z, underscore=True, wildcard=False) for z in v)
        except InvalidName as e:
            raise ValueError(str(e)) from None

    @field_validator("nameservers")
    @classmethod
    def _nameservers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for text in v:
            host, port = parse_host_port(text)
            if not host or not 1 <= port <= 65535:
                raise ValueError(f"nameserver {text!r} is not 'host', 'host:port' or '[v6]:port'")
        return v

    def nameserver_addresses(self) -> tuple[tuple[str, int], ...]:
        """The nameservers as (host, port) pairs (port 53 by default)."""
        return tuple(parse_host_port(text) for text in self.nameservers)


def parse_host_port(text: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` -> (host, port); port 0 when invalid."""
    text = text.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    return host, int(port) if port.isdigit() else 0


class AcmePropagationConfig(_Model):
    """Waiting until every listed authoritative server serves a value."""

    wait: bool = False
    timeout: float = Field(60.0, gt=0, le=600)
    interval: float = Field(1.0, gt=0, le=60)


class AcmeWebhookConfig(_Model):
    """The cert-manager webhook: an aggregated API server over HTTPS."""

    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = Field(8443, ge=0, le=65535)
    group_name: str = "acme.dnssync.io"
    solver_name: str = "dnssync"
    cert_file: Path = Path("/tls/tls.crt")
    key_file: Path = Path("/tls/tls.key")
    #: The front-proxy CA (``requestheader-client-ca-file``) as a mounted
    #: file; unset: read from ``auth_configmap`` through the Kubernetes API.
    client_ca_file: Path | None = None
    #: Allowed front-proxy certificate CNs with ``client_ca_file`` (empty: any).
    allowed_names: tuple[str, ...] = ()
    auth_configmap: str = "kube-system/extension-apiserver-authentication"
    #: How often the certificate files and the front-proxy CA are re-read.
    reload_interval: float = Field(10.0, gt=0)
    #: Bound on one request; the kube-apiserver gives up after ~60 s.
    request_timeout: float = Field(25.0, gt=0, le=55)

    @field_validator("group_name")
    @classmethod
    def _group(cls, v: str) -> str:
        try:
            return normalize(v, wildcard=False)
        except InvalidName as e:
            raise ValueError(str(e)) from None

    @field_validator("solver_name")
    @classmethod
    def _solver(cls, v: str) -> str:
        if not _RESOURCE_NAME.match(v):
            raise ValueError("must be a lower-case resource name ([a-z0-9-], ≤ 63)")
        return v

    @field_validator("auth_configmap")
    @classmethod
    def _configmap(cls, v: str) -> str:
        ns, _, name = v.partition("/")
        if not ns or not name or "/" in name:
            raise ValueError("must be 'namespace/name'")
        return v


_RESOURCE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class AcmeChallengesConfig(_Model):
    """The cert-manager Challenge watcher."""

    enabled: bool = True
    namespaces: tuple[str, ...] = ()  # empty: all
    #: Present values as soon as a Challenge appears (before cert-manager asks).
    present_early: bool = True
    #: A value dnssync wrote is removed once no live Challenge has needed it
    #: for this long (covers watch lag between a Present and its Challenge).
    grace: float = Field(600.0, ge=0)
    resync: float = Field(60.0, gt=0)
    #: Also find our markers by transferring the configured zones (the key
    #: must be allowed AXFR); otherwise only names of Challenges seen are checked.
    scan_zones: bool = False


class AcmeConfig(_Model):
    """ACME DNS-01: where TXT values go, and the webhook / watcher / hooks."""

    servers: tuple[AcmeServerConfig, ...]
    #: Names dnssync's ownership markers; two installations sharing a zone
    #: need different ids.
    owner_id: str = "default"
    ttl: int = Field(60, ge=1, le=86_400)
    #: Write an ownership marker next to each value (see acme/records.py);
    #: off when the key may only touch ``_acme-challenge`` names.
    markers: bool = True
    #: After each Present, wait until the value is served by: every
    #: authoritative server of the zone ("authoritative": the server's
    #: ``nameservers``, else the zone's NS set; the primary alone when no
    #: NS address answers), the primary only ("primary"), or nobody ("off").
    #: ``true``/``false`` mean "primary"/"off".
    verify: Literal["authoritative", "primary", "off"] = "authoritative"
    #: Resolvers asked for a CNAME at a name outside every configured zone
    #: (``host`` / ``host:port``, or ``system`` for /etc/resolv.conf); empty: never.
    resolvers: tuple[str, ...] = ()
    propagation: AcmePropagationConfig = AcmePropagationConfig()
    webhook: AcmeWebhookConfig = AcmeWebhookConfig()
    challenges: AcmeChallengesConfig = AcmeChallengesConfig()

    @field_validator("verify", mode="before")
    @classmethod
    def _verify(cls, v: object) -> object:
        if isinstance(v, bool):
            return "primary" if v else "off"
        return v

    @field_validator("owner_id")
    @classmethod
    def _owner(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,63}", v):
            raise ValueError("owner_id may hold 1-63 letters, digits, '.', '_' and '-'")
        return v

    @field_validator("resolvers")
    @classmethod
    def _resolvers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for text in v:
            if text != "system":
                host, port = parse_host_port(text)
                if not host or not 1 <= port <= 65535:
                    raise ValueError(f"resolver {text!r} is not 'system', 'host' or 'host:port'")
        return v

    def check_runnable(self) -> None:
        """What ``run`` and ``webhook`` need beyond the hooks: something to
        run, and readable TLS files for the webhook (one line each, exit 2)."""
        if not self.webhook.enabled and not self.challenges.enabled:
            raise ConfigError(
                "acme: webhook.enabled and challenges.enabled are both false: nothing to run "
                "(the hooks, `dnssync acme present|cleanup`, need neither)"
            )
        if not self.webhook.enabled:
            return
        w = self.webhook
        files = {
            "cert_file": w.cert_file,
            "key_file": w.key_file,
            "client_ca_file": w.client_ca_file,
        }
        for field, path in files.items():
            if path is None:
                continue
            try:
                with path.open("rb") as f:
                    f.read(1)
            except OSError as e:
                raise ConfigError(
                    f"acme.webhook.{field}: cannot read {path}: {e.strerror}"
                ) from None

    def resolver_addresses(self) -> tuple[tuple[str, int], ...]:
        """Explicit resolvers as (host, port) pairs ("system" left out)."""
        return tuple(parse_host_port(r) for r in self.resolvers if r != "system")

    @model_validator(mode="after")
    def _checks(self) -> AcmeConfig:
        if not self.servers:
            raise ValueError("list at least one server")
        names = [s.name for s in self.servers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"server names must be unique: {', '.join(dupes)}")
        seen: dict[str, str] = {}
        for s in self.servers:
            for z in s.zones:
                if z in seen:
                    raise ValueError(f"zone {z!r} is on both servers {seen[z]!r} and {s.name!r}")
                seen[z] = s.name
        return self


class AcmeHookEnv(_Model):
    """What certbot's manual hooks pass in the environment."""

    certbot_domain: str | None = None
    certbot_validation: str | None = None


def acme_hook_env(env: Mapping[str, str] | None = None) -> AcmeHookEnv:
    """Read ``CERTBOT_DOMAIN`` / ``CERTBOT_VALIDATION`` (config.py reads the env)."""
    env = os.environ if env is None else env
    return AcmeHookEnv(
        certbot_domain=env.get("CERTBOT_DOMAIN") or None,
        certbot_validation=env.get("CERTBOT_VALIDATION") or None,
    )


class Config(_Model):
    """The whole configuration."""

    targets: tuple[TargetConfig, ...] = ()
    manifests: Path | None = None
    #: Where ``plan`` / ``sync --once`` keep zone snapshots and converted
    #: manifests between runs; null keeps nothing (see :func:`load` for the default).
    state_dir: Path | None = None
    kubernetes: KubernetesConfig = KubernetesConfig()
    leader_election: LeaderElectionConfig = LeaderElectionConfig()
    reconcile: ReconcileConfig = ReconcileConfig()
    log: LogConfig = LogConfig()
    http: HTTPConfig = HTTPConfig()
    acme: AcmeConfig | None = None

    @model_validator(mode="after")
    def _unique(self) -> Config:
        if not self.targets and self.acme is None:
            raise ValueError("nothing to do: configure 'targets', 'acme', or both")
        names = [t.name for t in self.targets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"target names must be unique: {', '.join(dupes)}")
        seen: dict[str, str] = {}
        for t in self.targets:
            for z in t.zones:
                if z in seen:
                    raise ValueError(
                        f"zone {z!r} is served by both targets {seen[z]!r} and {t.name!r}"
                    )
                seen[z] = t.name
        return self


def _set_path(data: dict[str, Any], path: list[str], value: str) -> None:
    node: Any = data
    for i, part in enumerate(path):
        last = i == len(path) - 1
        key: Any = int(part) if part.isdigit() else part
        if isinstance(node, list):
            if not isinstance(key, int):
                raise ConfigError(f"environment override: {part!r} must be a list index")
            while len(node) <= key:
                node.append({})
            if last:
                node[key] = value
            else:
                if not isinstance(node[key], dict | list):
                    node[key] = {}
                node = node[key]
        else:
            if last:
                node[key] = value
            else:
                nxt = node.get(key)
                if not isinstance(nxt, dict | list):
                    nxt = [] if path[i + 1].isdigit() else {}
                    node[key] = nxt
                node = nxt


def _drop_secret_file(data: dict[str, Any], path: list[str]) -> None:
    node: Any = data
    for part in path:
        key: Any = int(part) if part.isdigit() else part
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node.pop("secret_file", None)


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def load(path: Path | None, *, env: Mapping[str, str] | None = None) -> Config:
    """Read the YAML file (if any), apply ``DNSSYNC_*`` overrides, validate.

    Relative paths in the file (``manifests``, ``secret_file``, ...) are
    relative to the file's folder; without a file, to the working directory.
    """
    env = os.environ if env is None else env
    data = _read_yaml(path) if path is not None else {}
    _apply_env(data, env)
    base = path.parent if path is not None else Path.cwd()
    _resolve_paths(data, base)
    if "state_dir" not in data:
        data["state_dir"] = default_state_dir(env)
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        problems = [_problem(err) for err in e.errors()]
        source = str(path) if path is not None else "environment"
        raise ConfigError(
            f"invalid configuration in {source}:\n  " + "\n  ".join(problems)
        ) from None


def default_state_dir(env: Mapping[str, str]) -> str | None:
    """``$XDG_STATE_HOME/dnssync``, else ``~/.local/state/dnssync``; None without either."""
    if env.get("XDG_STATE_HOME", "").startswith("/"):
        return str(Path(env["XDG_STATE_HOME"], "dnssync"))
    home = env.get("HOME", "")
    return str(Path(home, ".local", "state", "dnssync")) if home.startswith("/") else None


def _read_yaml(path: Path) -> dict[str, Any]:
    """The file's mapping; alias expansion bounded, errors without input text."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    try:
        # The reader checks every character here, before parsing.
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(e)}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return {}
        check_expansion(node, limit=CONFIG_NODE_LIMIT)
        loaded = loader.construct_document(node)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(e)}") from None
    except ExpansionTooLarge as e:
        raise ConfigError(f"{path}: {e}") from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply") from None
    finally:
        loader.dispose()
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return loaded


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """``DNSSYNC_A__0__B=v`` sets ``a[0].b``; a value starting ``[``/``{`` is JSON."""
    for name, value in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        if rest == "config":
            continue
        keys = rest.split("__")
        parsed: Any = value
        if value.lstrip()[:1] in ("[", "{") and not _SECRETISH.search(keys[-1]):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as e:
                raise ConfigError(
                    f"environment {name}: not valid JSON ({e.msg} at column {e.colno})"
                ) from None
        _set_path(data, keys, parsed)
        if keys[-1] == "secret":
            # A secret from the environment overrides a secret_file from the
            # file (the usual way to inject one in CI or a Pod spec).
            _drop_secret_file(data, keys[:-1])


def _problem(err: Any) -> str:
    """One validation error as ``place: reason (got value)``.

    The value is shown only for a field the schema knows, outside every
    key/secret section, and only when it is a short scalar: a misspelt field
    (``secert``) or a value under ``key`` may be the secret itself.  An
    unknown field is named only when it is a near miss of a known one (a
    typo); otherwise its name, which may be a pasted secret, is left out.
    """
    loc = tuple(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        known = _fields_at(loc[:-1])
        name = str(loc[-1])
        near = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.75)
        if near:
            return f"{_location(loc)}: unknown field (did you mean {near[0]!r}?)"
        return f"{_location(loc[:-1])}: an unknown field (its name is not shown); known: " + (
            ", ".join(known)
        )
    hidden = (
        err["type"] == "missing"
        or any(isinstance(p, str) and _SECRETISH.search(p) for p in loc)
        or not isinstance(value, str | int | float | bool)
        or len(str(value)) > _SHOWN_MAX
    )
    where = _location(loc)
    return f"{where}: {msg}" if hidden else f"{where}: {msg} (got {value!r})"


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The field names of the model found at ``loc`` inside :class:`Config`."""
    model: type[BaseModel] = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        inner = _model_in(field.annotation) if field is not None else None
        if inner is None:
            return []
        model = inner
    return sorted(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``X``, ``X | None`` or ``tuple[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make file paths relative to the config file's folder."""

    def fix(node: dict[str, Any], key: str) -> None:
        value = node.get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            node[key] = str(base / value)

    fix(data, "manifests")
    if isinstance(data.get("state_dir"), str) and data["state_dir"].startswith("~"):
        data["state_dir"] = str(Path(data["state_dir"]).expanduser())
    fix(data, "state_dir")
    for target in data.get("targets") or []:
        if not isinstance(target, dict):
            continue
        fix(target, "txt_encrypt_key_file")
        server = target.get("server")
        if isinstance(server, dict) and isinstance(server.get("gss"), dict):
            fix(server["gss"], "keytab")
        for k in ("key", "transfer_key"):
            if isinstance(target.get(k), dict):
                fix(target[k], "secret_file")
    if isinstance(data.get("kubernetes"), dict):
        fix(data["kubernetes"], "kubeconfig")
    acme = data.get("acme")
    if isinstance(acme, dict):
        for server in acme.get("servers") or []:
            if isinstance(server, dict) and isinstance(server.get("key"), dict):
                fix(server["key"], "secret_file")
            inner = server.get("server") if isinstance(server, dict) else None
            if isinstance(inner, dict) and isinstance(inner.get("gss"), dict):
                fix(inner["gss"], "keytab")
        if isinstance(acme.get("webhook"), dict):
            for k in ("cert_file", "key_file", "client_ca_file"):
                fix(acme["webhook"], k)
