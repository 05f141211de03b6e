"""Command line: ``dnssync plan|sync|run|check|acme|webhook|demo``.

Exit codes are listed per command in :data:`EXIT_CODES` (shown by each
``--help`` and in the README); the constants below are the only place they
are defined.  ``plan`` keeps 2 for "changes pending" (for CI checks on a
GitOps repository), so its usage and configuration errors exit 64
(sysexits' EX_USAGE) instead.  No traceback reaches a user: every error is
one line on stderr.  Heavy imports are deferred to the command that needs
them: a one-shot sync is dominated by start-up otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnssync.errors import ConfigError, DnssyncError, InvalidInput

if TYPE_CHECKING:
    from rich.console import Console

    from dnssync.config import Config
    from dnssync.controller import Target, TargetResult
    from dnssync.model import Change, Endpoint, RRset

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # invalid configuration or usage (every command but plan)
EXIT_PENDING = 2  # plan: changes pending
EXIT_REFUSED = 3  # plan, sync --once: the safety gate refused a zone's plan
EXIT_PLAN_USAGE = 64  # plan: invalid configuration or usage (2 is taken there)
ROWS = 50  # changes listed by default; a 10,000-row table helps nobody

_SERVICE_CODES = {
    EXIT_OK: "stopped by SIGTERM/SIGINT",
    EXIT_FAILED: "a permanent failure (port in use, Kubernetes API lost for good, ...)",
    EXIT_USAGE: "invalid configuration or usage",
}
#: command -> (one-line description, {exit code: meaning}).
EXIT_CODES: dict[str, tuple[str, dict[int, str]]] = {
    "plan": (
        "Show what a sync would change, as a table; write nothing.",
        {
            EXIT_OK: "every zone in step",
            EXIT_FAILED: "an error (DNS, bad input; skipped names with --strict)",
            EXIT_PENDING: "changes pending",
            EXIT_REFUSED: "the safety gate refused a plan (--force plans past it)",
            EXIT_PLAN_USAGE: "invalid configuration or usage",
        },
    ),
    "sync": (
        "Apply the changes once, then exit.",
        {
            EXIT_OK: "done",
            EXIT_FAILED: "errors, rejected changes or bad input (skipped names with --strict)",
            EXIT_USAGE: "invalid configuration or usage",
            EXIT_REFUSED: "the safety gate refused a plan (--force applies it)",
        },
    ),
    "run": ("Run the service: watch, reconcile, serve /healthz /readyz /metrics.", _SERVICE_CODES),
    "check": (
        "Validate the config and probe every zone: SOA, signed AXFR, a no-op UPDATE.",
        {
            EXIT_OK: "every probe passed",
            EXIT_FAILED: "a probe failed",
            EXIT_USAGE: "invalid configuration or usage",
        },
    ),
    "acme": (
        "ACME DNS-01 hooks for certbot (manual hooks) and lego (exec).",
        {EXIT_OK: "done", EXIT_FAILED: "failed", EXIT_USAGE: "bad usage or invalid configuration"},
    ),
    "webhook": ("Only the ACME side: cert-manager webhook and Challenge watcher.", _SERVICE_CODES),
    "demo": (
        "Start a local BIND9, sync the example manifests into it, show the zone.",
        {
            EXIT_OK: "done",
            EXIT_FAILED: "failed (BIND9 missing or not starting: named's reason)",
            EXIT_USAGE: "bad usage",
        },
    ),
}


def _epilog(command: str) -> str:
    codes = EXIT_CODES[command][1]
    return "exit codes:\n" + "\n".join(
        f"  {code:<3} {text}" for code, text in sorted(codes.items())
    )


def _add(sub: Any, command: str, **kw: Any) -> argparse.ArgumentParser:
    description, _ = EXIT_CODES[command]
    parser: argparse.ArgumentParser = sub.add_parser(
        command,
        help=description.rstrip("."),
        description=description,
        epilog=_epilog(command),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kw,
    )
    return parser


def _config_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "-c",
        "--config",
        type=Path,
        default=Path(os.environ["DNSSYNC_CONFIG"]) if "DNSSYNC_CONFIG" in os.environ else None,
        help="YAML configuration file (default: $DNSSYNC_CONFIG)",
    )
    sp.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _sync_options(sp: argparse.ArgumentParser) -> None:
    _config_option(sp)
    sp.add_argument("--manifests", type=Path, help="directory of Service/Ingress YAML")
    sp.add_argument("--target", action="append", help="only this target (repeatable)")


def _state_options(sp: argparse.ArgumentParser) -> None:
    state = sp.add_mutually_exclusive_group()
    state.add_argument(
        "--state-dir",
        type=Path,
        help="keep zone snapshots and converted manifests here between runs "
        "(default: state_dir, else $XDG_STATE_HOME/dnssync or ~/.local/state/dnssync)",
    )
    state.add_argument(
        "--no-state", action="store_true", help="read every zone and manifest afresh"
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dnssync",
        description="Keep DNS in step with Kubernetes over TSIG-signed RFC 2136.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for command, verb in (("plan", "plan past"), ("sync", "apply past")):
        sp = _add(sub, command)
        _sync_options(sp)
        _state_options(sp)
        if command == "sync":
            sp.add_argument(
                "--once", action="store_true", required=True, help="one pass, then exit"
            )
        sp.add_argument("--all", action="store_true", help="list every change (default: first 50)")
        sp.add_argument("--force", action="store_true", help=f"{verb} the safety gate")
        sp.add_argument(
            "--strict",
            action="store_true",
            help="exit 1 when names are skipped (outside every zone, ownership name too long)",
        )
    _sync_options(_add(sub, "run"))
    sp = _add(sub, "check")
    _config_option(sp)
    sp.add_argument("--target", action="append", help="only this target (repeatable)")
    sp = _add(sub, "demo")
    sp.add_argument("--keep", action="store_true", help="leave BIND9 running afterwards")
    _acme_parsers(sub)
    return p


def _acme_parsers(sub: Any) -> None:
    """``acme present|cleanup`` (certbot / lego hooks) and ``webhook``."""
    sp = _add(sub, "acme")
    actions = sp.add_subparsers(dest="acme_action", required=True)
    for action, verb in (("present", "Add"), ("cleanup", "Remove")):
        ap = actions.add_parser(
            action,
            help=f"{verb.lower()} one TXT value",
            description=(
                f"{verb} one TXT value. No arguments: certbot (CERTBOT_DOMAIN, "
                "CERTBOT_VALIDATION); '<fqdn> <value>': lego exec; "
                "'-- <domain> <token> <keyAuth>': lego exec RAW mode. "
                "Options go before the arguments."
            ),
            epilog=_epilog("acme"),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _config_option(ap)
        # REMAINDER: a base64url value may start with '-' and must not be
        # taken for an option.
        ap.add_argument(
            "args",
            nargs=argparse.REMAINDER,
            help="<fqdn> <value> | -- <domain> <token> <keyAuth>",
        )
        if action == "present":
            ap.add_argument(
                "--wait",
                action=argparse.BooleanOptionalAction,
                default=None,
                help="wait until every authoritative server serves it (default: acme.verify)",
            )
    _config_option(_add(sub, "webhook"))


def _command_of(argv: Sequence[str]) -> str:
    return next((a for a in argv if not a.startswith("-")), "")


def main(argv: Sequence[str] | None = None) -> int:
    # Before its first model pydantic looks for plugins in the entry points of
    # every installed distribution (a cost that grows with the environment:
    # ~1 % of a hook here, more beside a distribution's hundreds of packages).
    # dnssync uses none, and a plugin would see the configuration, secrets
    # included, as it is validated; an operator's own setting is kept.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        if e.code == EXIT_USAGE and _command_of(argv) == "plan":
            return EXIT_PLAN_USAGE
        raise
    level = logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _dispatch(args)
    except ConfigError as e:
        print(f"dnssync: configuration error: {e}", file=sys.stderr)
        return EXIT_PLAN_USAGE if args.command == "plan" else EXIT_USAGE
    except DnssyncError as e:
        print(f"dnssync: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug: still one line for the user, the trace under -v
        logging.getLogger("dnssync").debug("internal error", exc_info=True)
        print(f"dnssync: internal error: {type(e).__name__}: {e} (-v shows where)", file=sys.stderr)
        return EXIT_FAILED


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from dnssync.demo import run_demo

        return run_demo(keep=args.keep)
    if args.command == "acme":
        return _acme(args)
    if args.command == "webhook":
        return _webhook(args)
    if args.command == "run":
        return _run(args)
    if args.command == "check":
        return asyncio.run(_check(args))
    return asyncio.run(_one_shot(args))


def _run(args: argparse.Namespace) -> int:
    from dnssync.app import run
    from dnssync.logs import setup

    cfg = _load(args, need_manifests=False)
    _check_service_config(cfg)
    setup(cfg.log.level if not args.verbose else "debug", json_format=cfg.log.format == "json")
    try:
        return run(cfg)
    except ExceptionGroup as group:
        return _service_failed(group)


def _check_service_config(cfg: Config) -> None:
    """What only a long-running service needs of the config (hooks need less)."""
    if cfg.acme is not None:
        cfg.acme.check_runnable()


def _service_failed(group: BaseExceptionGroup[Exception]) -> int:
    """A task of the service failed for good: one log line per cause, then stop.

    Logging is set up by then (stderr, text or JSON), so the cause is logged,
    not printed a second time.
    """
    found, rest = group.split((DnssyncError, OSError))
    if rest is not None or found is None:
        raise group
    for e in _leaves(found):
        text = (e.strerror or str(e)) if isinstance(e, OSError) else str(e)
        logging.getLogger("dnssync").error("stopping: %s", text)
    return EXIT_FAILED


def _leaves(group: BaseExceptionGroup[Exception]) -> list[BaseException]:
    out: list[BaseException] = []
    for e in group.exceptions:
        out.extend(_leaves(e) if isinstance(e, BaseExceptionGroup) else [e])
    return out


async def _check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from dnssync.checks import probe_acme, probe_target

    cfg = _load(args, need_manifests=False)
    table = Table(title="dnssync check", title_justify="left")
    for col in ("target", "zone", "check", "result"):
        table.add_column(col, overflow="fold")
    ok = True
    rows = [(t.name, r) for t in cfg.targets for r in await probe_target(t)]
    if cfg.acme is not None:
        rows += [(f"acme {name}", r) for name, r in await probe_acme(cfg.acme)]
    for name, (zone, check, passed, detail) in rows:
        ok = ok and passed
        mark = "[green]ok[/]" if passed else "[red]failed[/]"
        table.add_row(name, zone, check, f"{mark} {detail}")
    Console().print(table)
    return EXIT_OK if ok else EXIT_FAILED


def _config(args: argparse.Namespace) -> Config:
    from dnssync.config import load

    if args.config is None:
        raise ConfigError("no configuration: pass --config FILE or set DNSSYNC_CONFIG")
    return load(args.config)


def _load(args: argparse.Namespace, *, need_manifests: bool = True) -> Config:
    return _select(_config(args), args, need_manifests=need_manifests)


def _select(cfg: Config, args: argparse.Namespace, *, need_manifests: bool) -> Config:
    """The config with the command line's --manifests and --target applied."""
    if getattr(args, "manifests", None) is not None:
        cfg = cfg.model_copy(update={"manifests": args.manifests})
    if args.target:
        unknown = sorted(set(args.target) - {t.name for t in cfg.targets})
        if unknown:
            raise ConfigError(f"--target: no target named {', '.join(unknown)}")
        cfg = cfg.model_copy(
            update={"targets": tuple(t for t in cfg.targets if t.name in args.target)}
        )
    if need_manifests and cfg.manifests is None:
        raise ConfigError("no manifests directory: set 'manifests' or pass --manifests")
    return cfg


