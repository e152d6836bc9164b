"""Routing cost per access: Xen's worst case against the common case and a dict.

Worst case (xen-facts §2.5): 8 ioreq servers, each with 256 port and 256 MMIO
ranges (the per-type limit), and accesses that only the *oldest* server
matches, so selection walks every server.  Common case: one server with a
few ranges.  Baseline: a bare ``dict`` lookup in the same run.  Two figures
per case: ``select_server`` alone (the routing decision) and a whole
``guest_access`` (decision, slot write, an emulator that answers at once,
completion).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from bench.harness import Timing, fmt_ns, markdown_table, time_batch
from ioreqlab import devicemodel
from ioreqlab.abi import IOREQ_SIZE, IoReq, IoReqState, IoReqType
from ioreqlab.host import Host
from ioreqlab.hv.routing import select_server

MMIO = 0xE000_0000
N = 20_000


def _build(servers: int, ranges: int) -> tuple[Host, int, list[tuple[int, int]]]:
    """A host whose oldest server owns the ranges every access will hit."""
    host = Host(xen_heap_bytes=64 << 20)
    g = host.create_domain(memory_mib=256)
    dm = devicemodel.open(host, 0)
    targets: list[tuple[int, int]] = []
    for k in range(servers):
        sid = dm.create_ioreq_server(g)
        for i in range(ranges):
            base = MMIO + ((k * ranges + i) << 12)
            dm.map_io_range_to_ioreq_server(g, sid, True, base, base + 0x7FF)
            port = 0x1000 + (k * ranges + i) * 4
            dm.map_io_range_to_ioreq_server(g, sid, False, port, port + 1)
            if k == 0:
                targets.append((base, port))
        dm.set_ioreq_server_state(g, sid, True)
        _answer_at_once(host, dm, g, sid)
    return host, g, targets


def _answer_at_once(host: Host, dm: devicemodel.DeviceModel, g: int, sid: int) -> None:
    pages = dm.map_ioreq_server(g, sid, lambda vcpu: None)

    def notify(vcpu: int) -> None:
        off = vcpu * IOREQ_SIZE + 30
        pages.shared[off] = (pages.shared[off] & 0xF0) | IoReqState.IORESP_READY
        dm.notify(g, sid, vcpu)

    host.bind_ioreq_notifier(0, g, sid, notify)


def _case(servers: int, ranges: int, rng: random.Random) -> dict[str, Timing]:
    host, g, targets = _build(servers, ranges)
    d = host.domains[g]
    picks = [rng.choice(targets) for _ in range(N)]
    mmio_reqs = [IoReq(addr=m + 8, size=4, dir=1, type=IoReqType.COPY) for m, _ in picks]
    pio_reqs = [IoReq(addr=p, size=2, dir=1, type=IoReqType.PIO) for _, p in picks]

    def select(reqs: list[IoReq]) -> Callable[[], None]:
        def run() -> None:
            for r in reqs:
                select_server(d, r)

        return run

    def access() -> None:
        for m, _ in picks:
            host.guest_access(g, 0, "mmio", m + 8, 4, write=False)

    return {
        "select mmio": time_batch(select(mmio_reqs), N),
        "select port": time_batch(select(pio_reqs), N),
        "guest_access mmio": time_batch(access, N, repeat=3),
    }


def run(seed: int = 2016) -> str:
    """Measure both cases and the dict baseline; return the Markdown section."""
    rng = random.Random(seed)
    table = {i: i for i in range(8 * 256)}
    keys = [rng.randrange(8 * 256) for _ in range(N)]

    def dict_lookup() -> None:
        for k in keys:
            table.get(k)

    base = time_batch(dict_lookup, N)
    worst = _case(8, 256, rng)
    common = _case(1, 4, rng)
    rows = []
    for what in ("select mmio", "select port", "guest_access mmio"):
        w, c = worst[what], common[what]
        rows.append(
            [
                what,
                fmt_ns(c.median_ns),
                fmt_ns(w.median_ns),
                f"{w.median_ns / c.median_ns:.1f}×",
                f"{c.median_ns / base.median_ns:.0f}×",
                f"{w.median_ns / base.median_ns:.0f}×",
            ]
        )
    head = [
        "operation",
        "1 server × 4",
        "8 servers × 256",
        "worst ÷ common",
        "common ÷ dict",
        "worst ÷ dict",
    ]
    return "\n".join(
        [
            "## Routing cost per access",
            "",
            f"Median ns per access, loop included; baseline `dict.get` in the same loop: "
            f"{fmt_ns(base.median_ns)}. Worst case: 8 servers × 256 ranges of each type, every",
            "access matched only by the oldest server (Xen walks newest first).",
            "",
            markdown_table(head, rows),
            "",
        ]
    )
