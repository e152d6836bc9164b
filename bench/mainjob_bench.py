"""What the main job does, each next to a baseline measured in the same run (issue 18).

- a DMOP round trip through ``Host.dm_op`` (struct in, dispatch, checks,
  struct out), net of the rangeset work it does (measured apart), against a
  minimal dispatcher that unpacks, dispatches through a dict and packs the
  same bytes;
- a guest write to a write-protected page, end to end through the mediator
  (trap, emulation, shadow update, completion), against flat Python doing
  the same work with dicts and bytearrays; a plain RAM access against a dict
  lookup and a bytearray store;
- a submission, and a whole round per design;
- ``run`` on two workers against one (same counts), and an 8 limits x 8 seeds
  capacity study of the built-in host on two workers;
- cost per round as rounds double, on a workload whose tree has stopped
  growing.
"""

from __future__ import annotations

import itertools
import random
import struct
import time
from dataclasses import replace

from bench.harness import fmt_ns, interleaved, markdown_table, time_batch
from ioreqlab import devicemodel
from ioreqlab.abi import DmOp
from ioreqlab.abi.constants import IoRangeType
from ioreqlab.abi.structs import IoreqServerRange, dm_op_buffer
from ioreqlab.dm.gvtg import GvtgMediator
from ioreqlab.dm.qemu import QemuEmulator
from ioreqlab.host import Host
from ioreqlab.hv.domain import LOWMEM_END_PFN
from ioreqlab.scenario import XENGT_BDW, load_scenario, run_scenario
from ioreqlab.scenario.executor import map_jobs
from ioreqlab.scenario.runner import run_design
from ioreqlab.scenario.spec import Scenario
from ioreqlab.workload.gpu import GpuDriver
from ioreqlab.workload.guest import Guest, GuestAllocator

__all__ = ["run"]

N = 4000

#: Printed under the targets: why each missed one is missed (issue 18).
WHY_MISSED = """\
Why the missed ones are missed (measured, not yet fixed; issue 18 stays open):

- The DMOP pair, the trapped write and the RAM access each cross the model's layers
  as Xen's call path does: a RAM write is `guest_access` → the vCPU's access check →
  an `ioreq_t` → the p2m type → the page write with its log-dirty and VRAM notes; a
  trapped write adds routing to the server, delivery through the emulator runtime's
  slot and event channel, and the mediator's handler (map the page, decode the entry,
  update the shadow, count the write for out-of-sync); a DMOP adds the buffer copy,
  the struct decode with its padding checks, the caller and target lookups and the
  copy back. Each layer is a few Python calls; the baselines do one dict lookup and
  one bytearray write. Closing the gap to 3× or 10× means collapsing those layers
  into one function, which the layering (STYLE.md) and the per-layer tests forbid;
  what is left is shaving each layer, worth perhaps 2×, not 5×.
- The 8 × 8 study: its 64 runs are the built-in scenario, which the shipped GVT-g
  policy and the i915 write order (issue 14) made about three times heavier per run
  than when the target was set (each new table is filled, linked and then written
  entry by entry through the trap path, and a failsafe vGPU's pages keep the shared
  out-of-sync pool from the others). 120 s on two cores needs runs of under 4 s;
  they take about 12 s on one core. The trap path above is where that time goes.
"""


def _dmop() -> tuple[float, float, float]:
    """(dm_op pair, rangeset work in it, baseline pair), ns."""
    host = Host(design="p2m", xen="4.17")
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    bufs = []
    for i in range(N):
        start = 0x1000 + 16 * i
        m = dm_op_buffer(
            DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER, IoreqServerRange(sid, 0, 0, start, start + 3)
        )
        u = dm_op_buffer(
            DmOp.UNMAP_IO_RANGE_FROM_IOREQ_SERVER, IoreqServerRange(sid, 0, 0, start, start + 3)
        )
        bufs.append((m, u))

    def pairs() -> None:
        for m, u in bufs:
            host.dm_op(0, g, [m])
            host.dm_op(0, g, [u])

    # The rangeset work of the pair, as map_io_range_to_ioreq_server and its unmap
    # do it (xen/common/ioreq.c, 4.17): an overlap check and an add, a containment
    # check and a remove, on the server's own rangeset (its heap account charged),
    # which the pairs left empty.
    rs = host.domains[g].find_server(sid).ranges[IoRangeType.PORT]  # type: ignore[union-attr]

    def rangeset_work() -> None:
        for i in range(N):
            start = 0x1000 + 16 * i
            rs.overlaps_range(start, start + 3)
            rs.add_range(start, start + 3)
            rs.contains_range(start, start + 3)
            rs.remove_range(start, start + 3)

    header, body = struct.Struct("<II"), IoreqServerRange.LAYOUT
    table = {int(DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER): lambda a: None,
             int(DmOp.UNMAP_IO_RANGE_FROM_IOREQ_SERVER): lambda a: None}  # fmt: skip

    def baseline_one(buf: bytearray) -> int:
        op, _pad = header.unpack_from(buf, 0)
        arg = body.unpack_from(buf, 8)
        table[op](arg)
        buf[8 : 8 + body.size] = body.pack(*arg)
        return 0

    def baseline() -> None:
        for m, u in bufs:
            baseline_one(m)
            baseline_one(u)

    got = interleaved({"pair": pairs, "work": rangeset_work, "base": baseline}, N)
    return got["pair"], got["work"], got["base"]


