"""``python -m bench [--quick]``: run every suite and rewrite bench/RESULTS.md."""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

from bench import (
    mainjob_bench,
    rangeset_bench,
    realdm_bench,
    routing_bench,
    scenario_bench,
    wp_bench,
)
from bench.harness import machine_note

RESULTS = Path(__file__).with_name("RESULTS.md")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes only; do not write")
    args = parser.parse_args()
    t0 = time.monotonic()
    sizes = [256, 8192] if args.quick else rangeset_bench.SIZES
    section, _ = rangeset_bench.run(sizes)
    sections = [section, routing_bench.run(), wp_bench.run(), realdm_bench.run()]
    if not args.quick:
        sections.append(scenario_bench.run())
        sections.append(mainjob_bench.run())
    elapsed = time.monotonic() - t0
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            "Written by `make bench` (`python -m bench`); do not edit by hand.",
            "",
            f"- Machine: {machine_note()}",
            f"- Date: {datetime.date.today().isoformat()}; suite time {elapsed:.0f} s",
            "",
            *sections,
        ]
    )
    print(text)
    if not args.quick:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
