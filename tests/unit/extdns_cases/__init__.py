"""external-dns v0.22.0's own test cases, transcribed as data (inputs and expected outputs only).

Each case names the upstream test function it comes from (file and function in
kubernetes-sigs/external-dns at tag v0.22.0), so a reader can check it there.  No upstream
code is copied; the tests in ``tests/unit/test_extdns_oracle.py`` run every table against
dnssync.  A case dnssync answers differently on purpose carries the reason and the README's
"Differences on purpose" entry that documents it.
"""
