"""The one exception tree of dnssync.

Every error says whether trying again may help (``retryable``).  Foreign
exceptions (dnspython, sockets, kubernetes-asyncio, YAML) are translated into
these once, at the boundary where they occur, so callers above never see them.
Error texts never carry secrets: they name the key, never its value.
"""

from __future__ import annotations

from typing import ClassVar


class DnssyncError(Exception):
    """Base of every error dnssync raises on purpose."""

    retryable: ClassVar[bool] = False


# --- input and configuration (permanent) ---------------------------------


class ConfigError(DnssyncError):
    """The configuration is invalid: says which key, which value and why."""


class InvalidInput(DnssyncError):
    """Bad input from a user: an annotation, a name, a TTL, a payload.

    ``where`` names the place (file, resource, annotation) the value came from.
    """

    #: Records may be missing because of it: a pass with such an error deletes nothing.
    partial: ClassVar[bool] = True

    def __init__(self, message: str, *, where: str = "") -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


class InvalidName(InvalidInput):
    """A DNS name that is not valid, or not inside the zones it must be in."""


class Ignored(InvalidInput):
    """A value reported and left unused that costs no record (a DNSEndpoint's
    ``setIdentifier``, a route's own ``target`` annotation): deletes go on."""

    partial: ClassVar[bool] = False


class ServeFailed(DnssyncError):
    """A listening socket could not be opened (address in use, no permission)."""


# --- DNS ------------------------------------------------------------------


class DNSError(DnssyncError):
    """A failure talking to a DNS server; names the server and zone."""

    def __init__(self, message: str, *, server: str = "", zone: str = "") -> None:
        self.server = server
        self.zone = zone
        self.detail = message
        where = ", ".join(p for p in (f"zone {zone}" if zone else "", server) if p)
        super().__init__(f"{message} ({where})" if where else message)


class ServerRefused(DNSError):
    """The server answered with an error rcode (REFUSED, NOTAUTH, NOTZONE, ...)."""

    def __init__(
        self, message: str, *, rcode: str, tsig_error: str = "", server: str = "", zone: str = ""
    ) -> None:
        self.rcode = rcode
        self.tsig_error = tsig_error
        super().__init__(message, server=server, zone=zone)


class ServerFailure(ServerRefused):
    """SERVFAIL: the server could not apply the message (it rolled it back)."""

    retryable = True


class TSIGFailure(ServerRefused):
    """The TSIG exchange failed: BADSIG, BADKEY, BADTIME or an unsigned answer."""


class PrerequisiteFailed(ServerRefused):
    """An RFC 2136 prerequisite did not hold: someone else wrote at that name."""


class TransferFailed(DNSError):
    """A zone transfer failed part-way; no snapshot was produced from it."""

    retryable = True


class DNSTimeout(DNSError):
    """No answer in time.  For an UPDATE the outcome is unknown: re-read first."""

    retryable = True


class ConnectionFailed(DNSError):
    """The server could not be reached (refused, reset, closed early)."""

    retryable = True


class GSSFailure(DNSError):
    """GSS-TSIG could not start or go on: no Kerberos ticket (KDC, keytab, principal),
    or the server's TKEY answer did not complete the context."""

    retryable = True


class MalformedResponse(DNSError):
    """The server's answer could not be parsed."""

    retryable = True


# --- Kubernetes API ---------------------------------------------------------


class KubeError(DnssyncError):
    """A Kubernetes API call failed.

    ``status`` is the HTTP code (0 when no answer arrived); ``retry_after``
    is the server's ``Retry-After`` in seconds, when it sent one.
    """

    def __init__(
        self, message: str, *, status: int = 0, reason: str = "", retry_after: float | None = None
    ) -> None:
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(message)


class KubeUnavailable(KubeError):
    """No usable answer: 5xx, 429, a broken or timed-out connection, undecodable bytes."""

    retryable = True


class KubeRefused(KubeError):
    """401 / 403.  Transient for a while after an API server (re)start, whose
    RBAC cache starts empty; callers give up only when it lasts (their grace)."""

    retryable = True


class KubeNotFound(KubeError):
    """404: the object, or the whole kind (a CRD not installed), is missing."""


class KubeConflict(KubeError):
    """409: a write raced another (stale resourceVersion) or the name is taken."""


class KubeGone(KubeError):
    """410: the resourceVersion held is too old; list again."""


class KubeInvalid(KubeError):
    """400 / 415 / 422 and other answers no retry can change."""
