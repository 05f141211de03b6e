"""external-dns v0.22.0's own test cases (tests/unit/extdns_cases) run against dnssync.

Each parametrised case is named by the upstream test function it was transcribed from.
"""

from __future__ import annotations

import pytest

from dnssync.errors import ConfigError
from dnssync.model import Endpoint, ObjectRef, RRset, ZoneSnapshot
from dnssync.plan import PlanOptions, plan
from dnssync.registry import (
    Registry,
    RegistryOptions,
    decrypt_value,
    format_labels,
    parse_labels,
)
from dnssync.sources.annotations import DEFAULT_PREFIX, parse_hostnames, parse_targets
from dnssync.sources.convert import SourceOptions
from dnssync.sources.services import service_endpoints
from tests.unit.extdns_cases import annotations as ann
from tests.unit.extdns_cases import conflict, labels, mapper, rfc2136, txt_registry


def registry(prefix: str = "", suffix: str = "", wildcard: str = "", **kw: object) -> Registry:
    return Registry(RegistryOptions("owner", prefix, suffix, wildcard, **kw))  # type: ignore[arg-type]


def ids(cases: tuple[tuple[object, ...], ...]) -> list[str]:
    return [str(c[0]) for c in cases]


# --- registry/mapper/mapper_test.go -------------------------------------------------------


@pytest.mark.parametrize("case", mapper.TO_TXT, ids=ids(mapper.TO_TXT))
def test_mapper_to_txt_name(case: mapper.ToTXT) -> None:
    """ToTXTName: dnssync names the ownership TXT exactly as external-dns."""
    reg = registry(case.prefix, case.suffix, case.wildcard)
    assert reg.external_txt_name(case.name, case.type) == case.txt
    zone = case.name.split(".", 1)[1]
    assert reg.txt_name(case.name, case.type, zone=zone) == case.txt


@pytest.mark.parametrize("case", mapper.TO_ENDPOINT, ids=ids(mapper.TO_ENDPOINT))
def test_mapper_to_endpoint_name(case: mapper.ToEndpoint) -> None:
    """ToEndpointName: dnssync reads an ownership TXT name back as external-dns."""
    assert registry(case.prefix, case.suffix).parse_txt_name(case.txt) == (case.name, case.type)


@pytest.mark.parametrize("case", mapper.NO_MATCH, ids=ids(mapper.NO_MATCH))
def test_mapper_no_match(case: tuple[str, str, str, str]) -> None:
    """dropAffixExtractType: a name without the affix names no record and no type."""
    _, prefix, suffix, txt = case
    name, type_ = registry(prefix, suffix).parse_txt_name(txt)
    assert type_ == ""
    assert name.split(".")[0] == ""


@pytest.mark.parametrize("case", mapper.ROUND_TRIP, ids=ids(mapper.ROUND_TRIP))
def test_mapper_new_txt_round_trip(case: tuple[str, str, str, str, str, str]) -> None:
    """TestToEndpointNameNewTXT: every affix form (templated without separator too) both ways."""
    _, prefix, suffix, name, type_, txt = case
    reg = registry(prefix, suffix)
    assert reg.external_txt_name(name, type_) == txt
    assert reg.parse_txt_name(txt)[0] == name


def test_mapper_prefix_and_suffix_together_are_refused() -> None:
    """Both affixes at once: external-dns's registry refuses them, so does dnssync's."""
    with pytest.raises(ConfigError):
        registry(*mapper.BOTH_AFFIXES)


# --- endpoint/labels_test.go, endpoint/crypto_test.go --------------------------------------


@pytest.mark.parametrize("case", labels.PARSE, ids=ids(labels.PARSE))
def test_labels_parse(case: tuple[str, str, dict[str, str] | None]) -> None:
    """NewLabelsFromStringPlain: same labels, same refusals (no, wrong, several heritages)."""
    _, text, expected = case
    assert parse_labels(text) == expected


@pytest.mark.parametrize("case", labels.DECRYPT, ids=ids(labels.DECRYPT))
def test_labels_decrypt(case: tuple[str, str, dict[str, str]]) -> None:
    """NewLabelsFromString with a key: external-dns's ciphertexts read; plain text still read."""
    _, text, expected = case
    assert registry(encryption_key=labels.AES_KEY).labels_of(text) == expected


@pytest.mark.parametrize("case", labels.SERIALIZE, ids=ids(labels.SERIALIZE))
def test_labels_serialize(case: tuple[str, dict[str, str], str]) -> None:
    """SerializePlain: heritage first, keys sorted, no spaces."""
    _, value, text = case
    assert format_labels(value) == text


def test_labels_owner_with_equals_round_trips() -> None:
    """TestParseLabels 'preserves equals in owner value': such an owner id is usable, both ways."""
    reg = Registry(RegistryOptions("team=platform"))
    own = reg.ownership("www.example.com", "A", zone="example.com", resource="service/a/b")
    assert reg.labels_of(own.value) == {"owner": "team=platform", "resource": "service/a/b"}


def test_crypto_known_ciphertext() -> None:
    """TestEncrypt: the known ciphertext decrypts; a wrong key and plain text do not."""
    assert decrypt_value(labels.CRYPTO_CIPHERTEXT, labels.CRYPTO_KEY) == labels.CRYPTO_PLAIN
    assert decrypt_value(labels.CRYPTO_CIPHERTEXT, labels.CRYPTO_WRONG_KEY) is None
    assert decrypt_value(labels.CRYPTO_PLAIN, labels.CRYPTO_KEY) is None