async def _one_shot(args: argparse.Namespace) -> int:
    from rich.console import Console

    from dnssync.controller import Target
    from dnssync.dns.zones import SnapshotStore

    full = _config(args)
    # Without a manifests directory the cluster is listed once (no watch).
    cfg = _select(full, args, need_manifests=False)
    # Zones of every configured target: a record outside this target's zones
    # but inside another's belongs there, it is not skipped.
    owner_of = {z: t.name for t in full.targets for z in t.zones}
    apply = args.command == "sync"
    out = Console(soft_wrap=False)
    err = Console(stderr=True)
    results: list[TargetResult] = []
    input_errors = 0
    state = _state_dir(cfg, args)
    store = SnapshotStore(state) if state is not None else None
    targets = [Target(tcfg, store=store) for tcfg in cfg.targets]
    listed = None
    if cfg.manifests is None:  # the cluster, listed once (the service's libraries)
        from dnssync.app import desired

        listed = await desired(cfg, targets)
    for target in targets:
        if listed is not None:
            wanted = listed[target.name]
            result, errors = await _one_target(target, wanted.endpoints, wanted.errors, args, err)
            await _persist(target)
        else:
            assert cfg.manifests is not None
            result, errors = await _from_manifests(target, cfg.manifests, args, state, err)
        results.append(result)
        input_errors += errors
        _report(out, result, applied=apply, limit=None if args.all else ROWS, owner_of=owner_of)
    nowhere = _report_nowhere(out, results, owner_of)
    summary = _summary(results, nowhere, applied=apply, input_errors=input_errors)
    out.print(summary.text, highlight=False)
    # Bad input fails the run (after the valid rest was handled), so CI on a
    # GitOps repository catches it.
    if summary.failed or (args.strict and summary.skipped):
        return EXIT_FAILED
    if summary.refused:
        return EXIT_REFUSED
    if not apply and summary.pending:
        return EXIT_PENDING
    return EXIT_OK


