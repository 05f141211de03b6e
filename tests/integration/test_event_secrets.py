"""Kubernetes Events never carry the TSIG secret or the TXT encryption key (issue #10 item 4).

One service run against the fake Kubernetes API and a real BIND, with a
target holding both secrets, provokes every Event reason the controller
posts -- Published, Refused (an UPDATE BIND's policy denies), Conflict (two
objects, one name), Skipped (a manual record in the way) and Invalid (a bad
annotation) -- and greps every Event stored for the secrets in the forms the
other secret tests look for: any 12-character piece, the hex and the raw bytes.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from dnssync.app import App
from tests.dnsservers import BindServer
from tests.fakekube import FakeKube, fake_kube
from tests.integration.test_service import config, ingress, running, target, until
from tests.unit.test_config import _leaks

_REASONS = {"Published", "Refused", "Conflict", "Skipped", "Invalid"}


@pytest.fixture
async def kube() -> AsyncIterator[FakeKube]:
    async with fake_kube() as k:
        yield k


def _events(kube: FakeKube) -> list[dict[str, Any]]:
    return [e for e in kube.list("v1", "Event", "web") if e.get("reason") in _REASONS]


async def test_no_event_carries_the_tsig_secret_or_the_aes_key(
    kube: FakeKube, bind_server: BindServer, tmp_path: Path
) -> None:
    """Published, Refused, Conflict, Skipped and Invalid Events: neither secret in any form."""
    zone = f"evsecret{os.getpid()}.test"
    bind_server.add_zone_denying(zone, f"refused.{zone}", "manual IN A 192.0.2.9\n")
    aes_key = base64.b64encode(os.urandom(32)).decode()
    app = App(
        config(
            kube.write_kubeconfig(tmp_path),
            target("internal", bind_server, zone, txt_encrypt_key=SecretStr(aes_key)),
        )
    )
    bad = ingress("bad", f"bad.{zone}", "192.0.2.5")
    bad["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/ttl"] = "forever"
    async with running(app):
        kube.create(ingress("pub", f"pub.{zone}", "192.0.2.1"))
        kube.create(ingress("denied", f"refused.{zone}", "192.0.2.2"))
        kube.create(ingress("first", f"dup.{zone}", "192.0.2.3"))
        kube.create(ingress("second", f"dup.{zone}", "192.0.2.4"))
        kube.create(ingress("manual", f"manual.{zone}", "192.0.2.6"))
        kube.create(bad)
        await until(lambda: {e["reason"] for e in _events(kube)} == _REASONS, within=30)
    events = _events(kube)
    refused = [e["message"] for e in events if e["reason"] == "Refused"]
    assert any("REFUSED" in m for m in refused), refused
    text = json.dumps(events)
    assert not _leaks(text, bind_server.key.secret)
    assert not _leaks(text, aes_key)
