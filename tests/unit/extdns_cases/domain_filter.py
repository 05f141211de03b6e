"""endpoint/domain_filter_test.go: --domain-filter, --exclude-domains, --regex-domain-filter."""

from __future__ import annotations

#: domainFilterTests (used by TestDomainFilterMatch and TestDomainFilterWithExclusions):
#: (filters, exclusions, domains, whether every domain matches).
PLAIN: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool], ...] = (
    (
        ("google.com.", "exaring.de", "inovex.de"),
        (),
        ("google.com", "exaring.de", "inovex.de"),
        True,
    ),
    (
        ("google.com.", "exaring.de", "inovex.de"),
        (),
        ("google.com", "exaring.de", "inovex.de"),
        True,
    ),
    (
        ("google.com.", "exaring.de.", "inovex.de"),
        (),
        ("google.com", "exaring.de", "inovex.de"),
        True,
    ),
    (("foo.org.      ",), (), ("foo.org",), True),
    (("   foo.org",), (), ("foo.org",), True),
    (("foo.org.",), (), ("foo.org",), True),
    (("foo.org.",), (), ("baz.org",), False),
    (("baz.foo.org.",), (), ("foo.org",), False),
    (("", "foo.org."), (), ("foo.org",), True),
    (("", "foo.org."), (), (), True),
    (("",), (), ("foo.org",), True),
    (("",), (), (), True),
    ((" ",), (), (), True),
    (("bar.sub.example.org",), (), ("foo.bar.sub.example.org",), True),
    (("example.org",), (), ("anexample.org", "test.anexample.org"), False),
    ((".example.org",), (), ("anexample.org", "test.anexample.org"), False),
    ((".example.org",), (), ("example.org",), False),
    ((".example.org",), (), ("test.example.org",), True),
    (("anexample.org",), (), ("example.org", "test.example.org"), False),
    ((".org",), (), ("example.org", "test.example.org", "foo.test.example.org"), True),
    (
        ("example.org",),
        ("api.example.org",),
        ("example.org", "test.example.org", "foo.test.example.org"),
        True,
    ),
    (("example.org",), ("api.example.org",), ("foo.api.example.org", "api.example.org"), False),
    (
        ("   example.org. ",),
        ("   .api.example.org    ",),
        ("foo.api.example.org", "bar.baz.api.example.org."),
        False,
    ),
    (("æøå.org",), ("api.æøå.org",), ("foo.api.æøå.org", "api.æøå.org"), False),
    (
        ("   æøå.org. ",),
        ("   .api.æøå.org    ",),
        ("foo.api.æøå.org", "bar.baz.api.æøå.org."),
        False,
    ),
    (("example.org.",), ("api.example.org",), ("dev-api.example.org", "qa-api.example.org"), True),
    (("example.org.",), ("api.example.org",), ("dev.api.example.org", "qa.api.example.org"), False),
    (
        ("example.org", "api.example.org"),
        ("internal.api.example.org",),
        ("foo.api.example.org",),
        True,
    ),
    (
        ("example.org", "api.example.org"),
        ("internal.api.example.org",),
        ("foo.internal.api.example.org",),
        False,
    ),
    (
        ("eXaMPle.ORG", "API.example.ORG"),
        ("Foo-Bar.Example.Org",),
        ("FoOoo.Api.Example.Org",),
        True,
    ),
    (
        ("sTOnks📈.ORG", "API.xn--StonkS-u354e.ORG"),
        ("Foo-Bar.stoNks📈.Org",),
        ("FoOoo.Api.Stonks📈.Org",),
        True,
    ),
    (("eXaMPle.ORG", "API.example.ORG"), ("api.example.org",), ("foobar.Example.Org",), True),
    (("eXaMPle.ORG", "API.example.ORG"), ("api.example.org",), ("foobar.API.Example.Org",), False),
)

#: regexDomainFilterTests (TestRegexDomainFilter): (regex, exclusion regex, domains, all match).
REGEX: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("\\.org$", "", ("foo.org", "bar.org", "foo.bar.org"), True),
    ("\\.bar\\.org$", "", ("foo.org", "bar.org", "example.com"), False),
    (
        "(?:foo|bar)\\.org$",
        "",
        (
            "foo.org",
            "bar.org",
            "example.foo.org",
            "example.bar.org",
            "a.example.foo.org",
            "a.example.bar.org",
        ),
        True,
    ),
    (
        "(?:😍|🤩)\\.org$",
        "",
        (
            "😍.org",
            "xn--r28h.org",
            "🤩.org",
            "example.😍.org",
            "example.🤩.org",
            "a.example.xn--r28h.org",
            "a.example.🤩.org",
        ),
        True,
    ),
    (
        "(?:😍|🤩)\\.org$",
        "^example\\.(?:😍|🤩)\\.org$",
        ("example.😍.org", "example.🤩.org"),
        False,
    ),
    (
        "(?:foo|bar)\\.org$",
        "^example\\.(?:foo|bar)\\.org$",
        ("foo.org", "bar.org", "a.example.foo.org", "a.example.bar.org"),
        True,
    ),
    (
        "(?:foo|bar)\\.org$",
        "^example\\.(?:foo|bar)\\.org$",
        ("example.foo.org", "example.bar.org"),
        False,
    ),
    (
        "(?:foo|bar)\\.org$",
        "^example\\.(?:foo|bar)\\.org$",
        ("foo.org", "bar.org", "a.example.foo.org", "a.example.bar.org"),
        True,
    ),
    ("foo\\.org$", "^temp\\.", ("bar.org", "example.com", "test.net"), False),
    ("\\.prod\\.example\\.com$", "^temp-", ("api.prod.example.com", "web.prod.example.com"), True),
    (
        "\\.prod\\.example\\.com$",
        "^temp-",
        ("temp-api.prod.example.com", "temp-web.prod.example.com"),
        False,
    ),
    (
        "\\.staging\\.example\\.com$",
        "^internal-",
        ("api.prod.example.com", "web.dev.example.com", "service.test.org"),
        False,
    ),
)