async def _from_manifests(
    target: Target, manifests: Path, args: argparse.Namespace, state: Path | None, err: Console
) -> tuple[TargetResult, int]:
    """One target's pass from the manifests directory: its result and input errors.

    With a state directory, a target whose inputs and zone serials are as in
    a quiet earlier run costs one SOA query per zone (see :mod:`dnssync.oneshot`),
    and unchanged manifests are not parsed again.
    """
    from dnssync.oneshot import IdleMarks, fingerprint
    from dnssync.sources.manifestcache import ManifestCache
    from dnssync.sources.manifests import load_manifests

    if state is None:
        loaded = load_manifests(manifests, target.source_options)
        # Nothing to keep for a later run: no state directory.
        return await _one_target(target, loaded.endpoints, loaded.errors, args, err)
    marks = IdleMarks(state)
    mark = fingerprint(target.cfg, manifests)
    idle = await marks.replay(target, mark)
    if idle is not None:
        return idle, 0
    # Not held past the load: its texts are garbage once saved.
    cache = ManifestCache(state, manifests, target.source_options)
    loaded = load_manifests(manifests, target.source_options, cache=cache)
    del cache
    result, errors = await _one_target(target, loaded.endpoints, loaded.errors, args, err)
    del loaded  # the endpoints go before the zones are read back and stored
    await _persist(target)
    marks.remember(target, mark, result, complete=not errors)
    return result, errors


