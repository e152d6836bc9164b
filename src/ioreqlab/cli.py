"""The ``ioreqlab`` command: with :mod:`ioreqlab.cli_files`, the only modules that
print, read or write files, or exit.

Exit codes: 0 success; 1 a failed run or an xl error (xl's own convention);
2 bad usage or bad input — one line on stderr, never a traceback; 130 Ctrl-C.

Commands: ``run`` (the main job), ``plan`` (the capacity planner), ``xl``
(the toolstack front end), ``findings`` (regenerate docs/findings.md) and
``bench`` (the benchmark suites, from a source checkout).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ioreqlab import __version__
from ioreqlab.cli_dm import add_dm_parser
from ioreqlab.cli_files import (
    UsageError,
    check_output,
    progress_bar,
    read_scenario,
    write,
)
from ioreqlab.cli_plots import run_plots
from ioreqlab.cli_sweep import sweep
from ioreqlab.cli_xl import xl_create
from ioreqlab.errors import ModelLimitError
from ioreqlab.host import DESIGNS
from ioreqlab.profiles import DEFAULT_XEN, XEN_VERSIONS
from ioreqlab.scenario import Scenario, ScenarioError
from ioreqlab.scenario.executor import default_workers

__all__ = ["main"]

EXIT_USAGE = 2
#: 128 + SIGINT, as a shell reports a command Ctrl-C stopped.
EXIT_INTERRUPTED = 130


def _seed(text: str) -> int:
    """``--seed``: the same range a scenario file allows (0..2**63)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= value <= 2**63:
        raise argparse.ArgumentTypeError(f"seed must be 0..2**63, not {value}")
    return value