def _wp_host() -> tuple[Host, Guest, GvtgMediator, list[int]]:
    host = Host(design="p2m")
    g = host.create_domain(memory_mib=1024, name="vm")
    dm = devicemodel.open(host, 0)
    QemuEmulator(dm, g, vga=False).start()
    med = GvtgMediator(dm, g)
    med.start()
    guest = Guest(host, g, "vm")
    rng = random.Random(1)
    last = min(host.domains[g].nr_pages, LOWMEM_END_PFN) - 1
    driver = GpuDriver(guest, rng, GuestAllocator(rng, 0x100, last, "scattered"))
    proc = driver.create_process(40)
    driver.submit(proc)
    leaves = sorted(gfn for gfn in med.protected if med.trees[proc.root].tables.get(gfn) == 1)
    return host, guest, med, leaves


def _trapped_write() -> tuple[float, float, float, float, float]:
    """(trapped write, flat baseline, RAM access, flat RAM baseline, submission), ns."""
    _host, guest, med, leaves = _wp_host()
    addrs = [(leaves[i % len(leaves)] << 12) + 8 * (i % 512) for i in range(N)]

    def trapped() -> None:
        for a in addrs:
            guest.write(a, 8, 0)

    # Flat Python, the same work: find the page's type, trap, write the page, refresh
    # the shadow's snapshot, complete.
    pages = {gfn: bytearray(4096) for gfn in leaves}
    protected = set(leaves)
    snapshots = {gfn: bytes(4096) for gfn in leaves}
    pending: list[tuple[int, int]] = []

    def flat() -> None:
        for a in addrs:
            gfn, off = a >> 12, a & 4095
            if gfn in protected:
                pending.append((a, 0))  # the ioreq
                req = pending.pop()
                page = pages[gfn]
                page[off : off + 8] = req[1].to_bytes(8, "little")
                snapshots[gfn] = bytes(page)

    ram = [(0x200000 + (i % 64) * 4096 + 8 * (i % 512)) for i in range(N)]

    def ram_writes() -> None:
        for a in ram:
            guest.write(a, 8, 1)

    flat_pages: dict[int, bytearray] = {}

    def flat_ram() -> None:
        for a in ram:
            page = flat_pages.get(a >> 12)
            if page is None:
                page = flat_pages[a >> 12] = bytearray(4096)
            page[a & 4095 : (a & 4095) + 8] = (1).to_bytes(8, "little")

    got = interleaved({"wp": trapped, "flat": flat, "ram": ram_writes, "flat_ram": flat_ram}, N)
    root = next(iter(med.trees))
    subs = 200

    def submissions() -> None:
        for _ in range(subs):
            med.submit(root)

    sub_ns = time_batch(submissions, subs, repeat=3).median_ns
    return got["wp"], got["flat"], got["ram"], got["flat_ram"], sub_ns


def _study_job(job: tuple[Scenario, int, int]) -> int:
    scenario, seed, limit = job
    return run_design(replace(scenario, seed=seed), "rangeset", wp_limit=limit).pages_reread


def _best_two_way(times: list[float]) -> float:
    """The shortest wall time jobs of these lengths can take on two workers."""
    total = sum(times)
    best = total
    for k in range(len(times) + 1):
        for part in itertools.combinations(times, k):
            best = min(best, max(sum(part), total - sum(part)))
    return best


