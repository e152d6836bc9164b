"""``ioreqlab dm``: a real device model (QEMU, ...) serving a modelled guest.

Layer 6 with :mod:`ioreqlab.cli`: it starts the device model's process, reads
the trace and writes the log.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ioreqlab.cli_files import UsageError, check_output, read_input, write
from ioreqlab.host import DESIGNS, Host
from ioreqlab.profiles import XEN_VERSIONS
from ioreqlab.toolstack import (
    LibxlError,
    XlCfgError,
    XlError,
    build_config,
    domain_create,
    parse_xl_cfg,
)

__all__ = ["add_dm_parser"]


def _dm_guest(args: argparse.Namespace) -> tuple[Host, int, str]:
    """The modelled host and guest ``dm`` serves: from ``--cfg``, or the default guest."""
    from ioreqlab.realdm import shared_host

    host = shared_host(design=args.design, xen=args.xen)
    if args.cfg is None:
        return host, host.create_domain(memory_mib=128, vcpus=1, name="guest"), "guest"
    try:
        text = read_input(args.cfg).decode("latin-1")
        cfg = parse_xl_cfg(text, args.cfg)
        config = build_config(cfg)
        log: list[str] = []
        domid = domain_create(host, config, log=log)
    except OSError as e:
        raise UsageError(f"cannot read {args.cfg}: {e.strerror}") from None
    except XlCfgError as e:
        raise UsageError(e.messages[0] if e.messages else f"{args.cfg}: bad config") from None
    except (LibxlError, XlError) as e:
        raise UsageError(f"{args.cfg}: {e}") from None
    if not config.hvm:
        raise UsageError(f"{args.cfg}: the guest is not HVM: it has no device model")
    return host, domid, config.name


def _dm_inputs(args: argparse.Namespace) -> tuple[list[str], list[str] | None]:
    """``dm``'s command and trace lines, checked before anything starts."""
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if args.builtin and command:
        raise UsageError("dm --builtin takes no device-model command")
    if not command and not args.builtin:
        raise UsageError("dm needs a device-model command after -- (or --builtin)")
    if args.builtin and args.trace is None:
        raise UsageError("dm --builtin needs --trace: the built-in emulator has no life of its own")
    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise UsageError(f"--timeout {args.timeout}: must be a positive number of seconds")
    check_output(args.log)
    if args.trace is None:
        return command, None
    try:
        return command, read_input(args.trace).decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise UsageError(f"cannot read {args.trace}: {why}") from None


def _cmd_dm(args: argparse.Namespace) -> int:
    """``dm``: a real device model serves a modelled guest; play a trace against it."""
    from ioreqlab.hv.vcpu_io import Access
    from ioreqlab.realdm import BuiltinDeviceModel, DeviceModel, DeviceModelError
    from ioreqlab.realdm.play import AccessFailed, play_trace
    from ioreqlab.workload.guest import TraceRecord

    command, trace = _dm_inputs(args)
    host, domid, name = _dm_guest(args)
    out: list[str] = []

    def event(kind: str, fields: dict[str, object]) -> None:
        out.append(json.dumps({"event": kind, **fields}, separators=(",", ":")))

    dm: DeviceModel | BuiltinDeviceModel = (
        BuiltinDeviceModel(host, domid)
        if args.builtin
        else DeviceModel(host, domid, command, timeout=args.timeout, on_event=event, stdout=None)
    )
    failure: str | None = None
    try:
        dm.start()
        sys.stderr.write(f"ioreqlab: device model serving domain {domid} ({name})\n")
        if trace is None:
            assert isinstance(dm, DeviceModel)  # --builtin always has a trace
            dm.wait_for(lambda: False, timeout=float("inf"))
        else:

            def issue(r: TraceRecord) -> Access:
                return dm.access(
                    r.vcpu,
                    r.space,
                    r.addr,
                    r.size,
                    write=r.write,
                    data=r.data or 0,
                    count=r.count,
                    df=r.df,
                    data_is_ptr=r.ptr,
                )

            for played in play_trace(trace, name, issue):
                out.append(played.to_json())
    except (DeviceModelError, AccessFailed, ValueError) as e:
        failure = str(e)
    except KeyboardInterrupt:
        failure = "interrupted"
    finally:
        status = dm.stop()
        if args.log is not None:
            write(args.log, "".join(line + "\n" for line in out))
    unserved = len(dm.unserved)
    sys.stderr.write(
        f"ioreqlab: device model exited with status {status}; "
        f"{unserved} call{'s' if unserved != 1 else ''} it made were not served (see the log)\n"
    )
    if failure is not None:
        sys.stderr.write(f"ioreqlab: error: {failure}\n")
        return 130 if failure == "interrupted" else 1
    if trace is not None:
        return 0  # every access completed; the device model's own status is reported above
    return 0 if status == 0 else 1


def add_dm_parser(sub: Any) -> None:
    dm = sub.add_parser(
        "dm",
        help="run a real device model (QEMU, ...) against a modelled guest",
        description="Boot a modelled host, create the guest, start COMMAND as its device "
        "model ({domid} in its arguments is the guest's id), wait until it is ready, play "
        "the trace's accesses and log each outcome.  See docs/device-models.md.",
    )
    dm.add_argument("--cfg", metavar="FILE", help="xl.cfg of the guest (default: 128 MiB, 1 vCPU)")
    dm.add_argument(
        "--xen", choices=XEN_VERSIONS, default="4.17", help="Xen release (default 4.17)"
    )
    dm.add_argument("--design", default="p2m", choices=DESIGNS, help="host design (default p2m)")
    dm.add_argument("--trace", metavar="IN.jsonl", help="guest accesses to play (default: serve)")
    dm.add_argument("--log", metavar="OUT.jsonl", help="write each access with its outcome")
    dm.add_argument("--timeout", type=float, default=30.0, help="seconds per wait (default 30)")
    dm.add_argument(
        "--builtin",
        action="store_true",
        help="play the trace on the model's own QEMU-like emulator instead (compare the logs)",
    )
    dm.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    dm.set_defaults(func=_cmd_dm)