def _count(n: int, noun: str) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _int_in(lo: int, hi: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number in ``lo..hi`` (``what`` names the range)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{what}, not {value}")
        return value

    return parse


_positive = _int_in(1, 1 << 63, "must be at least 1")
_limit = _int_in(0, 2**32 - 1, "a limit is 0..2**32-1")  # the param is 32 bits in Xen


def _budget(text: str) -> float:
    """``--budget``: a finite number of pages, not negative."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"budget must be a finite number >= 0, not {text}")
    return value


#: What --xen means, for every command that builds a host.
XEN_HELP = (
    "the Xen release the host behaves as: 4.7, the tree of the 2016 debate (default for "
    "run, plan and findings unless the scenario says), or 4.17, what Debian 12 ships"
)


def _scheduler(text: str) -> str:
    """``--scheduler``: ``local`` or a Dask address ``tcp://HOST:PORT``."""
    if text != "local" and not text.startswith("tcp://"):
        raise argparse.ArgumentTypeError(f"{text!r}: use 'local' or tcp://HOST:PORT")
    return text


def _add_executor_options(p: argparse.ArgumentParser) -> None:
    """``--workers`` and ``--scheduler``: where a command's independent runs go."""
    cores = default_workers()
    p.add_argument(
        "--workers", type=_positive, default=cores,
        help=f"parallel processes (default: the machine's cores, {cores})",
    )  # fmt: skip
    p.add_argument(
        "--scheduler", metavar="ADDRESS", type=_scheduler,
        help="run on Dask distributed instead: tcp://HOST:PORT, or local for a LocalCluster "
        "of --workers processes (needs the dask extra)",
    )  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]  # argparse declares NoReturn
        sys.stderr.write(f"ioreqlab: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _load(path: str | None, xen: str | None = None) -> Scenario:
    """The scenario file (or the built-in one), its host on Xen ``xen`` if given."""
    scenario, _text = read_scenario(path)
    if xen is None:
        return scenario
    from dataclasses import replace

    return replace(scenario, host=replace(scenario.host, xen=xen))


# -- run -------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ioreqlab.analysis import compare
    from ioreqlab.scenario import run_scenario

    scenario = _load(args.scenario, args.xen)
    check_output(args.json)
    check_output(getattr(args, "plots", None), directory=True)
    check_output(args.report)
    if args.seed is not None:
        scenario = replace(scenario, seed=args.seed)
    bar = progress_bar(scenario.rounds * len(scenario.host.designs), scenario.name)

    rounds_done: dict[str, int] = {}

    def progress(design: str, done: int, total: int) -> None:
        rounds_done[design] = done  # per round in one process, per design in parallel
        bar.set_postfix_str(design)
        bar.n = sum(rounds_done.values())
        bar.refresh()

    results = run_scenario(
        scenario, clock=time.perf_counter_ns, progress=progress, workers=args.workers,
        scheduler=args.scheduler,
    )  # fmt: skip
    bar.close()
    print(
        f"ioreqlab run: {scenario.name} (seed {scenario.seed}, {scenario.rounds} rounds,"
        f" GVT-g policy {scenario.host.gvt_policy})"
    )
    if scenario.description:
        print(scenario.description)
    print()
    print(compare.comparison_table(results, wide=args.wide))
    width = 10_000 if args.wide else 80
    summaries = compare.wrap(compare.design_summaries(results), width)
    print("", *summaries, "", "Columns:" if args.wide else "Rows:", sep="\n")
    print(compare.comparison_legend(width))
    payload = compare.comparison_json(scenario, results)
    if args.json:
        write(args.json, json.dumps(payload, indent=2) + "\n")
    if args.plots or args.report:
        pngs = run_plots(args.plots, scenario, results)
        if args.report:
            from ioreqlab.analysis.report import run_report

            write(args.report, run_report(scenario, results, pngs))
    bad = sum(r.shadow_mismatches for r in results.values())
    if bad:
        sys.stderr.write(f"ioreqlab: {bad} shadow mismatches: the model is wrong\n")
        return 1
    return 0


# -- plan ------------------------------------------------------------------------------


def _cmd_plan(args: argparse.Namespace) -> int:
    from ioreqlab.analysis.planner import CAP_OPTION, DEFAULT_LIMITS, plan

    scenario = _load(args.scenario, args.xen)
    check_output(args.json)
    check_output(args.report)
    limits = tuple(args.limits) if args.limits else DEFAULT_LIMITS
    bar = progress_bar(len(limits) * args.seeds, "plan", unit="run")  # grows with the need's runs

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    result = plan(
        scenario,
        limits=limits,
        seeds=tuple(range(args.seeds)),
        pct=args.percentile,
        budget=args.budget,
        workers=args.workers,
        progress=progress,
        scheduler=args.scheduler,
    )
    bar.close()
    how = (
        f"p{result.percentile:g} across seeds"
        if len(result.seeds) > 1
        else "one seed (the percentile is that seed's value)"
    )
    seeds = _count(len(result.seeds), "seed")
    print(f"ioreqlab plan: {scenario.name}, rangeset design, {result.policy} GVT-g policy,"
          f" {seeds}, {how}")  # fmt: skip
    print()
    head = ("limit", "limit hits", "failsafe", "lost subm.", "pages re-read", "re-read/submit")
    rows = [
        (f"{p.limit:,}", f"{p.limit_hits:,}", f"{p.failsafe_vgpus:,}", f"{p.lost_submissions:,}",
         f"{p.pages_reread:,}", f"{p.reread_per_submission:.3f}")
        for p in result.sweep
    ]  # fmt: skip
    widths = (8, 10, 8, 10, 13, 14)
    for row in (head, *rows):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    print()
    headroom = result.heap_capacity - result.heap_bytes_per_host
    fits = "fits" if result.preallocation_fits else "does not fit"
    if result.policy == "shipped":
        verdict = f"the peak of stored ranges of the busiest vGPU ({result.needed:,}); " + (
            "no vGPU enters failsafe" if result.meets_budget else "NOT verified"
        )
    else:
        verdict = ("meets" if result.meets_budget else "does NOT meet (largest tried)") + (
            f" the budget of {result.budget:g} pages re-read per submission"
        )
    answer = [f"recommended max_wp_ram_ranges = {result.recommended} ({verdict})"]
    if result.exceeds_cap:
        failing = ", ".join(f"{g} in {v:.0%} of seeds" for g, v in (result.at_cap or {}).items())
        answer.append(
            f"that is above the host's cap of {result.cap:,}: raise the hypervisor's"
            f" {CAP_OPTION} boot option ([host] {CAP_OPTION}); at the cap, failsafe:"
            f" {failing or 'none'}, {result.at_cap_lost_submissions:,} submissions lost"
        )
    fit = result.capacity or {}
    answer.append(
        f"vGPU guests like these that fit: {fit.get('fit_preallocated')} with every guest's"
        f" worst case preallocated, {fit.get('fit_measured')} by measured use"
        f" (GPU slots for type {fit.get('vgpu_type')}: {fit.get('gpu_slots')})"
    )
    answer += [
        f"Xen heap per guest at that limit, worst case (every range in use): "
        f"{result.heap_bytes_per_guest:,} B; "
        f"{_count(result.guests, 'vGPU guest')}: {result.heap_bytes_per_host:,} B of "
        f"{result.heap_capacity:,} B (headroom {headroom:,} B); "
        f"preallocating it for every guest {fits}",
    ]
    print(*answer, sep="\n")
    if args.report:
        from ioreqlab.analysis.plots import sweep_plot
        from ioreqlab.analysis.report import plan_report

        png = sweep_plot(result.sweep, scenario.name, None, result.recommended)
        settings = [
            ("seeds", str(len(result.seeds))), ("percentile", f"{result.percentile:g}"),
            ("budget", f"{result.budget:g}"), ("limits", ", ".join(r[0] for r in rows)),
        ]  # fmt: skip
        page = plan_report(scenario, [how, *answer], rows, {"reshadow_vs_limit.png": png}, settings)
        write(args.report, page)
    if args.json:
        from ioreqlab.analysis.compare import describe

        payload = {**result.to_json(), "scenario": scenario.name, **describe(scenario)}
        write(args.json, json.dumps(payload, indent=2) + "\n")
    return 0


# -- findings --------------------------------------------------------------------------


def _cmd_findings(args: argparse.Namespace) -> int:
    from ioreqlab.analysis.findings import findings_markdown

    if args.out is None:
        args.out = "-" if args.only else "docs/findings.md"
    if args.out != "-":
        check_output(args.out)
    bar = progress_bar(0, "findings", unit="figure")

    def progress(name: str, done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(name)
        bar.refresh()

    try:
        text = findings_markdown(
            clock=time.perf_counter_ns, full=not args.quick, only=args.only, xen=args.xen,
            progress=progress, workers=args.workers,
        )  # fmt: skip
    except ValueError as err:
        raise UsageError(str(err)) from None
    finally:
        bar.close()
    if args.out == "-":
        sys.stdout.write(text)
    else:
        write(args.out, text)
        print(f"wrote {args.out}")
    return 0


# -- bench -----------------------------------------------------------------------------


#: The competitors bench/ measures RangeSet against (the ``bench`` extra).
_BENCH_MODULES = ("intervaltree", "portion", "sortedcontainers")


def _cmd_bench(args: argparse.Namespace) -> int:
    root = Path(__file__).resolve().parents[2]
    if not (root / "bench" / "__main__.py").exists():
        raise UsageError("bench/ not found: run `ioreqlab bench` from a source checkout")
    missing = [m for m in _BENCH_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"the benchmarks compare against {', '.join(missing)}: "
            "install them with `pip install -e '.[bench]'` (make test does)"
        )
    cmd = [sys.executable, "-m", "bench", *(["--quick"] if args.quick else [])]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(cmd, cwd=root, env=env, check=False).returncode


def _add_findings_parser(sub: Any) -> None:
    fi = sub.add_parser("findings", help="measure the thread's figures; write docs/findings.md")
    fi.add_argument(
        "--out",
        help="file, or - for stdout (default docs/findings.md; with --only, stdout: one "
        "section never replaces the whole document)",
    )
    fi.add_argument("--quick", action="store_true", help="skip the slow scenario and sweep")
    fi.add_argument("--only", metavar="NAME", help="just one figure (e.g. rbtree-8192)")
    fi.add_argument("--xen", choices=XEN_VERSIONS, default=DEFAULT_XEN, help=XEN_HELP)
    cores = default_workers()
    fi.add_argument(
        "--workers", type=_positive, default=cores,
        help=f"figures computed in parallel (default: the machine's cores, {cores})",
    )  # fmt: skip
    fi.set_defaults(func=_cmd_findings)


def _add_sweep_parser(sub: Any) -> None:
    sw = sub.add_parser(
        "sweep",
        help="a capacity study: scenarios x limits x seeds, one JSON line each (resumable)",
    )
    sw.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="TOML files, or builtin")
    sw.add_argument("--limits", type=_limit, nargs="+", required=True, help="max_wp_ram_ranges")
    sw.add_argument("--seeds", type=_positive, default=3, help="seeds per limit (default 3)")
    sw.add_argument("--out", required=True, metavar="FILE.jsonl", help="the results file")
    _add_executor_options(sw)
    sw.set_defaults(func=sweep)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = _Parser(
        prog="ioreqlab",
        description="An executable model of Xen's ioreq-server machinery: run the three "
        "write-protect designs of the 2016 max_wp_ram_ranges debate on the same workloads, "
        "plan a limit, reproduce the thread's figures, dry-run xl, or serve a real device "
        "model (QEMU) a modelled guest.  Each command has its own --help.",
        epilog="Exit status: 0 done; 1 a failed run or an xl error; 2 bad usage or input; "
        "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"ioreqlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario on every design and compare them")
    run.add_argument("scenario", nargs="?", help="scenario TOML (default: the built-in XenGT host)")
    run.add_argument("--seed", type=_seed, help="override the scenario's seed (0..2**63)")
    run.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    run.add_argument("--plots", metavar="DIR", help="also draw PNG plots into DIR")
    run.add_argument(
        "--wide", action="store_true", help="one row per design (about 170 columns), not 80"
    )
    run.add_argument(
        "--report", metavar="FILE.html", help="also write one self-contained HTML page of it all"
    )
    _add_executor_options(run)
    run.add_argument("--xen", choices=XEN_VERSIONS, help=XEN_HELP)
    run.set_defaults(func=_cmd_run)

    pl = sub.add_parser("plan", help="recommend max_wp_ram_ranges for a scenario")
    pl.add_argument("scenario", nargs="?", help="scenario TOML (default: the built-in one)")
    pl.add_argument("--percentile", type=float, default=99.0, help="across seeds (default 99)")
    pl.add_argument(
        "--budget",
        type=_budget,
        default=0.0,
        help="allowed pages re-read per submission (default 0)",
    )
    pl.add_argument("--seeds", type=_positive, default=3, help="how many seeds (default 3)")
    pl.add_argument(
        "--limits",
        type=_limit,
        nargs="+",
        help="max_wp_ram_ranges values to sweep (default 256 to 16384); 0 means the default "
        "limit, which Xen applies as 256 (MAX_NR_IO_RANGES)",
    )
    _add_executor_options(pl)
    pl.add_argument("--json", metavar="FILE", help="also write the plan as JSON")
    pl.add_argument("--report", metavar="FILE.html", help="also write the plan as one HTML page")
    pl.add_argument("--xen", choices=XEN_VERSIONS, help=XEN_HELP)
    pl.set_defaults(func=_cmd_plan)

    _add_findings_parser(sub)

    _add_sweep_parser(sub)

    be = sub.add_parser("bench", help="run bench/ and rewrite bench/RESULTS.md")
    be.add_argument("--quick", action="store_true", help="small sizes, do not write")
    be.set_defaults(func=_cmd_bench)

    xl = sub.add_parser("xl", help="the xl toolstack front end (create, with -N dry run)")
    xl.add_argument("-v", dest="verbose", action="count", default=0, help="more output")
    xl.add_argument("-N", dest="dry_run", action="store_true", help="dry run: print the config")
    xl_sub = xl.add_subparsers(dest="xl_command", required=True, parser_class=_Parser)
    create = xl_sub.add_parser("create", help="create a domain from an xl.cfg file")
    create.add_argument("-n", action="store_true", help="dry run (deprecated spelling of -N)")
    resolved = "with -N: the config after the model's libxl defaults and checks, not as xl built it"
    create.add_argument("--resolved", action="store_true", help=resolved)
    create.add_argument("--gpu", default="bdw", help="host GPU generation for vgt guests")
    create.add_argument("--design", default="p2m", choices=DESIGNS, help="host design")
    create.add_argument("--xen", choices=XEN_VERSIONS, default=DEFAULT_XEN, help=XEN_HELP)
    create.add_argument("file", help="xl.cfg file")
    create.add_argument("extra", nargs="*", default=[], help="extra key=value settings")
    create.set_defaults(func=xl_create)

    add_dm_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ioreqlab`` console script."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (ScenarioError, UsageError) as err:
        sys.stderr.write(f"ioreqlab: error: {err}\n")
        return EXIT_USAGE
    except ModelLimitError as err:  # the model's own bound, not an answer of Xen's
        sys.stderr.write(f"ioreqlab: error: {err}\n")
        return 1
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback; outputs are whole or absent
        sys.stderr.write("ioreqlab: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
