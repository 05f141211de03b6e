"""Coverage-guided fuzzing (atheris/libFuzzer) of every decoder of outside bytes.

The hypothesis tests in tests/unit/dns/test_hostile.py run in the suite; this is
the longer campaign.  Each input goes through `tests.hostile.decode_all` (DNS wire
parser, transfer assembler, TSIG verifier, dnspython's parser) and the webhook's body
decoder; an exception other than the translated ones is counted, printed once per kind,
and makes the run exit 1.  Seeds are real answers (AXFR, SOA, query).

Run: ``make fuzz`` or ``python -m bench.fuzz_decoders [-runs=N] [libFuzzer flags]``.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from dnssync.acme import payload
    from dnssync.dns import tsig, wire  # noqa: F401  (instrumented for coverage)
    from dnssync.errors import InvalidInput
    from tests.hostile import SEEDS, decode_all

TRIED = 0
FOREIGN: Counter[str] = Counter()
TRACES: dict[str, str] = {}  # the first traceback of each kind, for the parent to print
STATUS: Path | None = None  # the child's counters, read by the parent at the end


def one_input(data: bytes) -> None:
    global TRIED
    TRIED += 1
    try:
        decode_all(data)
        with contextlib.suppress(InvalidInput):
            payload.decode(data)
    except Exception as e:
        kind = type(e).__name__
        if not FOREIGN[kind]:
            TRACES[kind] = traceback.format_exc()
        FOREIGN[kind] += 1
        _save()
    if TRIED % 1000 == 0:
        _save()


def _save() -> None:
    assert STATUS is not None
    STATUS.write_text(json.dumps({"tried": TRIED, "foreign": FOREIGN, "traces": TRACES}))


def _child(status: str, flags: list[str]) -> None:
    global STATUS
    STATUS = Path(status)
    corpus = Path(tempfile.mkdtemp(prefix="dnssync-fuzz-"))
    for i, seed in enumerate(SEEDS):
        (corpus / f"seed{i}").write_bytes(seed)
    atheris.Setup([sys.argv[0], *flags, str(corpus)], one_input)
    atheris.Fuzz()  # libFuzzer exits the process when done


def main() -> int:
    """Run the campaign in a child (libFuzzer exits its process), then report."""
    flags = sys.argv[1:]
    if not any(a.startswith("-runs=") for a in flags):
        flags.append("-runs=300000")
    with tempfile.NamedTemporaryFile(suffix=".json") as status:
        argv = [sys.executable, "-m", "bench.fuzz_decoders", "--child", status.name, *flags]
        done = subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
        )
        runs = re.findall(r"Done (\d+) runs in (\d+) second", done.stderr)
        counts = json.loads(Path(status.name).read_text() or "{}")
    foreign = counts.get("foreign", {})
    tried = int(runs[-1][0]) if runs else counts.get("tried", 0)
    seconds = runs[-1][1] if runs else "?"
    print(
        f"fuzz: {tried} inputs tried in {seconds} s, "
        f"{sum(foreign.values())} foreign exceptions {foreign or ''}".rstrip()
    )
    for trace in counts.get("traces", {}).values():
        print(trace, file=sys.stderr)  # libFuzzer's own output drowns them in its stderr
    if done.returncode != 0 or foreign:
        print(done.stderr[-4000:], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(main())
