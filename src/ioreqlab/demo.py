"""A first look at the seed series' question, using rangesets alone.

XenGT write-protects every guest page holding a GPU page table.  Under the
seed series each protected page is a singleton in a per-server ``WP_MEM``
rangeset whose node budget is ``max_wp_ram_ranges``.  This module places a
guest's GTT pages (scattered through guest memory, or in contiguous 2 MiB
chunks as Ian Campbell suggested on 2016-02-04), protects them one by one,
and counts what the rangeset design does with them: pages protected, limit
hits (-ENOMEM), stored ranges, and heap bytes with Xen's 32-byte list node
and the series' 40-byte red-black node.

The full scenario engine (hosts, domains from xl.cfg, device models, three
designs) supersedes this; until then it is what ``ioreqlab run`` shows.
No I/O here: :func:`run_demo` returns rows, the CLI prints them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ioreqlab.abi.constants import MAX_NR_IO_RANGES, PAGE_SHIFT
from ioreqlab.errors import XenENOMEM
from ioreqlab.rangeset import NodeLayout, RangeSet

__all__ = ["DemoRow", "place_pages", "protect", "run_demo"]

#: Pages in a 2 MiB chunk.
CHUNK_PAGES = (2 << 20) >> PAGE_SHIFT


@dataclass(frozen=True, slots=True)
class DemoRow:
    """What protecting one placement under one limit and node layout gave."""

    placement: str
    limit: int
    layout: str
    pages: int
    protected: int
    limit_hits: int
    stored_ranges: int
    heap_bytes: int


def place_pages(rng: random.Random, guest_pages: int, n: int, placement: str) -> list[int]:
    """Choose ``n`` gfns for GTT pages, in allocation order.

    ``scattered``: uniformly among all guest pages (a fragmented guest).
    ``chunked``: whole 2 MiB chunks at random aligned positions, filled in order.
    """
    if placement == "scattered":
        return rng.sample(range(guest_pages), n)
    if placement == "chunked":
        chunks = rng.sample(range(guest_pages // CHUNK_PAGES), -(-n // CHUNK_PAGES))
        gfns = [c * CHUNK_PAGES + i for c in chunks for i in range(CHUNK_PAGES)]
        return gfns[:n]
    raise ValueError(f"unknown placement {placement!r}")


def protect(gfns: list[int], limit: int, layout: NodeLayout, placement: str = "") -> DemoRow:
    """Add each gfn as a singleton under ``limit``; count hits instead of stopping."""
    wp = RangeSet("wp_mem", limit=limit, hex=True, structure=layout)
    hits = 0
    for gfn in gfns:
        try:
            wp.add_singleton(gfn)
        except XenENOMEM:
            hits += 1
    return DemoRow(
        placement=placement,
        limit=limit,
        layout=layout.name.lower(),
        pages=len(gfns),
        protected=len(gfns) - hits,
        limit_hits=hits,
        stored_ranges=wp.nr_ranges,
        heap_bytes=wp.bytes_in_use,
    )


def run_demo(
    seed: int = 0,
    *,
    guest_mib: int = 4096,
    gtt_pages: int = 4096,
    limits: tuple[int, ...] = (MAX_NR_IO_RANGES, 8192),
) -> list[DemoRow]:
    """Every placement × limit × node layout, on one seeded placement each."""
    guest_pages = (guest_mib << 20) >> PAGE_SHIFT
    rows: list[DemoRow] = []
    for placement in ("scattered", "chunked"):
        gfns = place_pages(random.Random(seed), guest_pages, gtt_pages, placement)
        for limit in limits:
            rows.extend(protect(gfns, limit, layout, placement) for layout in NodeLayout)
    return rows
