"""Command line: ``dnssync plan``, ``dnssync sync --once``, ``dnssync demo``.

Exit codes: ``plan`` exits 0 when every zone is in step, 2 when changes are
pending (for CI checks on a GitOps repository) and 1 on any error.  Other
commands exit 0 on success, 1 on a failure while running and 2 on invalid
configuration or usage.  Heavy imports are deferred to the command that
needs them: a one-shot sync is dominated by start-up otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnssync.errors import ConfigError, DnssyncError

if TYPE_CHECKING:
    from rich.console import Console

    from dnssync.config import Config
    from dnssync.controller import Target, TargetResult
    from dnssync.model import Endpoint

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PENDING = 2
ROWS = 50  # changes listed by default; a 10,000-row table helps nobody


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dnssync",
        description="Keep DNS in step with Kubernetes over TSIG-signed RFC 2136.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "-c",
            "--config",
            type=Path,
            default=Path(os.environ["DNSSYNC_CONFIG"]) if "DNSSYNC_CONFIG" in os.environ else None,
            help="YAML configuration file (default: $DNSSYNC_CONFIG)",
        )
        sp.add_argument("--manifests", type=Path, help="directory of Service/Ingress YAML")
        sp.add_argument("--target", action="append", help="only this target (repeatable)")
        sp.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    sp = sub.add_parser("plan", help="show what a sync would change; exit 2 if anything")
    common(sp)
    sp.add_argument("--all", action="store_true", help="list every change (default: first 50)")
    sp.add_argument("--force", action="store_true", help="plan past the safety gate")
    sp = sub.add_parser("sync", help="apply the changes")
    common(sp)
    sp.add_argument("--once", action="store_true", required=True, help="one pass, then exit")
    sp.add_argument("--all", action="store_true", help="list every change (default: first 50)")
    sp.add_argument("--force", action="store_true", help="apply past the safety gate")
    sp = sub.add_parser("run", help="run the service (watch, reconcile, serve probes)")
    common(sp)
    sp = sub.add_parser("check", help="validate the config and probe every target")
    common(sp)
    sp = sub.add_parser("demo", help="start a local BIND9 and sync config/examples into it")
    sp.add_argument("--keep", action="store_true", help="leave BIND9 running afterwards")
    _acme_parsers(sub, common)
    return p


def _acme_parsers(sub: Any, common: Any) -> None:
    """``acme present|cleanup`` (certbot / lego hooks) and ``webhook``."""
    sp = sub.add_parser("acme", help="ACME DNS-01 hooks for certbot and lego (exec)")
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
        )
        common(ap)
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
                help="wait until the listed nameservers serve it (default: acme.propagation.wait)",
            )
    sp = sub.add_parser("webhook", help="serve the cert-manager webhook and watch Challenges")
    common(sp)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
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
    except ConfigError as e:
        print(f"dnssync: configuration error: {e}", file=sys.stderr)
        return EXIT_FAILED if args.command == "plan" else EXIT_USAGE
    except DnssyncError as e:
        print(f"dnssync: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    from dnssync.app import run
    from dnssync.logs import setup

    cfg = _load(args, need_manifests=False)
    setup(cfg.log.level if not args.verbose else "debug", json_format=cfg.log.format == "json")
    try:
        return run(cfg)
    except ExceptionGroup as group:
        # A task of the service failed for good: say which and why, then stop.
        found, rest = group.split(DnssyncError)
        if rest is not None or found is None:
            raise
        errors = _leaves(found)
        for e in errors:
            logging.getLogger("dnssync").error("stopping: %s", e)
        print(f"dnssync: {'; '.join(str(e) for e in errors)}", file=sys.stderr)
        return EXIT_FAILED


def _leaves(group: BaseExceptionGroup[DnssyncError]) -> list[BaseException]:
    out: list[BaseException] = []
    for e in group.exceptions:
        out.extend(_leaves(e) if isinstance(e, BaseExceptionGroup) else [e])
    return out


async def _check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from dnssync.controller import Target, probe
    from dnssync.rfc2136.scopes import scope_rows

    cfg = _load(args, need_manifests=False)
    table = Table(title="dnssync check", title_justify="left")
    for col in ("target", "zone", "check", "result"):
        table.add_column(col, overflow="fold")
    ok = True
    for tcfg in cfg.targets:
        target = Target(tcfg)
        scopes = await scope_rows(target.client, tcfg.zones)  # apex / *.zone / deeper
        for zone, check, passed, detail in [*await probe(target), *scopes]:
            ok = ok and passed
            mark = "[green]ok[/]" if passed else "[red]failed[/]"
            table.add_row(tcfg.name, zone, check, f"{mark} {detail}")
    Console().print(table)
    return EXIT_OK if ok else EXIT_FAILED


def _load(args: argparse.Namespace, *, need_manifests: bool = True) -> Config:
    from dnssync.config import load

    if args.config is None:
        raise ConfigError("no configuration: pass --config FILE or set DNSSYNC_CONFIG")
    cfg = load(args.config)
    if args.manifests is not None:
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

    from dnssync.app import desired
    from dnssync.controller import Target

    # Without a manifests directory the cluster is listed once (no watch).
    cfg = _load(args, need_manifests=False)
    apply = args.command == "sync"
    out = Console()
    err = Console(stderr=True)
    results: list[TargetResult] = []
    input_errors = 0
    targets = [Target(tcfg) for tcfg in cfg.targets]
    wanted = await desired(cfg, targets)
    for target in targets:
        eps, problems = wanted[target.name].endpoints, wanted[target.name].errors
        for problem in problems:
            err.print(f"[yellow]input:[/] {problem}", markup=True, highlight=False)
        input_errors += len(problems)
        result = await _reconcile(
            target, eps, apply=apply, force=args.force, complete=not problems, console=err
        )
        results.append(result)
        _report(out, result, applied=apply, limit=None if args.all else ROWS)
    # Bad input fails the run (after the valid rest was handled), so CI on a
    # GitOps repository catches it.
    failed = any(not r.ok for r in results) or input_errors > 0
    if apply:
        return EXIT_FAILED if failed else EXIT_OK
    if failed:
        return EXIT_FAILED
    return EXIT_PENDING if any(r.pending for r in results) else EXIT_OK


async def _reconcile(
    target: Target,
    eps: list[Endpoint],
    *,
    apply: bool,
    force: bool,
    complete: bool,
    console: Console,
) -> TargetResult:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    if not apply or not console.is_terminal:
        return await target.reconcile(eps, apply=apply, force=force, complete=complete)
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


def _report(out: Console, result: TargetResult, *, applied: bool, limit: int | None) -> None:
    from rich.table import Table

    from dnssync.model import Action

    for zr in result.zones:
        title = f"target {result.target} · zone {zr.zone}"
        if zr.error is not None:
            out.print(f"[red]✗ {title}: {zr.error}[/]", highlight=False)
            continue
        plan = zr.plan
        assert plan is not None
        if plan.refused:
            out.print(f"[red]✗ {title}: refused: {plan.refused}[/]", highlight=False)
        if plan.changes:
            table = Table(title=title, title_justify="left")
            for col in ("action", "name", "type", "targets", "ttl", "resource"):
                table.add_column(col, overflow="fold")
            for change in plan.changes[:limit]:
                if not change.old and not change.new:  # an orphaned ownership record
                    for left in change.leftovers:
                        table.add_row("[red]delete[/]", left.name, "TXT", left.value, "", "")
                for o in change.old:
                    if all(n.rrset.type != o.rrset.type for n in change.new):
                        table.add_row(
                            "[red]delete[/]",
                            change.name,
                            o.rrset.type,
                            ", ".join(o.rrset.values),
                            str(o.rrset.ttl),
                            o.resource,
                        )
                for n in change.new:
                    before = next((o for o in change.old if o.rrset.type == n.rrset.type), None)
                    action = "[green]create[/]" if before is None else "[yellow]update[/]"
                    targets = ", ".join(n.rrset.values)
                    if before is not None and before.rrset.values != n.rrset.values:
                        targets = f"{', '.join(before.rrset.values)} → {targets}"
                    table.add_row(
                        action, change.name, n.rrset.type, targets, str(n.rrset.ttl), n.resource
                    )
            out.print(table)
            if limit is not None and len(plan.changes) > limit:
                counts = ", ".join(f"{plan.count(a)} {a.value}" for a in Action if plan.count(a))
                out.print(
                    f"  … and {len(plan.changes) - limit} more changes ({counts} in all; "
                    "--all lists every one)",
                    highlight=False,
                )
        else:
            out.print(f"[green]✓ {title}: in step[/] (read: {zr.transfer})", highlight=False)
        if zr.applied is not None:
            a = zr.applied
            settled = f" ({a.settled} found in place after an unknown outcome)" if a.settled else ""
            out.print(
                f"  applied {len(a.applied)} change(s) in {a.messages} message(s){settled}",
                highlight=False,
            )
            for rej in a.rejected:
                out.print(f"  [red]rejected[/] {rej}", highlight=False)
        elif plan.changes and not applied:
            out.print(f"  {len(plan.changes)} change(s) pending", highlight=False)
        for c in plan.conflicts:
            out.print(
                f"  [yellow]conflict[/] {c.name}: {c.winner} wins over "
                f"{', '.join(c.losers)} ({c.reason})",
                highlight=False,
            )
        for s in plan.skipped:
            out.print(f"  [yellow]skipped[/] {s.key} ({s.resource}): {s.reason}", highlight=False)
        if plan.orphans:
            out.print(
                f"  {len(plan.orphans)} orphan(s): ours, no longer wanted, kept by policy "
                "(switch to sync to delete):",
                highlight=False,
            )
            for o in plan.orphans[:20]:
                out.print(f"    {o.rrset.name} {o.rrset.type} ({o.resource})", highlight=False)
    for s in result.outside:
        out.print(f"  [yellow]skipped[/] {s.key} ({s.resource}): {s.reason}", highlight=False)


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
    from dnssync.acme.service import run

    cfg = _acme_config(args)
    asyncio.run(run(cfg))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
