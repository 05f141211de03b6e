"""mutmut over one module with only the tests that guard it (``make mutation MODULE=…``).

pyproject's ``[tool.mutmut]`` holds the whole run: every security-critical
module and the union of their tests.  mutmut runs, for each mutant, the tests
that reached the mutated function in its stats run, so with the union a mutant
of ``config.load`` would start BIND for every integration test that loads a
config.  Here the list of modules to mutate is narrowed to one and the test
selection to that module's own fast tests (``SELECTIONS``, or the tests given
on the command line), so one module's run takes minutes on a shared machine.

    python -m tools.mutation dnssync/plan.py                   # its tests from SELECTIONS
    python -m tools.mutation dnssync/plan.py tests/unit/test_plan.py --workers 1
    python -m tools.mutation dnssync/acme/webhook.py --only _authenticate --only '*FileAuth*'

``--only`` narrows the run to the mutants of the functions matching a glob
(mutmut's names: ``x_parse`` for a function, ``xǁClassǁmethod`` for a method;
a glob also matches the names it starts: ``reload`` takes ``_reload_loop`` too).

Every mutant of the module is run again (cached verdicts would hide a new
test's kills), then the counts and the survivors are printed.  mutmut is
imported at run time: it is installed by ``make mutation``, not by ``make deps``.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import importlib
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SELECTIONS: dict[str, tuple[str, ...]] = {
    "dnssync/dns/tsig.py": (
        "tests/unit/dns",
        "tests/integration/test_transfer_signing.py",
    ),
    # The hostile-bytes properties (test_hostile.py, thousands of inputs) are
    # left out: run under each of 400 mutants they take hours on a shared machine.
    "dnssync/dns/wire.py": (
        "tests/unit/dns/test_wire.py",
        "tests/unit/dns/test_wire_edges.py",
        "tests/unit/dns/test_tsig.py",
        "tests/unit/dns/test_tsig_edges.py",
        "tests/unit/dns/test_updates.py",
    ),
    # The transfer verifier (``--only 'ǁ_transfer' --only _verify_transfer`` …).
    "dnssync/dns/client.py": (
        "tests/unit/dns",
        "tests/integration/test_transfer_signing.py",
        "tests/integration/test_transfer_verifier.py",
    ),
    "dnssync/yamlnodes.py": (
        "tests/unit/test_config.py",
        "tests/unit/test_config_redaction.py",
        "tests/unit/test_manifests.py",
    ),
    "dnssync/registry.py": (
        "tests/unit/test_registry.py",
        "tests/unit/test_registry_edges.py",
        "tests/unit/test_plan.py",
        "tests/unit/test_plan_apex.py",
        "tests/unit/test_extdns_oracle.py",
    ),
    # The ownership checks: 306 of 318 mutants killed, the 12 left equivalent
    # (tests/unit/test_plan_edges.py names each, with the run).
    "dnssync/plan.py": (
        "tests/unit/test_plan_edges.py",
        "tests/unit/test_plan.py",
        "tests/unit/test_plan_table.py",
        "tests/unit/test_plan_apex.py",
        "tests/unit/test_migration.py",
        "tests/unit/test_registry.py",
        "tests/unit/test_extdns_oracle.py",
        "tests/unit/test_domainfilter.py",
    ),
    # The ACME name and value checks: 253 of 259 killed, the 6 left equivalent
    # (tests/unit/acme/test_records_edges.py names each).
    "dnssync/acme/records.py": ("tests/unit/acme",),
    "dnssync/acme/payload.py": ("tests/unit/acme",),
    "dnssync/acme/webhook.py": (
        "tests/unit/acme/test_webhook_auth.py",
        "tests/integration/acme/test_webhook.py",
    ),
    "dnssync/config.py": (
        "tests/unit/test_config.py",
        "tests/unit/acme/test_config.py",
        "tests/unit/test_config_examples.py",
        "tests/unit/test_config_redaction.py",
    ),
}


def _mutmut(name: str) -> Any:
    return importlib.import_module(name)


def _summary(module: str, patterns: Sequence[str]) -> tuple[Counter[str], list[str]]:
    status_by_exit_code = _mutmut("mutmut.stats").status_by_exit_code
    meta = json.loads(Path("mutants", module + ".meta").read_text())
    counts: Counter[str] = Counter()
    survivors = []
    for name, code in sorted(meta["exit_code_by_key"].items()):
        if not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            continue
        status = status_by_exit_code[code]
        counts[status] += 1
        if status != "killed":
            survivors.append(f"{name}: {status}")
    return counts, survivors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", help="a file of the package, e.g. dnssync/plan.py")
    parser.add_argument("tests", nargs="*", help="the test selection (default: SELECTIONS)")
    parser.add_argument("--workers", type=int, default=1, help="mutmut's --max-children")
    parser.add_argument("--only", action="append", default=[], help="function name glob")
    args = parser.parse_args(argv)
    tests = list(args.tests) or list(SELECTIONS.get(args.module, ()))
    if not tests:
        parser.error(f"no tests known for {args.module}: name them after it")
    configuration = _mutmut("mutmut.configuration")
    configuration._config = dataclasses.replace(
        configuration.config(),
        only_mutate=[args.module],
        pytest_add_cli_args_test_selection=tests,
    )
    dotted = args.module.removesuffix(".py").replace("/", ".")
    # One glob matches the function (its tests) and its mutants (``…__mutmut_N``).
    patterns = [f"{dotted}.*{p}*" for p in args.only] or [f"{dotted}.*"]
    # mutmut takes a module that an earlier run (of another module) copied
    # unmutated for already done, and mutates nothing: drop that copy.
    for stale in (Path("mutants", args.module), Path("mutants", args.module + ".meta")):
        stale.unlink(missing_ok=True)
    # A SystemExit from mutmut (a failing clean run) ends here with its code.
    _mutmut("mutmut.__main__")._run(patterns, args.workers)
    counts, survivors = _summary(args.module, patterns)
    total = sum(counts.values())
    killed = counts["killed"]
    print(f"\n{args.module}: {killed} of {total} killed ({100 * killed / total:.0f} %)")
    print(f"tests: {' '.join(tests)}")
    if args.only:
        print(f"functions: {' '.join(args.only)}")
    print("\n".join(survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
