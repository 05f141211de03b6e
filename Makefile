# The README's two commands: `make demo` and `make test`.
# Everything Python goes into a project venv (.venv/), so any Python >= 3.11 works,
# Debian's own (PEP 668 "externally managed") included.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES = bind9 bind9-utils bind9-dnsutils knot knot-dnsutils pdns-server \
               pdns-backend-sqlite3 sqlite3 faketime \
               python3-venv util-linux \
               prometheus buildah mmdebstrap \
               krb5-kdc krb5-admin-server libkrb5-dev

.PHONY: deps deps-apt deps-py peers lint types contracts unit test demo bench fuzz image mutation

deps: deps-apt deps-py

deps-apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(PY):
	$(PYTHON) -m venv $(VENV)

deps-py: $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'

lint:
	$(PY) -m ruff check dnssync tests bench tools
	$(PY) -m ruff format --check dnssync tests bench tools

types:
	$(PY) -m mypy

contracts:
	$(VENV)/bin/lint-imports

# Real peers (Go programs from the module proxy) for the interop tier, cached outside the repository.
peers: deps
	$(PY) -m tests.peers

test: deps peers lint types contracts
	$(PY) -m pytest -q

demo: deps
	$(PY) -m dnssync demo

bench: deps
	$(PY) bench/run_all.py

# Coverage-guided fuzzing of every decoder of outside bytes (atheris, from PyPI); RUNS inputs.
RUNS ?= 1000000
fuzz: deps-py
	$(PY) -m pip install -q --disable-pip-version-check atheris
	$(PY) -m bench.fuzz_decoders -runs=$(RUNS)

# The container image from the Dockerfile, daemonless (buildah), on a base built from Debian.
image: deps
	$(PY) -m tools.image

# Mutation testing (mutmut 3) over the security-critical code: TSIG, the transfer
# verifier, ownership checks, the ACME name/value checks, front-proxy auth and
# redaction (the list is [tool.mutmut] in pyproject.toml).  Long: narrow it with
# MUTANTS='dnssync.dns.tsig*' (mutant name globs); `mutmut results` lists survivors.
# MODULE=dnssync/plan.py runs one module with its own tests only (tools/mutation.py;
# MUTATION_ARGS='--only owns --workers 2' narrows further), niced: minutes, not hours.
mutation: deps
	$(PY) -m pip install -q --disable-pip-version-check 'mutmut>=3.8,<4'
ifdef MODULE
	nice -n 10 $(PY) -m tools.mutation $(MODULE) $(MUTATION_ARGS)
else
	$(VENV)/bin/mutmut run $(MUTANTS)
	$(VENV)/bin/mutmut results
endif