# --- registry/txt/registry_test.go ----------------------------------------------------------


@pytest.mark.parametrize("case", txt_registry.GENERATE, ids=ids(txt_registry.GENERATE))
def test_txt_registry_generate(case: tuple[str, str, str, str, str, str, str, str]) -> None:
    """generateTXTRecord: the same ownership name and value bytes."""
    _, prefix, owner, name, type_, resource, txt_name, value = case
    reg = Registry(RegistryOptions(owner, prefix))
    own = reg.ownership(name, type_, zone=txt_registry.ZONE, resource=resource)
    assert (own.name, own.value) == (txt_name, value)


# --- plan/conflict_test.go ------------------------------------------------------------------

ZONE = "example.com"
NAME = "foo.example.com"


def _endpoint(field: str) -> Endpoint:
    resource, type_, targets = conflict.ENDPOINTS[field]
    kind, ns, name = resource.split("/")
    return Endpoint(NAME, type_, targets, ObjectRef(kind, ns, name))


def _held_by(field: str, reg: Registry) -> ZoneSnapshot:
    ep = _endpoint(field)
    own = reg.ownership(NAME, ep.type, zone=ZONE, resource=ep.source.resource)
    rrsets = [RRset.of(NAME, ep.type, 300, ep.targets), RRset.of(own.name, "TXT", 300, [own.value])]
    return ZoneSnapshot(ZONE, 1, {r.key: r for r in rrsets})


@pytest.mark.parametrize("case", conflict.CASES, ids=ids(conflict.CASES))
def test_conflict_resolver(case: tuple[str, str | None, tuple[str, ...], str]) -> None:
    """PerResource: the holder keeps the name, else external-dns's minimum wins; loser reported."""
    _, holder, candidates, winner = case
    reg = registry()
    snapshot = _held_by(holder, reg) if holder else ZoneSnapshot(ZONE, 1, {})
    result = plan([_endpoint(c) for c in candidates], snapshot, reg, PlanOptions())
    (found,) = result.conflicts
    assert found.winner == conflict.ENDPOINTS[winner][0]
    assert set(found.losers) == {conflict.ENDPOINTS[c][0] for c in candidates} - {found.winner}


# --- source/annotations/processors_test.go ---------------------------------------------------


def _service(annotations: dict[str, str]) -> dict[str, object]:
    return {
        "metadata": {"name": "web", "namespace": "default", "annotations": annotations},
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
    }


@pytest.mark.parametrize("case", ann.TTL, ids=ids(ann.TTL))
def test_ttl_from_annotations(case: tuple[str, str | None, int]) -> None:
    """TTLFromAnnotations: same TTL; a bad one means 'not configured' and is still reported."""
    _, value, expected = case
    annotations = {DEFAULT_PREFIX + "hostname": "web.example.com"}
    if value is not None:
        annotations[DEFAULT_PREFIX + "ttl"] = value
    result = service_endpoints(_service(annotations), SourceOptions())
    (endpoint,) = result.endpoints
    assert endpoint.ttl == (expected or None)
    assert bool(result.errors) == (value is not None and expected == 0)


@pytest.mark.parametrize("case", ann.HOSTNAMES, ids=ids(ann.HOSTNAMES))
def test_hostnames_from_annotations(case: tuple[str, str, tuple[str, ...]]) -> None:
    """HostnamesFromAnnotations: the same names from a comma-separated list."""
    _, value, expected = case
    assert tuple(parse_hostnames(value, where="x")) == expected


@pytest.mark.parametrize("case", ann.TARGETS, ids=ids(ann.TARGETS))
def test_targets_from_target_annotation(case: tuple[str, str, tuple[str, ...]]) -> None:
    """TargetsFromTargetAnnotation: the same targets, trailing dots and blanks dropped."""
    _, value, expected = case
    assert tuple(v for _, v in parse_targets(value, where="x")) == expected


@pytest.mark.parametrize("case", ann.CONTROLLER, ids=ids(ann.CONTROLLER))
def test_controller_mismatch(case: tuple[str, str | None, bool]) -> None:
    """IsControllerMismatch: any controller value but dns-controller skips the object."""
    _, value, skipped = case
    annotations = {DEFAULT_PREFIX + "hostname": "web.example.com"}
    if value is not None:
        annotations[DEFAULT_PREFIX + "controller"] = value
    assert service_endpoints(_service(annotations), SourceOptions()).selected is not skipped


# --- provider/rfc2136/rfc2136_test.go ----------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [*rfc2136.DIFFERENT_TTLS, rfc2136.PTR_CREATION_A],
    ids=[
        *(f"TestRfc2136ApplyChangesWithDifferentTTLs/{c[0]}" for c in rfc2136.DIFFERENT_TTLS),
        "TestRfc2136PTRCreation/A",
    ],
)
def test_rfc2136_ttls(case: tuple[str, int | None, int]) -> None:
    """With external-dns's TTL options (default 0, min 300) a new record gets its TTL."""
    name, ttl, written = case
    zone = name.split(".", 1)[1]
    ep = Endpoint(name, "A", ("192.0.2.1",), ObjectRef("service", "a", "b"), ttl)
    options = PlanOptions(default_ttl=0, min_ttl=rfc2136.MIN_TTL, ownership_ttl=rfc2136.MIN_TTL)
    (change,) = plan([ep], ZoneSnapshot(zone, 1, {}), registry(), options).changes
    (new,) = change.new
    assert (new.rrset.ttl, new.txt_ttl) == (written, rfc2136.MIN_TTL)
