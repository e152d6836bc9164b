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
- ``run``, ``findings --quick`` and a short ``plan`` on two workers against
  one (same answers), and an 8 limits x 8 seeds
  capacity study of the built-in host on two workers;
- cost per round as rounds double, on a workload whose tree has stopped
  growing.
"""

from __future__ import annotations

import itertools
import math
import random
import struct
import time
from collections.abc import Callable
from dataclasses import replace

from bench.harness import fmt_ns, interleaved, markdown_table, time_batch
from ioreqlab import devicemodel
from ioreqlab.abi import DmOp
from ioreqlab.abi.constants import IoRangeType
from ioreqlab.abi.structs import IoreqServerRange, dm_op_buffer
from ioreqlab.analysis.findings import findings_markdown
from ioreqlab.analysis.planner import plan
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
WHY_MISSED = {
    "ram": """\
- A RAM write crosses the model's layers as Xen's call path does: `Guest.access` →
  the generated argument checks → `guest_access` → the domain lookup → the vCPU's
  access checks → an `ioreq_t` → the p2m type → the page write with its VRAM and
  log-dirty notes → the outcome: about fifteen Python calls, each some 60-100 ns
  here, against one loop body in the baseline. 3× leaves less time than those calls
  alone cost; only a compiled core (mypyc, which the generated argument checks and
  the tests' monkeypatching do not allow yet) or collapsing the layers would reach it.""",
    "dmop": """\
- The DMOP pair: beyond the checks Xen makes, what is left is mostly building the
  op's struct and the call record (two dataclasses per call) and the copy of the
  buffer Xen also makes.""",
    "trapped": """\
- The trapped write: the ioreq_t is built twice (by Xen, and by the emulator from
  the slot), and each side's outcome is an object; the baseline keeps them as tuples.""",
    "study": """\
- The 8 × 8 study: its 64 runs are the built-in scenario, which the shipped GVT-g
  policy and the i915 write order (issue 14) made about three times heavier per run
  than when the target was set (each new table is filled, linked and then written
  entry by entry through the trap path, and a failsafe vGPU's pages keep the shared
  out-of-sync pool from the others). 120 s on two cores needs runs of under 4 s.""",
}


def _why_missed(**missed: bool) -> list[str]:
    """The explanation of each missed target, or nothing when all were met."""
    texts = [WHY_MISSED[name] for name, miss in missed.items() if miss]
    if not texts:
        return []
    return ["Why the missed ones are missed (measured):", "", *texts]


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


#: ``ioreq_t`` as the flat baselines pack it (addr, data, count, size, port, pad, bits, type).
_FLAT_IOREQ = struct.Struct("<QQIIIHBB")


