"""The ``ioreqlab`` command: the only module that prints, reads files or exits.

Exit codes: 0 success, 1 a failed run, 2 bad usage or bad input (one line on
stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from ioreqlab import __version__
from ioreqlab.demo import DemoRow, run_demo
from ioreqlab.host import DESIGNS, Host
from ioreqlab.toolstack import (
    LibxlError,
    XlCfgError,
    build_config,
    domain_create,
    parse_xl_cfg,
)

__all__ = ["main"]

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]  # argparse declares NoReturn
        sys.stderr.write(f"ioreqlab: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _format_table(rows: list[DemoRow]) -> str:
    head = ("placement", "limit", "node", "pages", "protected", "limit hits", "ranges", "heap B")
    body = [
        (
            r.placement,
            str(r.limit),
            r.layout,
            str(r.pages),
            str(r.protected),
            str(r.limit_hits),
            str(r.stored_ranges),
            str(r.heap_bytes),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in (head, *body)) for i in range(len(head))]
    lines = [
        "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
        for row in (head, *body)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace) -> int:
    rows = run_demo(args.seed)
    print("ioreqlab run: the seed series' WP_MEM rangeset under XenGT-sized workloads")
    print(f"(one 4 GiB guest, 4096 GTT pages, seed {args.seed}; the full scenario engine")
    print(" with all three designs is not built yet, so this shows the rangeset design alone)")
    print()
    print(_format_table(rows))
    if args.json:
        payload = {"seed": args.seed, "rows": [asdict(r) for r in rows]}
        try:
            Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        except OSError as err:
            sys.stderr.write(f"ioreqlab: error: cannot write {args.json}: {err.strerror}\n")
            return EXIT_USAGE
    return 0


def _cmd_xl_create(args: argparse.Namespace) -> int:
    """``xl create``: parse, resolve through libxl, and create (or print, with -N/-n)."""
    err = sys.stderr
    path = args.file
    try:
        text = Path(path).read_bytes().decode("latin-1")  # libxlu reads 8-bit bytes
    except OSError as e:
        err.write(f"{path}: unable to open configuration file: {e.strerror}\n")
        return 1
    if args.extra:
        text += "\n" + "\n".join(args.extra) + "\n"  # xl appends extra settings
    err.write(f"Parsing config from {path}\n")
    try:
        cfg = parse_xl_cfg(text, path)
    except XlCfgError as e:
        for line in e.messages:
            err.write(line + "\n")
        err.write("Failed to parse config: Invalid argument\n")
        return 1
    if cfg.get_string("name") is None:
        err.writelines(w + "\n" for w in cfg.warnings)
        err.write("Domain name must be specified.\n")
        return 1
    try:
        config = build_config(cfg, gpu=args.gpu)
    except LibxlError as e:
        err.writelines(w + "\n" for w in cfg.warnings)
        err.write(f"libxl: error: libxl_create.c:initiate_domain_create: {e}\n")
        return 1
    err.writelines(w + "\n" for w in cfg.warnings)
    if args.dry_run or args.n:
        print(json.dumps(config.to_json(), indent=4, sort_keys=True))
        return 0
    host = Host(design=args.design)
    log: list[str] = []
    try:
        domid = domain_create(host, config, log=log)
    except LibxlError:
        err.writelines(line + "\n" for line in log)
        return 1
    if args.verbose:
        err.writelines(line + "\n" for line in log)
    print(f"Domain {domid} ({config['name']}) created on a {args.design} host")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = _Parser(prog="ioreqlab", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"ioreqlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run the main job and print the comparison")
    run.add_argument("--seed", type=int, default=0, help="workload seed (default 0)")
    run.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    run.set_defaults(func=_cmd_run)
    xl = sub.add_parser("xl", help="the xl toolstack front end (create, with -N dry run)")
    xl.add_argument("-v", dest="verbose", action="count", default=0, help="more output")
    xl.add_argument("-N", dest="dry_run", action="store_true", help="dry run: print the config")
    xl_sub = xl.add_subparsers(dest="xl_command", required=True, parser_class=_Parser)
    create = xl_sub.add_parser("create", help="create a domain from an xl.cfg file")
    create.add_argument("-n", action="store_true", help="dry run (deprecated spelling of -N)")
    create.add_argument("--gpu", default="bdw", help="host GPU generation for vgt guests")
    create.add_argument("--design", default="p2m", choices=DESIGNS, help="host design")
    create.add_argument("file", help="xl.cfg file")
    create.add_argument("extra", nargs="*", help="extra key=value settings")
    create.set_defaults(func=_cmd_xl_create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ioreqlab`` console script."""
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
