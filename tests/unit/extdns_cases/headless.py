"""source/service_test.go TestHeadlessServices: a headless Service's records from its pods.

A case: the pods as (name, IP, spec.hostname, ready), publishNotReadyAddresses, the pods'
``target`` annotation ("" for none), and the records external-dns publishes, name -> (type,
targets).  The Service is ``service.example.org`` in namespace ``testing``, selecting
``component: foo``; one EndpointSlice lists every pod (as the upstream test builds it).
"""

from __future__ import annotations

from typing import NamedTuple

Pod = tuple[str, str, str, bool]
_T = "TestHeadlessServices"
S = "service.example.org"


class HeadlessCase(NamedTuple):
    upstream: str
    pods: tuple[Pod, ...]
    publish_not_ready: bool
    pod_target: str
    records: dict[str, tuple[str, tuple[str, ...]]]


CASES: tuple[HeadlessCase, ...] = (
    HeadlessCase(
        f"{_T}/annotated Headless services return IPv4 endpoints for each selected Pod",
        (("foo-0", "1.1.1.1", "foo-0", True), ("foo-1", "1.1.1.2", "foo-1", True)),
        False,
        "",
        {
            f"foo-0.{S}": ("A", ("1.1.1.1",)),
            f"foo-1.{S}": ("A", ("1.1.1.2",)),
            S: ("A", ("1.1.1.1", "1.1.1.2")),
        },
    ),
    HeadlessCase(
        f"{_T}/annotated Headless services return IPv6 endpoints for each selected Pod",
        (("foo-0", "2001:db8::1", "foo-0", True), ("foo-1", "2001:db8::2", "foo-1", True)),
        False,
        "",
        {
            f"foo-0.{S}": ("AAAA", ("2001:db8::1",)),
            f"foo-1.{S}": ("AAAA", ("2001:db8::2",)),
            S: ("AAAA", ("2001:db8::1", "2001:db8::2")),
        },
    ),
    HeadlessCase(
        f"{_T}/annotated Headless services return endpoints for each selected Pod, which are in "
        "running state",
        (("foo-0", "1.1.1.1", "foo-0", True), ("foo-1", "1.1.1.2", "foo-1", False)),
        False,
        "",
        {f"foo-0.{S}": ("A", ("1.1.1.1",)), S: ("A", ("1.1.1.1",))},
    ),
    HeadlessCase(
        f"{_T}/annotated Headless services return endpoints for all Pod if "
        "publishNotReadyAddresses is set",
        (("foo-0", "1.1.1.1", "foo-0", True), ("foo-1", "1.1.1.2", "foo-1", False)),
        True,
        "",
        {
            f"foo-0.{S}": ("A", ("1.1.1.1",)),
            f"foo-1.{S}": ("A", ("1.1.1.2",)),
            S: ("A", ("1.1.1.1", "1.1.1.2")),
        },
    ),
    HeadlessCase(
        f"{_T}/annotated Headless services return endpoints for pods missing hostname",
        (("foo-0", "1.1.1.1", "", True), ("foo-1", "1.1.1.2", "", True)),
        False,
        "",
        {S: ("A", ("1.1.1.1", "1.1.1.2"))},
    ),
    HeadlessCase(
        f"{_T}/annotated Headless services return only a unique set of IPv4 targets",
        (
            ("foo-0", "1.1.1.1", "", True),
            ("foo-1", "1.1.1.1", "", True),
            ("foo-3", "1.1.1.2", "", True),
        ),
        False,
        "",
        {S: ("A", ("1.1.1.1", "1.1.1.2"))},
    ),
    HeadlessCase(
        f"{_T}/annotated Headless services return IPv4 targets from pod annotation",
        (("foo", "1.1.1.1", "", True),),
        False,
        "1.2.3.4",
        {S: ("A", ("1.2.3.4",))},
    ),
)