async def _one_target(
    target: Target,
    endpoints: Iterable[Endpoint],
    problems: Sequence[InvalidInput],
    args: argparse.Namespace,
    err: Console,
) -> tuple[TargetResult, int]:
    """Plan (and with ``sync``, apply) one target; its result and input errors."""
    kinds = target.cfg.source_refs  # ObjectRef kinds (httproute), not --source names
    eps = [e for e in endpoints if e.source.kind in kinds]
    for problem in problems:
        err.print(f"[yellow]input:[/] {problem}", markup=True, highlight=False)
    apply = args.command == "sync"
    result = await _reconcile(
        target,
        eps,
        apply=apply,
        force=args.force,
        complete=not any(p.partial for p in problems),
        console=err,
    )
    return result, len(problems)


async def _persist(target: Target) -> None:
    """Keep what the target's zones hold now for the next run (state directory only)."""
    for reader in target.readers.values():
        await reader.persist()


def _state_dir(cfg: Config, args: argparse.Namespace) -> Path | None:
    """Where snapshots and converted manifests outlive this run, if anywhere."""
    return None if args.no_state else args.state_dir or cfg.state_dir


class _Summary:
    """The counts that decide the exit code, and the line that states them."""

    def __init__(self) -> None:
        self.failed = False
        self.refused = 0
        self.pending = 0
        self.applied = 0
        self.skipped = 0
        self.conflicts = 0
        self.text = ""


