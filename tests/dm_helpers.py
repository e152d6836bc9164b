"""A small XenGT host for device-model tests: QEMU + mediator + driver per guest."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from ioreqlab import devicemodel
from ioreqlab.dm.gvtg import GvtgMediator
from ioreqlab.dm.qemu import QemuEmulator
from ioreqlab.host import Host
from ioreqlab.hv.domain import LOWMEM_END_PFN
from ioreqlab.workload.gpu import GpuDriver, HostileGpuDriver
from ioreqlab.workload.guest import Guest, GuestAllocator, TraceRecord


@dataclass
class VgpuGuest:
    domid: int
    guest: Guest
    qemu: QemuEmulator
    mediator: GvtgMediator
    driver: GpuDriver


def vgpu_guest(
    host: Host,
    name: str,
    seed: int,
    *,
    memory_mib: int = 4096,
    limit: int = 0,
    policy: str = "scattered",
    hostile: bool = False,
    trace: list[TraceRecord] | None = None,
    ptes: int = 4,
) -> VgpuGuest:
    domid = host.create_domain(memory_mib=memory_mib, name=name)
    dm = devicemodel.open(host, 0)
    if limit:
        dm.set_param(domid, host.xen.params.max_wp_ram_ranges, limit)
    qemu = QemuEmulator(dm, domid, vga=False)
    qemu.start()
    mediator = GvtgMediator(dm, domid)
    mediator.start()
    rng = random.Random(seed)
    guest = Guest(host, domid, name, trace=trace)
    last = min(host.domains[domid].nr_pages, LOWMEM_END_PFN) - 1
    cls = HostileGpuDriver if hostile else GpuDriver
    driver = cls(guest, rng, GuestAllocator(rng, 0x100, last, policy), ptes_per_table=ptes)
    return VgpuGuest(domid, guest, qemu, mediator, driver)


def run_gpu_workload(
    v: VgpuGuest, *, processes: int = 6, leaves: int = 40, rounds: int = 30
) -> None:
    rng = v.driver.rng
    procs = [v.driver.create_process(leaves) for _ in range(processes)]
    for r in range(rounds):
        p = rng.choice(procs)
        v.driver.churn(p, 10)
        if r % 3 == 0:
            v.driver.grow(p, 4)
        v.driver.submit(p)
        if r % 10 == 9:
            v.driver.destroy_process(p)
            procs.remove(p)
            procs.append(v.driver.create_process(leaves))


def ram_digest(host: Host, domid: int) -> str:
    d = host.domains[domid]
    h = hashlib.sha256()
    for gfn in sorted(d.ram):
        page = d.ram[gfn]
        if any(page):
            h.update(gfn.to_bytes(8, "little") + bytes(page))
    return h.hexdigest()
