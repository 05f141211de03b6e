"""cert-manager's DNS-01 webhook conformance suite against dnssync's HTTPS webhook.

The suite (``test/acme`` in cert-manager, compiled with our forwarding shim in
tests/integration/acme/conformance/) starts its own kube-apiserver + etcd (envtest, the
binaries from tests/peers/kube.py), then drives Present/CleanUp through the shim, which
POSTs them to dnssync's webhook as the kube-apiserver would (front-proxy client
certificate, X-Remote-User). It checks the records on the session's BIND.

Strict mode runs too. Its second key is the fixed text "anothertestingkey", which
dnssync refuses by design (issue #10: only RFC 8555 digests are ever written, so no
Present can plant an ownership record); that one check must fail with exactly that
refusal. The shim's TestStrictWithDigests runs the same strict check with two digests:
both served at one name, deleting one leaves the other, a second CleanUp succeeds.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import pytest

from dnssync.acme.solver import Solver
from tests.dnsservers import BindServer
from tests.integration.acme.conftest import Certs, WebhookFactory, acme_config, solve_url
from tests.peers import conformance, kube

from .clients import leftovers

pytestmark = pytest.mark.timeout(600)
PASSES = (
    "--- PASS: TestConformance/Conformance/Basic/PresentRecord",
    "--- PASS: TestStrictWithDigests",
)
STRICT_SUITE = "--- FAIL: TestConformance/Conformance/Extended/DeletingOneRecordRetainsOthers"
REFUSAL = (
    "Present refused by dnssync: ChallengePayload: the key (TXT value) is not an ACME DNS-01 digest"
)


def tls_files(certs: Certs, directory: Path) -> dict[str, str]:
    """The shim's view of the TLS material: the serving CA and the front-proxy client."""
    ca, cert, key = directory / "ca.pem", directory / "client.pem", directory / "client.key"
    certs.serving_ca.cert_pem.write_to_path(str(ca))
    cert.write_bytes(b"".join(b.bytes() for b in certs.proxy.cert_chain_pems))
    key.write_bytes(certs.proxy.private_key_pem.bytes())
    return {
        "DNSSYNC_WEBHOOK_CA": str(ca),
        "DNSSYNC_CLIENT_CERT": str(cert),
        "DNSSYNC_CLIENT_KEY": str(key),
    }


async def test_conformance_suite_passes_in_strict_mode(
    bind_server: BindServer,
    acme_zone: str,
    certs: Certs,
    webhook: WebhookFactory,
    tmp_path: Path,
) -> None:
    """The suite's Basic passes; strict passes with digests, refuses the suite's non-digest key."""
    binary = conformance.PEER.path("bin/conformance.test")
    env = {**os.environ, **kube.envtest_env(), **tls_files(certs, tmp_path)}
    env.update(
        TEST_ZONE_NAME=acme_zone + ".",
        TEST_DNS_SERVER=f"{bind_server.host}:{bind_server.port}",
        # The suite's first key; its second ("anothertestingkey") is fixed in the suite.
        TEST_CHALLENGE_KEY=secrets.token_urlsafe(32),
        TEST_CHALLENGE_KEY2=secrets.token_urlsafe(32),
    )
    async with webhook(Solver(acme_config(bind_server, [acme_zone]))) as hook:
        env["DNSSYNC_WEBHOOK_URL"] = solve_url(hook)
        proc = await asyncio.create_subprocess_exec(
            str(binary),
            "-test.v",
            "-test.run",
            "TestConformance|TestStrictWithDigests",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    for line in PASSES:
        assert line in text, text[-6000:]
    # The only failure: the suite's fixed non-digest key, refused with the stable line.
    assert STRICT_SUITE in text and REFUSAL in text, text[-6000:]
    assert text.count("--- FAIL:") == 4, text[-6000:]  # that test and its three parents
    assert leftovers(bind_server, acme_zone) == []
