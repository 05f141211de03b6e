"""endpoint/labels_test.go and endpoint/crypto_test.go: the registry value, plain and encrypted."""

from __future__ import annotations

#: LabelsSuite.SetupTest's AES key (32 bytes of text).
AES_KEY = b")K_Fy|?Z.64#UuHm`}[d!GC%WJM_fs{_"
FOO = {"owner": "foo-owner", "resource": "foo-resource"}
FOO_TEXT = "heritage=external-dns,external-dns/owner=foo-owner,external-dns/resource=foo-resource"
FOO_ENCRYPTED = (
    "+lvP8q9KHJ6BS6O81i2Q6DLNdf2JSKy8j/gbZKviTZlGYj7q+yDoYMgkQ1hPn6urtGllM5bfFMcaaHto52otQ"
    "tiOYrX8990J3kQqg4s47m3bH3Ejl8RSxSSuWJM3HJtPghQzYg0/LSOsdQ0="
)
BAR = {"owner": "bar-owner", "resource": "bar-resource", "new-key": "bar-new-key"}
BAR_TEXT = (
    "heritage=external-dns,,external-dns/owner=bar-owner,external-dns/resource=bar-resource,"
    "external-dns/new-key=bar-new-key,random=stuff,no-equal-sign,,"
)
BAR_ENCRYPTED = (
    "yi6vVATlgYN0enXBIupVK2atNUKtajofWMroWtvZjUanFZXlWvqjJPpjmMd91kv86bZj+syQEP0uR3TK6eFVV7oK"
    "Fh/NxYyh238FjZ+25zlXW9TgbLoMalUNOkhKFdfXkLeeaqJjePB59t+kQBYX+ZEryK652asPs6M+xTIvtg07N7WW"
    "Z6SjJujm0RRISg=="
)

#: (upstream, text, labels or None for "not a registry value")
PARSE: tuple[tuple[str, str, dict[str, str] | None], ...] = (
    ("LabelsSuite.TestDeserialize/fooAsText", FOO_TEXT, FOO),
    ("LabelsSuite.TestDeserialize/fooAsTextWithQuotes", f'"{FOO_TEXT}"', FOO),
    ("LabelsSuite.TestDeserialize/barText", BAR_TEXT, BAR),
    ("LabelsSuite.TestDeserialize/noHeritageText", "external-dns/owner=random-owner", None),
    (
        "LabelsSuite.TestDeserialize/wrongHeritageText",
        "heritage=mate,external-dns/owner=random-owner",
        None,
    ),
    (
        "LabelsSuite.TestDeserialize/multipleHeritageText",
        "heritage=mate,heritage=external-dns,external-dns/owner=random-owner",
        None,
    ),
    (
        "TestParseLabels/parses regular owner value",
        "heritage=external-dns,external-dns/owner=team-platform,"
        "external-dns/resource=ingress/default/example",
        {"owner": "team-platform", "resource": "ingress/default/example"},
    ),
    (
        "TestParseLabels/preserves equals in owner value",
        "heritage=external-dns,external-dns/owner=team=platform,"
        "external-dns/resource=ingress/default/example",
        {"owner": "team=platform", "resource": "ingress/default/example"},
    ),
)

#: (upstream, stored text, labels) read with AES_KEY.
DECRYPT: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("LabelsSuite.TestDeserialize/fooAsTextEncrypted", FOO_ENCRYPTED, FOO),
    ("LabelsSuite.TestDeserialize/fooAsTextWithQuotesEncrypted", f'"{FOO_ENCRYPTED}"', FOO),
    # A plain value read with a key set: not decryptable, so read as plain text.
    ("LabelsSuite.TestDeserialize/barText with key", BAR_TEXT, BAR),
)

#: (upstream, labels, serialised) -- SerializePlain(false).
SERIALIZE: tuple[tuple[str, dict[str, str], str], ...] = (
    ("LabelsSuite.TestSerialize", FOO, FOO_TEXT),
)

#: crypto_test.go TestEncrypt: a known ciphertext and its plaintext under CRYPTO_KEY.
CRYPTO_KEY = b"s%zF`.*'5`9.AhI2!B,.~hmbs^.*TL?;"
CRYPTO_WRONG_KEY = b"s'J!jD`].LC?g&Oa11AgTub,j48ts/96"
CRYPTO_PLAIN = (
    "Lorem Ipsum is simply dummy text of the printing and typesetting industry. Lorem Ipsum has "
    "been the industry's standard dummy text ever since the 1500s, when an unknown printer took "
    "a galley of type and scrambled it to make a type specimen book. It has survived not only "
    "five centuries, but also the leap into electronic typesetting, remaining essentially "
    "unchanged. It was popularised in the 1960s with the release of Letraset sheets containing "
    "Lorem Ipsum passages, and more recently with desktop publishing software like Aldus "
    "PageMaker including versions of Lorem Ipsum."
)
CRYPTO_CIPHERTEXT = (
    "0Mfzf6wsN8llrfX0ucDZ6nlc2+QiQfKKedjPPLu5atb2I35L9nUZeJcCnuLVW7CVW3K0h94vSuBLdXnMrj8Vcm0M"
    "09shxaoF48IcCpD03XtQbKXqk2hPbsW6+JybvplHIQGr16/PcjUSObGmR9yjf38+qEltApkKvrPjsyw43BX4eE10"
    "rL0Bln33UJD7/w+zazRDPFlAcbGtkt0ETKHnvyB3/aCddLipvrhjCXj2ZY/ktRF6h716kJRgXU10dCIQHFYU45MI"
    "dxI+k10HK3yZqhI2V0Gp2xjrFV/LRQ7/OS9SFee4asPWUYxbCEsnOzp8qc0dCPFSo1dtADzWnUZnsAcbnjtudT4m"
    "ilfLJc5CxDk1v3ykqQ/ajejwHjWQ7b8U6AsTErbezfdcqrb5IzkLgHb5TosnfrdDmNc9GcKfpsrCHbVY8KgNwMVd"
    "twavLv7d9WM6sooUlZ3t0sABGkzagXQmPRvwLnkSOlie5XrnzWo8/8/4UByLga29CaXO"
)
