"""A guest access served by a real emulator against the same access served in-process.

The round trip: guest access → Xen's routing and slot write → event channel →
the emulator → the slot's answer → the vCPU woken.  Real QEMU 7.2
(``qemu-system-xen``, ``-nodefaults``) runs as the device model
(``ioreqlab.realdm``): the notification crosses a socket to QEMU's event loop,
and QEMU's ``IOCTL_EVTCHN_NOTIFY`` comes back over the interposition library.
The baseline is the model's Python emulator (``dm/qemu.py``) serving the same
accesses in the same run, in the same process.  Both read the host bridge's
vendor and device id through CF8/CFC and COM1's line status register.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bench.harness import Timing, markdown_table, time_batch
from ioreqlab import devicemodel
from ioreqlab.dm.qemu import QemuEmulator
from ioreqlab.host import Host
from ioreqlab.hv.vcpu_io import Access
from ioreqlab.realdm import DeviceModel, shared_host

QEMU = "/usr/libexec/xen-qemu-system-i386"
N = 2_000
ARGV = [QEMU, "-xen-domid", "{domid}", "-machine", "xenfv", "-nodefaults", "-display", "none",
        "-monitor", "none", "-serial", "null"]  # fmt: skip


Access_ = Callable[[str, int, int, bool, int], Access]


def _accesses(access: Access_) -> dict[str, Callable[[], None]]:
    def lsr() -> None:
        for _ in range(N):
            access("pio", 0x3FD, 1, False, 0)

    def pci() -> None:
        for _ in range(N // 2):
            access("pio", 0xCF8, 4, True, 0x80000000)
            access("pio", 0xCFC, 4, False, 0)

    return {"COM1 LSR read (port)": lsr, "PCI id read (CF8 write + CFC read)": pci}


def _python() -> dict[str, Timing]:
    host = Host(xen="4.17")
    g = host.create_domain(memory_mib=128, name="guest")
    QemuEmulator(devicemodel.open(host, 0), g).start()

    def access(space: str, addr: int, size: int, write: bool, data: int) -> Access:
        return host.guest_access(g, 0, space, addr, size, write=write, data=data)

    return {name: time_batch(fn, N, repeat=3) for name, fn in _accesses(access).items()}


def _real() -> dict[str, Timing]:
    host = shared_host()
    g = host.create_domain(memory_mib=128, name="guest")
    with DeviceModel(host, g, ARGV, timeout=30) as dm:

        def access(space: str, addr: int, size: int, write: bool, data: int) -> Access:
            return dm.access(0, space, addr, size, write=write, data=data)

        return {name: time_batch(fn, N, repeat=3) for name, fn in _accesses(access).items()}


def run() -> str:
    """The section for RESULTS.md (skipped with a note when QEMU is not installed)."""
    head = "## A real emulator's round trip\n\n" + (__doc__ or "").split("\n\n", 1)[1] + "\n"
    if not Path(QEMU).exists() or not os.access(QEMU, os.X_OK):
        return (
            head + "\nNot measured: qemu-system-xen is not installed (`make test` installs it).\n"
        )
    py, real = _python(), _real()
    rows = [
        [name, str(py[name]), str(real[name]), f"{real[name].median_ns / py[name].median_ns:.0f}×"]
        for name in py
    ]
    return (
        head
        + "\n"
        + markdown_table(["per access", "Python emulator", "real QEMU", "QEMU ÷ Python"], rows)
        + "\n"
    )
