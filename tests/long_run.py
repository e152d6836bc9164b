"""The long run: every state machine and fuzzer far past CI's budget, figures recorded.

    .venv/bin/python -m tests.long_run                   # the documented long run
    .venv/bin/python -m tests.long_run --examples 50     # a quick one

Runs, with fresh randomness (not CI's derandomized cases):

* every Hypothesis state machine of the suite (the hypercall model checker on
  three designs and two profiles, the re-entrancy driver, the rangeset oracle
  machine), counting examples and steps;
* the structured DMOP and HVMOP fuzzers, counting calls and successes per op;
* the raw ABI fuzzers, counting inputs;
* the xl.cfg parser and the scenario loader on generated texts of 1-10 million
  characters (1-30 MB),
  checking that only their own error comes back and recording the slowest.

Any failure stops the run with the falsifying example (nothing is recorded).
On success the figures go to ``docs/long-run.json``, which
``tests/reliability_doc.py`` renders into docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, run_state_machine_as_test

import tests.conftest  # noqa: F401  (the profiles, and no constants seeded from the source)
from ioreqlab.scenario import ScenarioError, load_scenario
from ioreqlab.toolstack.xlcfg import XlCfgError, parse_xl_cfg
from tests import test_fuzz, test_model_check, test_rangeset_props, test_reentrancy

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "long-run.json"

MACHINES: list[tuple[str, type[RuleBasedStateMachine]]] = [
    ("model check p2m 4.7", test_model_check.HypercallMachine),
    ("model check rangeset 4.7", test_model_check.RangesetMachine),
    ("model check p2t 4.7", test_model_check.P2tMachine),
    ("model check p2m 4.17", test_model_check.P2mMachine417),
    ("model check rangeset 4.17", test_model_check.RangesetMachine417),
    ("model check p2t 4.17", test_model_check.P2tMachine417),
    ("re-entrancy p2m 4.17", test_reentrancy.ReentrancyMachine),
    ("re-entrancy rangeset 4.7", test_reentrancy.ReentrancyRangeset47),
    ("re-entrancy p2t 4.17", test_reentrancy.ReentrancyP2t),
    ("re-entrancy p2m 4.7", test_reentrancy.ReentrancyP2m47),
    ("rangeset oracle", test_rangeset_props.RangeSetMachine),
]


def counted(machine: type[RuleBasedStateMachine], tally: Counter[str]) -> type:
    """``machine`` with an invariant that counts steps (invariants run after each)."""

    class Counted(machine):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__()
            tally["examples"] += 1

        @invariant()
        def count_step(self) -> None:
            tally["checks"] += 1

    Counted.__name__ = machine.__name__
    return Counted


def run_machines(examples: int, steps: int) -> list[dict[str, Any]]:
    rows = []
    for name, machine in MACHINES:
        tally: Counter[str] = Counter()
        start = time.perf_counter()
        run_state_machine_as_test(  # type: ignore[no-untyped-call]
            counted(machine, tally),
            settings=settings(
                max_examples=examples, stateful_step_count=steps, derandomize=False, database=None
            ),
        )
        # One invariant check at set-up, then one after every step.
        rows.append(
            {
                "machine": name,
                "examples": tally["examples"],
                "steps": tally["checks"] - tally["examples"],
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
        print(f"  {name}: {rows[-1]}", file=sys.stderr)
    return rows


def counting(test: Callable[..., None], examples: int) -> int:
    """Run a ``@given`` test for ``examples`` examples; how many inputs it tried."""
    n = 0
    test = settings(settings.default, max_examples=examples)(test)
    inner = test.hypothesis.inner_test  # type: ignore[attr-defined]

    def each(*args: object, **kwargs: object) -> None:
        nonlocal n
        n += 1
        inner(*args, **kwargs)

    test.hypothesis.inner_test = each  # type: ignore[attr-defined]
    try:
        test()
    finally:
        test.hypothesis.inner_test = inner  # type: ignore[attr-defined]
    return n


_XL_WORDS = [
    "name", "=", '"', "'", "[", "]", ",", "+=", "\n", " ", "#", ";", "0x", "-", "memory",
    "vif", "disk", "1", "99999999999", "é", "\t", "\\", "=\n", "[[", "]]", "\0", "\x7f",
]  # fmt: skip


def big_texts(rng: random.Random, count: int) -> list[str]:
    """Texts of 1-10 MB: token soup, deep lists, long strings, long numbers, junk."""
    texts = []
    for i in range(count):
        size = rng.randint(1 << 20, 10 << 20)
        kind = i % 5
        if kind == 0:
            words = rng.choices(_XL_WORDS, k=size // 3)
            text = "".join(words)
        elif kind == 1:
            depth = size // 2
            text = "a = " + "[" * depth + "]" * depth + "\n"
        elif kind == 2:
            text = 'a = "' + "x" * size + '"\n'
        elif kind == 3:
            text = "a = " + "9" * size + "\n"
        else:
            text = "".join(chr(rng.randrange(1, 0x3000)) for _ in range(size // 8)) * 8
        texts.append(text[:size])
    return texts


def run_big_inputs(count: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    slowest = 0.0
    total = 0
    sizes = []
    for text in big_texts(rng, count):
        for parse, errors in (
            (lambda t: parse_xl_cfg(t, "big.cfg"), (XlCfgError,)),
            (lambda t: load_scenario(t, "big.toml"), (ScenarioError,)),
        ):
            start = time.perf_counter()
            try:
                parse(text)
            except errors as err:
                assert str(err), "an empty error message"
            slowest = max(slowest, time.perf_counter() - start)
        total += len(text.encode())
        sizes.append(len(text.encode()))
    return {
        "texts": count,
        "bytes": total,
        "smallest": min(sizes, default=0),
        "largest": max(sizes, default=0),
        "slowest_seconds": round(slowest, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=1000, help="examples per machine and fuzzer")
    ap.add_argument("--steps", type=int, default=200, help="steps per stateful example")
    ap.add_argument("--big", type=int, default=20, help="1-10 MB parser inputs")
    ap.add_argument("--seed", type=int, default=20261201, help="seed of the big inputs")
    args = ap.parse_args(argv)
    started = time.time()
    settings.register_profile(
        "long-run", parent=settings.get_profile("long"), max_examples=args.examples,
        derandomize=False, database=None,
    )  # fmt: skip
    settings.load_profile("long-run")
    print("state machines", file=sys.stderr)
    machines = run_machines(args.examples, args.steps)
    print("structured fuzzers", file=sys.stderr)
    structured: dict[str, dict[str, list[int]]] = {}
    for xen in ("4.7", "4.17"):
        calls, ok = test_fuzz.structured_dmop_outcomes(xen, args.examples)
        structured[f"DMOP {xen}"] = {op: [calls[op], ok[op]] for op in sorted(calls)}
    calls, ok = test_fuzz.structured_hvmop_outcomes(args.examples)
    structured["HVMOP"] = {op: [calls[op], ok[op]] for op in sorted(calls)}
    print("raw fuzzers", file=sys.stderr)
    raw = {
        "dm_op bytes": counting(
            test_fuzz.test_dm_op_returns_only_zero_or_minus_errno, args.examples
        ),
        "hvm_op bytes": counting(
            test_fuzz.test_hvm_op_returns_only_zero_or_minus_errno, args.examples
        ),
        "emulator slots and rings": counting(
            test_fuzz.test_emulator_survives_any_slot_and_ring_contents, args.examples
        ),
        "scenario text": counting(
            test_fuzz.test_scenario_loader_raises_only_its_own_error, args.examples
        ),
    }
    print("1-10 MB parser inputs", file=sys.stderr)
    big = run_big_inputs(args.big, args.seed)
    record = {
        "date": time.strftime("%Y-%m-%d", time.gmtime(started)),
        "minutes": round((time.time() - started) / 60, 1),
        "settings": {"examples": args.examples, "steps": args.steps, "big": args.big},
        "machines": machines,
        "structured": structured,
        "raw": raw,
        "big_inputs": big,
        "failures": 0,
    }
    RECORD.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {RECORD}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
