"""``ioreqlab xl create``: xl.cfg → xl's parse → libxl → a domain (or, with -N, the JSON).

Layer 6 with :mod:`ioreqlab.cli`: it reads the file and writes stdout and
stderr as the real ``xl`` does (bytes in, xl's messages in xl's order, xl's
exit codes), so ``tests/test_xl_real.py`` can hold the two side by side.
"""

from __future__ import annotations

import argparse
import sys
import uuid

from ioreqlab.cli_files import read_input
from ioreqlab.host import Host
from ioreqlab.toolstack import (
    LibxlError,
    XlCfgError,
    XlError,
    build_config,
    domain_create,
    libxl_json,
    parse_config_data,
    parse_xl_cfg,
)

__all__ = ["xl_create"]


def xl_create(args: argparse.Namespace) -> int:
    """``xl create``: parse, resolve through libxl, and create (or print, with -N/-n)."""
    err = sys.stderr
    path = args.file
    try:
        text = read_input(path)  # bytes: libxlu reads 8-bit bytes, UTF-8 stays UTF-8
    except OSError as e:
        err.write(f"{path}: unable to open configuration file: {e.strerror}\n")
        return 1
    if args.extra:  # xl appends extra settings
        text += ("\n" + "\n".join(args.extra) + "\n").encode("utf-8", "surrogateescape")
    err.write(f"Parsing config from {path}\n")
    try:
        cfg = parse_xl_cfg(text, path)
    except XlCfgError as e:
        err.writelines(
            line + "\n" for line in [*e.messages, "Failed to parse config: Invalid argument"]
        )
        return 1
    dry = args.dry_run or args.n
    try:  # xl's own refusals (XlError) are in cfg.warnings already, in xl's order
        if dry and not args.resolved:  # xl -N: what parse_config_data built, as xl prints it
            built = parse_config_data(cfg, uuid=uuid.uuid4().bytes)
            err.writelines(w + "\n" for w in cfg.warnings)
            sys.stdout.write(libxl_json(built.config))
            return 0
        config = build_config(cfg, gpu=args.gpu, uuid=uuid.uuid4().bytes)
    except (XlError, LibxlError) as e:
        err.writelines(w + "\n" for w in cfg.warnings)
        if isinstance(e, XlError):
            return e.exit_code
        err.write(f"libxl: error: libxl_create.c:initiate_domain_create: {e}\n")
        return 1
    err.writelines(w + "\n" for w in cfg.warnings)
    if dry:  # --resolved: after the model's libxl defaults and checks
        sys.stdout.write(libxl_json(config.to_json()))
        return 0
    host = Host(design=args.design, xen=args.xen)
    log: list[str] = []
    try:
        domid = domain_create(host, config, log=log)
    except LibxlError:
        err.writelines(line + "\n" for line in log)
        return 1
    if args.verbose:
        err.writelines(line + "\n" for line in log)
    print(f"Domain {domid} ({config.name}) created on a {args.design} host")
    return 0