def _summary(
    results: list[TargetResult], nowhere: int, *, applied: bool, input_errors: int
) -> _Summary:
    s = _Summary()
    s.failed = input_errors > 0 or any(not r.ok for r in results)
    s.skipped = nowhere
    for r in results:
        for zr in r.zones:
            if zr.plan is None:
                continue
            s.refused += bool(zr.plan.refused)
            s.skipped += len(zr.plan.skipped)
            s.conflicts += len(zr.plan.conflicts)
            s.pending += sum(len(_rows(c)) for c in zr.plan.changes)
            if zr.applied is not None:
                s.applied += sum(len(_rows(c)) for c in zr.applied.applied)
    parts = [f"{s.applied} change(s) applied" if applied else f"{s.pending} change(s) pending"]
    parts += [f"{s.refused} zone(s) refused by the safety gate"] if s.refused else []
    parts += [f"{s.skipped} skipped"] if s.skipped else []
    parts += [f"{s.conflicts} conflict(s)"] if s.conflicts else []
    parts += [f"{input_errors} input error(s)"] if input_errors else []
    s.text = "summary: " + ", ".join(parts)
    return s


def _zone_of(name: str, owner_of: dict[str, str]) -> str:
    """The configured zone holding ``name`` (longest match), or ''."""
    best = ""
    for zone in owner_of:
        if (name == zone or name.endswith("." + zone)) and len(zone) > len(best):
            best = zone
    return best