def run() -> str:
    """The Markdown section."""
    pair, work, base = _dmop()
    own = max(pair - work, 1.0)
    wp, wp_base, ram, ram_base, sub = _trapped_write()
    scenario = load_scenario(XENGT_BDW, "builtin")
    t0 = time.perf_counter()
    one = run_scenario(scenario, workers=1)
    t_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    two = run_scenario(scenario, workers=2)
    t_two = time.perf_counter() - t0
    same = all(
        {k: v for k, v in one[d].to_json().items() if k not in ("ns_per_access", "series")}
        == {k: v for k, v in two[d].to_json().items() if k not in ("ns_per_access", "series")}
        for d in one
    )
    rounds = {}
    for design in scenario.host.designs:
        per = []
        for r in (12, 24):
            t0 = time.perf_counter()
            run_design(replace(scenario, rounds=r), design)
            per.append(time.perf_counter() - t0)
        rounds[design] = per
    full = [b for _, b in rounds.values()]
    ideal = _best_two_way(full)
    lengths = ", ".join(f"{d} {b:.1f} s" for d, (_, b) in rounds.items())
    limits = (256, 512, 1024, 2048, 4096, 8192, 12288, 16384)
    jobs = [(scenario, scenario.seed + s, lim) for lim in limits for s in range(8)]
    t0 = time.perf_counter()
    map_jobs(_study_job, jobs, workers=2)
    t_study = time.perf_counter() - t0

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    rows = [
        [
            "DMOP map+unmap pair, own overhead",
            fmt_ns(own),
            fmt_ns(base),
            f"{own / base:.1f}×",
            "≤ 3×",
        ],
        ["trapped write, end to end", fmt_ns(wp), fmt_ns(wp_base), f"{wp / wp_base:.0f}×", "≤ 10×"],
        ["plain RAM write", fmt_ns(ram), fmt_ns(ram_base), f"{ram / ram_base:.0f}×", "≤ 3×"],
        ["submission (one tree, in sync)", fmt_ns(sub), "", "", ""],
    ]
    round_rows = [
        [d, f"{a / 12 * 1000:.0f} ms", f"{b / 24 * 1000:.0f} ms", f"{b / a:.2f}×"]
        for d, (a, b) in rounds.items()
    ]
    return "\n".join(
        [
            "## The main job, piece by piece (issue 18)",
            "",
            f"The DMOP pair's own overhead is the pair through `Host.dm_op` ({fmt_ns(pair)}) "
            f"less the rangeset work it does ({fmt_ns(work)}: the overlap check and add, the "
            f"containment check and remove, on the server's own rangeset, timed alone); the "
            f"baseline unpacks the same bytes, dispatches through a dict and packs "
            f"them back. The trapped write's baseline does the same work with a dict of "
            f"bytearrays: type check, the request, the page write, the shadow snapshot.",
            "",
            markdown_table(["per operation", "ioreqlab", "baseline", "ratio", "target"], rows),
            "",
            "Targets:",
            "",
            f"- DMOP round trip within 3× its baseline: **{own / base:.1f}×** — "
            f"{verdict(own / base <= 3)}",
            f"- trapped write within 10× flat Python: **{wp / wp_base:.0f}×** — "
            f"{verdict(wp / wp_base <= 10)}",
            f"- RAM access within 3×: **{ram / ram_base:.0f}×** — {verdict(ram / ram_base <= 3)}",
            f"- `run` on two workers: {t_one:.1f} s → {t_two:.1f} s, **{t_one / t_two:.2f}×** "
            f"(target ≥ 1.8×), same counts: {same} — {verdict(t_one / t_two >= 1.8 and same)}. "
            f"Its designs are three jobs of unequal length ({lengths}): on two workers no "
            f"schedule beats {ideal:.1f} s, a speed-up of {sum(full) / ideal:.2f}× at most.",
            f"- an 8 × 8 capacity study of the built-in host on two workers: **{t_study:.0f} s** "
            f"(target < 120 s) — {verdict(t_study < 120)}",
            "",
            *WHY_MISSED.rstrip("\n").split("\n"),
            "",
            "Cost per round as the rounds double (the built-in workload; its trees grow in the "
            "first rounds, then churn):",
            "",
            markdown_table(
                ["design", "per round, 12 rounds", "per round, 24 rounds", "24 ÷ 12 total"],
                round_rows,
            ),
            "",
            "Target: flat per round (24 ÷ 12 total ≈ 2×) on every design — "
            + verdict(all(b / a <= 2.3 for a, b in rounds.values())),
            "",
        ]
    )