def _flat_trapped(leaves: list[int], addrs: list[int]) -> Callable[[], None]:  # noqa: PLR0915  (the steps read best in one place)
    """The trapped write's steps as flat Python, with dicts, tuples and one slot.

    The steps the model takes, in its order: the access checks, the p2m type
    of the frame, the design's owner of a type-15 frame, the counters, the
    request packed into the vCPU's slot with its port and state READY, the
    emulator's notification (a call through a dict), its copy of the slot and
    decode, the mediator's page write, snapshot and tree lookup, the answer
    written back (IORESP_READY) and the emulator's notification back, then Xen
    reading the slot once, resetting it and building the result.
    """
    pages = {gfn: bytearray(4096) for gfn in leaves}
    p2m = dict.fromkeys(leaves, 15)  # p2m_ioreq_server
    owner = {15: 1}  # the server that claimed the type
    snapshots = {gfn: bytes(4096) for gfn in leaves}
    page_roots: dict[int, set[int]] = {gfn: {1} for gfn in leaves}
    levels = dict.fromkeys(leaves, 1)
    counters: dict[str, int] = {}

    def bump(name: str) -> None:
        counters[name] = counters.get(name, 0) + 1

    slot = bytearray(32)
    port = 5
    state = {"blocked": False}
    domains = {0: ("dom0", True), 1: ("vm", False)}  # (name, privileged)

    def mapped(gfn: int) -> bytearray:  # xenforeignmemory_map: the target, the privilege
        dom = domains.get(1)
        if dom is None or not domains[0][1]:
            raise AssertionError
        return pages[gfn]

    def emulator(vcpu: int) -> None:
        raw = bytes(slot)
        addr, data, _count, size, _port, _pad, bits, _typ = _FLAT_IOREQ.unpack(raw)
        if bits & 0xF != 1:  # STATE_IOREQ_READY
            return
        slot[30] = 2  # STATE_IOREQ_INPROCESS
        bump("dm_requests")
        gfn, off = addr >> 12, addr & 4095
        page = mapped(gfn)
        page[off : off + size] = (data & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little")[:size]
        snapshots[gfn] = bytes(mapped(gfn))
        for _root in page_roots.get(gfn, ()):
            if levels.get(gfn, 1) > 1:
                bump("stale")
        slot[30] = 3  # STATE_IORESP_READY
        notify_back[vcpu]()

    def completed() -> None:
        if domains.get(1) is None or owner.get(15) != 1:  # the target, the server's owner
            raise AssertionError
        raw = bytes(slot)
        if raw[30] == 3:
            slot[30] = 0
            state["blocked"] = False

    notifiers = {1: emulator}
    notify_back = {0: completed}

    def flat() -> None:
        for a in addrs:
            if state["blocked"] or a > 0xFFFF_FFFF_FFFF_FFFF:  # the access checks
                raise AssertionError
            gfn = a >> 12
            if p2m.get(gfn, 0) == 15:
                sid = owner[15]
                bump("wp_writes")
                bump("routed_server")
                _FLAT_IOREQ.pack_into(slot, 0, a, 0, 1, 8, port, 0, 1, 1)
                state["blocked"] = True
                notifiers[sid](0)
                assert not state["blocked"]
                result = ("server", sid, None)
                assert result

    return flat


def _flat_ram(addrs: list[int]) -> Callable[[], None]:
    """A plain RAM write's steps as flat Python: the access checks, the p2m type
    (RAM unless changed), the page write, the VRAM and log-dirty notes, the
    counter and the result."""
    pages: dict[int, bytearray] = {}
    p2m: dict[int, int] = {}
    vram = (0xF0000, 0x100)
    vram_dirty: set[int] = set()
    counters: dict[str, int] = {}
    waiting: dict[tuple[int, int], object] = {}

    def flat_ram() -> None:
        for a in addrs:
            if (1, 0) in waiting or a > 0xFFFF_FFFF_FFFF_FFFF:  # the access checks
                raise AssertionError
            gfn, off = a >> 12, a & 4095
            t = p2m.get(gfn, 1)  # p2m_ram_rw
            if t in (1, 2):  # ram_rw, ram_logdirty
                counters["ram_accesses"] = counters.get("ram_accesses", 0) + 1
                page = pages.get(gfn)
                if page is None:
                    page = pages[gfn] = bytearray(4096)
                page[off : off + 8] = (1).to_bytes(8, "little")
                if vram[0] <= gfn < vram[0] + vram[1]:
                    vram_dirty.add(gfn)
                if t == 2:
                    p2m[gfn] = 1
                result = ("ram", None, None)
                assert result

    return flat_ram


def _trapped_write() -> tuple[float, float, float, float, float]:
    """(trapped write, flat baseline, RAM access, flat RAM baseline, submission), ns."""
    _host, guest, med, leaves = _wp_host()
    addrs = [(leaves[i % len(leaves)] << 12) + 8 * (i % 512) for i in range(N)]

    def trapped() -> None:
        for a in addrs:
            guest.write(a, 8, 0)

    flat = _flat_trapped(leaves, addrs)
    ram = [(0x200000 + (i % 64) * 4096 + 8 * (i % 512)) for i in range(N)]

    def ram_writes() -> None:
        for a in ram:
            guest.write(a, 8, 1)

    flat_ram = _flat_ram(ram)
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


#: The plan the bench times on one worker and on two: the built-in host, shortened.
PLAN_ROUNDS, PLAN_LIMITS, PLAN_SEEDS = 6, (256, 4096, 16384), (0, 1)


def _parallel(scenario: Scenario) -> dict[str, tuple[float, float, bool]]:
    """``findings --quick`` and a short ``plan`` on one worker and on two:
    (seconds on one, seconds on two, the same answer)."""
    out: dict[str, list[float]] = {}
    answers = []
    for workers in (1, 2):
        t0 = time.perf_counter()
        answers.append(findings_markdown(full=False, workers=workers))
        out.setdefault("findings", []).append(time.perf_counter() - t0)
    short = replace(scenario, rounds=PLAN_ROUNDS)
    plans = []
    for workers in (1, 2):
        t0 = time.perf_counter()
        plans.append(plan(short, limits=PLAN_LIMITS, seeds=PLAN_SEEDS, workers=workers))
        out.setdefault("plan", []).append(time.perf_counter() - t0)
    same = {"findings": answers[0] == answers[1], "plan": plans[0] == plans[1]}
    return {k: (a, b, same[k]) for k, (a, b) in out.items()}


def _down(ratio: float) -> str:
    """A speed-up to two decimals, rounded down: 1.797 shows as 1.79, not a 1.80 that missed."""
    return f"{math.floor(ratio * 100) / 100:.2f}"


def _up(ratio: float) -> str:
    """A cost ratio to one decimal, rounded up: 10.02 shows as 10.1, not a 10.0 that missed."""
    return f"{math.ceil(ratio * 10) / 10:.1f}"


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
    parallel = _parallel(load_scenario(XENGT_BDW, "builtin"))
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
            f"{_up(own / base)}×",
            "≤ 3×",
        ],
        [
            "trapped write, end to end",
            fmt_ns(wp),
            fmt_ns(wp_base),
            f"{_up(wp / wp_base)}×",
            "≤ 10×",
        ],
        ["plain RAM write", fmt_ns(ram), fmt_ns(ram_base), f"{_up(ram / ram_base)}×", "≤ 3×"],
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
            f"them back. The trapped write's and the RAM write's baselines take the model's "
            f"steps in flat Python with dicts, tuples and one 32-byte slot: the access "
            f"checks, the p2m type, the owner, the counters, the request packed into the "
            f"slot, the emulator called through a dict, its decode, the page mapped (target "
            f"and privilege looked up), written and snapshotted, the answer and its "
            f"notification, Xen's single read of the slot; for RAM the page write with its "
            f"VRAM and log-dirty notes. Each ratio is the fastest of 7 rounds that time "
            f"model and baseline in turn.",
            "",
            markdown_table(["per operation", "ioreqlab", "baseline", "ratio", "target"], rows),
            "",
            "Targets:",
            "",
            f"- DMOP round trip within 3× its baseline: **{_up(own / base)}×** — "
            f"{verdict(own / base <= 3)}",
            f"- trapped write within 10× flat Python: **{_up(wp / wp_base)}×** — "
            f"{verdict(wp / wp_base <= 10)}",
            f"- RAM access within 3×: **{_up(ram / ram_base)}×** — {verdict(ram / ram_base <= 3)}",
            f"- `run` on two workers: {t_one:.1f} s → {t_two:.1f} s, **{_down(t_one / t_two)}×** "
            f"(target ≥ 1.8×), same counts: {same} — {verdict(t_one / t_two >= 1.8 and same)}. "
            f"Its designs are three jobs of unequal length ({lengths}): on two workers no "
            f"schedule beats {ideal:.1f} s, a speed-up of {sum(full) / ideal:.2f}× at most.",
            *(
                f"- `{name}` on two workers: {a:.1f} s → {b:.1f} s, **{_down(a / b)}×** (target "
                f"≥ 1.8×), same {'text' if name == 'findings' else 'plan'}: {ok} — "
                f"{verdict(a / b >= 1.8 and ok)}"
                for name, (a, b, ok) in parallel.items()
            ),
            f"- an 8 × 8 capacity study of the built-in host on two workers: **{t_study:.0f} s** "
            f"(target < 120 s) — {verdict(t_study < 120)}",
            "",
            *_why_missed(
                dmop=own / base > 3,
                trapped=wp / wp_base > 10,
                ram=ram / ram_base > 3,
                study=t_study >= 120,
            ),
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