async def _reconcile(
    target: Target,
    eps: list[Endpoint],
    *,
    apply: bool,
    force: bool,
    complete: bool,
    console: Console,
) -> TargetResult:
    if not apply or not console.is_terminal:  # plan, CI: no bar, so no rich.progress
        return await target.reconcile(eps, apply=apply, force=force, complete=complete)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn(f"[bold]{target.name}[/] applying"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("apply", total=None)

        def advance(n: int) -> None:
            bar.advance(task, n)

        return await target.reconcile(
            eps, apply=apply, force=force, complete=complete, progress=advance
        )


_Row = tuple[str, str, str, str, str, str]


def _values(rrset: RRset) -> str:
    """A record set's values as the table prints them (TXT quoted), markup escaped."""
    from rich.markup import escape

    from dnssync.rtypes import show

    return escape(", ".join(show(rrset.type, v) for v in rrset.values))


def _rows(change: Change) -> list[_Row]:
    """The table rows of one change: one per record set it deletes, creates or updates."""
    from rich.markup import escape

    rows: list[_Row] = []
    if not change.old and not change.new:  # an orphaned ownership record
        rows.extend(
            ("[red]delete[/]", left.name, "TXT", escape(left.value), "", "")
            for left in change.leftovers
        )
    for o in change.old:
        if all(n.rrset.type != o.rrset.type for n in change.new):
            values = _values(o.rrset)
            rows.append(
                ("[red]delete[/]", change.name, o.rrset.type, values, str(o.rrset.ttl), o.resource)
            )
    for n in change.new:
        before = next((o for o in change.old if o.rrset.type == n.rrset.type), None)
        action = "[green]create[/]" if before is None else "[yellow]update[/]"
        targets = _values(n.rrset)
        if before is not None and before.rrset.values != n.rrset.values:
            targets = f"{_values(before.rrset)} → {targets}"
        rows.append((action, change.name, n.rrset.type, targets, str(n.rrset.ttl), n.resource))
    return rows


_COLUMNS = ("action", "name", "type", "targets", "ttl", "resource")


def _print_rows(out: Console, title: str, rows: list[_Row]) -> None:
    """A table when it fits the terminal; else one block per row: a name is never split."""
    from rich.markup import render
    from rich.table import Table

    widths = [max(len(c), *(len(render(r[i]).plain) for r in rows)) for i, c in enumerate(_COLUMNS)]
    if sum(widths) + 3 * len(widths) + 1 <= out.width:
        table = Table(title=title, title_justify="left")
        for col in _COLUMNS:
            table.add_column(col, no_wrap=True)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    out.print(title, highlight=False, soft_wrap=True)
    for action, name, type_, targets, ttl, resource in rows:
        out.print(f"  {action} {name} {type_} ttl {ttl}", highlight=False, soft_wrap=True)
        out.print(f"      {targets}", highlight=False, soft_wrap=True)
        if resource:
            out.print(f"      {resource}", highlight=False, soft_wrap=True)


def _refusal(result: TargetResult, reason: str) -> str:
    from dnssync.controller import refusal_hint

    return f"{reason}; {refusal_hint(result.target, cli=True)}"


def _report(
    out: Console,
    result: TargetResult,
    *,
    applied: bool,
    limit: int | None,
    owner_of: dict[str, str],
) -> None:
    from dnssync.model import Action

    for zr in result.zones:
        title = f"target {result.target} · zone {zr.zone}"
        if zr.error is not None:
            out.print(f"[red]✗ {title}: {zr.error}[/]", highlight=False)
            continue
        plan = zr.plan
        assert plan is not None
        if plan.refused:
            out.print(
                f"[red]✗ {title}: refused: {_refusal(result, plan.refused)}[/]", highlight=False
            )
        rows = [row for change in plan.changes[:limit] for row in _rows(change)]
        if rows:
            _print_rows(out, title, rows)
            if limit is not None and len(plan.changes) > limit:
                counts = ", ".join(f"{plan.count(a)} {a.value}" for a in Action if plan.count(a))
                out.print(
                    f"  … and {len(plan.changes) - limit} more changes ({counts} in all; "
                    "--all lists every one)",
                    highlight=False,
                )
        elif not plan.refused:
            out.print(f"[green]✓ {title}: in step[/] (read: {zr.transfer})", highlight=False)
        _report_outcome(out, zr, applied=applied)
    _report_outside(out, result, owner_of)


def _report_outcome(out: Console, zr: Any, *, applied: bool) -> None:
    plan = zr.plan
    if zr.applied is not None:
        a = zr.applied
        n = sum(len(_rows(c)) for c in a.applied)
        settled = f" ({a.settled} found in place after an unknown outcome)" if a.settled else ""
        out.print(f"  applied {n} change(s) in {a.messages} message(s){settled}", highlight=False)
        for rej in a.rejected:
            out.print(f"  [red]rejected[/] {rej}", highlight=False)
    elif plan.changes and not applied:
        n = sum(len(_rows(c)) for c in plan.changes)
        out.print(f"  {n} change(s) pending", highlight=False)
    for c in plan.conflicts:
        out.print(
            f"  [yellow]conflict[/] {c.name}: {c.winner} wins over "
            f"{', '.join(c.losers)} ({c.reason})",
            highlight=False,
        )
    for s in plan.skipped:
        out.print(f"  [yellow]skipped[/] {s.key} ({s.resource}): {s.reason}", highlight=False)
    for o in plan.taken_over:
        out.print(
            f"  taken over (migrate_from_txt_owner): {o.rrset.name} {o.rrset.type} ({o.resource})",
            highlight=False,
        )
    if plan.orphans:
        out.print(
            f"  {len(plan.orphans)} orphan(s): ours, no longer wanted, kept by policy "
            "(switch to sync to delete):",
            highlight=False,
        )
        for o in plan.orphans[:20]:
            out.print(f"    {o.rrset.name} {o.rrset.type} ({o.resource})", highlight=False)


def _report_outside(out: Console, result: TargetResult, owner_of: dict[str, str]) -> None:
    elsewhere = sum(1 for s in result.outside if _zone_of(s.key.name, owner_of))
    if elsewhere:
        out.print(
            f"  {elsewhere} record(s) belong to zones of other targets (not this one's)",
            highlight=False,
        )


def _report_nowhere(out: Console, results: list[TargetResult], owner_of: dict[str, str]) -> int:
    """Records outside every configured zone: listed once, whatever the number of targets."""
    nowhere = {
        (s.key, s.resource): s
        for r in results
        for s in r.outside
        if not _zone_of(s.key.name, owner_of)
    }
    for s in nowhere.values():
        out.print(
            f"[yellow]skipped[/] {s.key} ({s.resource}): not inside any zone of any target",
            highlight=False,
        )
    return len(nowhere)


def _acme_config(args: argparse.Namespace) -> Config:
    from dnssync.config import load

    if args.config is None:
        raise ConfigError("no configuration: pass --config FILE or set DNSSYNC_CONFIG")
    cfg = load(args.config)
    if cfg.acme is None:
        raise ConfigError(f"{args.config}: no 'acme' section")
    return cfg


def _acme(args: argparse.Namespace) -> int:
    """A certbot / lego hook: exit 0 on success, 1 on failure, 2 on bad usage."""
    from dnssync.acme.hooks import describe, run_hook
    from dnssync.acme.payload import hook_request
    from dnssync.config import acme_hook_env
    from dnssync.errors import InvalidInput

    cfg = _acme_config(args)
    assert cfg.acme is not None
    env = acme_hook_env()
    rest = args.args[1:] if args.args[:1] == ["--"] else args.args
    try:
        request = hook_request(
            args.acme_action,
            rest,
            certbot_domain=env.certbot_domain,
            certbot_validation=env.certbot_validation,
        )
    except InvalidInput as e:
        print(f"dnssync acme {args.acme_action}: {e}", file=sys.stderr)
        return EXIT_USAGE
    placement = asyncio.run(run_hook(cfg.acme, request, wait=getattr(args, "wait", None)))
    print(describe(request, placement))
    return EXIT_OK


def _webhook(args: argparse.Namespace) -> int:
    """The ACME side alone, with the same logging and stop as ``run``: 0 on SIGTERM."""
    from dnssync.acme.service import run
    from dnssync.logs import setup

    cfg = _acme_config(args)
    assert cfg.acme is not None
    cfg.acme.check_runnable()
    setup(cfg.log.level if not args.verbose else "debug", json_format=cfg.log.format == "json")
    logging.getLogger("dnssync").info("webhook: %s", _acme_summary(cfg))
    try:
        asyncio.run(_until_signalled(run(cfg)))
    except ExceptionGroup as group:
        return _service_failed(group)
    return EXIT_OK


def _acme_summary(cfg: Config) -> str:
    from dnssync.app import describe_acme

    return describe_acme(cfg)


async def _until_signalled(service: Any) -> None:
    """Run ``service`` until it ends or SIGTERM/SIGINT arrives (then cancel it)."""
    import contextlib
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    task = asyncio.ensure_future(service)
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return
    task.result()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
