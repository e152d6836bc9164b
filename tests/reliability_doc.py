"""Generate docs/reliability.md from the tests themselves.

    .venv/bin/python -m tests.reliability_doc        # rewrite docs/reliability.md

The bad-input table lists every test of ``tests/test_hv_badinput.py`` with the
errno values it asserts (read from its source), so the table cannot drift from
what is actually checked; ``test_reliability_doc_is_current`` fails when the
document is stale.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

from hypothesis import settings

from ioreqlab.hv.pages import DEFAULT_MODEL_MEMORY, MODEL_ENTRY_COST, MODEL_PAGE_COST
from ioreqlab.toolstack.xlu_grammar import tables
from tests.xl_configs import NIC_TOKENS, PAIRED_PIECES

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
LONG_RUN = ROOT / "docs" / "long-run.json"
ERRNO = re.compile(r"errno\.(E[A-Z0-9]+)")


def bad_input_rows() -> list[tuple[str, str]]:
    source = (ROOT / "tests" / "test_hv_badinput.py").read_text()
    rows = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            body = ast.get_source_segment(source, node) or ""
            codes = sorted(set(ERRNO.findall(body)), key=body.find)
            words = node.name.removeprefix("test_").replace("_", " ")
            rows.append((words, ", ".join(f"-{c}" for c in codes) or "accepted"))
    return rows


def count_tests(pattern: str) -> int:
    n = 0
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        n += len(re.findall(pattern, path.read_text()))
    return n


def state_machines() -> dict[str, int]:
    """Per test file, how many Hypothesis state machines it defines (subclasses included)."""
    found = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        known = {"RuleBasedStateMachine"}
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
                if bases & known:
                    known.add(node.name)
        if len(known) > 1:
            found[path.name] = len(known) - 1
    return found


def long_run_section() -> str:
    """The figures of the last ``python -m tests.long_run``, from docs/long-run.json."""
    record = json.loads(LONG_RUN.read_text())
    machines = record["machines"]
    steps = sum(m["steps"] for m in machines)
    examples = sum(m["examples"] for m in machines)
    lines = [
        f"Last run {record['date']}, {record['minutes']} minutes, "
        f"{record['settings']['examples']:,} examples per machine and fuzzer, up to "
        f"{record['settings']['steps']} steps each; {record['failures']} failures "
        "(a failure stops the run, so a recorded run is a clean one).",
        "",
        "| state machine | examples | steps |",
        "|---|---:|---:|",
        *(f"| {m['machine']} | {m['examples']:,} | {m['steps']:,} |" for m in machines),
        f"| **all {len(machines)}** | **{examples:,}** | **{steps:,}** |",
        "",
        "Structured fuzzers: calls per op, and how many got through every check (valid",
        "ops with 0-2 fields mutated, live server ids, real domains; mostly from dom0):",
        "",
        "| fuzzer | op | calls | succeeded |",
        "|---|---|---:|---:|",
    ]
    for fuzzer, ops in record["structured"].items():
        for op, (calls, ok) in ops.items():
            lines.append(f"| {fuzzer} | {op.lower()} | {calls:,} | {ok:,} ({ok / calls:.0%}) |")
    lines += [
        "",
        "Raw fuzzers (arbitrary bytes and contents): "
        + ", ".join(f"{name} {n:,} inputs" for name, n in record["raw"].items())
        + ".",
    ]
    big = record["big_inputs"]
    lines += [
        "",
        f"Parsers on large inputs: {big['texts']} generated texts of "
        f"{big['smallest'] / 1e6:.1f}-{big['largest'] / 1e6:.1f} MB ({big['bytes'] / 1e6:,.0f} MB "
        "in all: token soup, lists nested millions deep, megabyte strings and numbers, "
        "random Unicode) through the xl.cfg parser and the scenario loader: only their own "
        f"error came back, the slowest parse took {big['slowest_seconds']} s.",
    ]
    return "\n".join(lines)


def render() -> str:
    ci = settings.get_profile("ci")
    long = settings.get_profile("long")
    ci_examples, ci_steps = ci.max_examples, ci.stateful_step_count
    property_tests = count_tests(r"@given\(")
    per_file = state_machines()
    machines = sum(n for f, n in per_file.items() if f != "test_reentrancy.py")
    reentrant = per_file.get("test_reentrancy.py", 0)
    reentrancy = (ROOT / "tests" / "test_reentrancy.py").read_text()
    re_examples = int(re.findall(r"settings\(max_examples=(\d+)\)", reentrancy)[0])
    rows = "\n".join(f"| {what} | {codes} |" for what, codes in bad_input_rows())
    xl_real = (ROOT / "tests" / "test_xl_real.py").read_text()
    xl_generated = int(re.findall(r"^GENERATED, SEED = (\d+), \d+", xl_real, re.M)[0])
    xlu_states = len(tables().action)
    cnum = (ROOT / "tests" / "test_cnum_libc.py").read_text()
    cnum_count = int(re.findall(r"^COUNT, SEED = (\d+), \d+", cnum, re.M)[0])
    xl_corpus = len(list((ROOT / "tests" / "data" / "xl").glob("*.cfg")))
    golden = json.loads((ROOT / "tests" / "data" / "xl-generated.json").read_text())
    xl_pieces, xl_nic = len(PAIRED_PIECES), len(NIC_TOKENS)
    xl_golden = sum(len(v) for v in golden.values() if isinstance(v, list))
    xlu = (ROOT / "tests" / "test_xlu_real.py").read_text()
    xlu_soup, xlu_mutants = map(int, re.findall(r"^SOUP, MUTANTS = (\d+), (\d+)", xlu, re.M)[0])
    hand = xlu[xlu.index("HAND_MADE = [") : xlu.index("]\n\n\n", xlu.index("HAND_MADE = ["))]
    len_hand = sum(1 for line in hand.splitlines()[1:] if line.strip().startswith(('"', "'")))
    xen_rs = (ROOT / "tests" / "test_rangeset_xen.py").read_text()
    rs_sequences, rs_steps = map(
        int, re.findall(r"^SEQUENCES, STEPS = (\d+), (\d+)", xen_rs, re.M)[0]
    )
    fuzz = (ROOT / "tests" / "test_fuzz.py").read_text()
    share = float(re.findall(r"^STRUCTURED_SUCCESS_SHARE = ([0-9.]+)", fuzz, re.M)[0])
    return f"""# Reliability

Generated by `python -m tests.reliability_doc` from the test suite (do not edit by hand).

ioreqlab holds Jan Beulich's rule from the thread — "the hypervisor shouldn't rely on
any tool side checking" (2016-02-01) — and XSA-77's carve-out that a device model in a
stub domain may be hostile. This page says who can attack the model and through what,
the bounds it holds, what is checked, how much a CI run executes, and the figures of
the last long run.

## Attack surfaces

| caller | what it controls | where it enters |
|---|---|---|
| a guest | port and MMIO accesses of any size, address, direction flag and `rep` count (straddling frames included), the HVM params a guest may set or read | `Host.guest_access`, `Host.hvm_op` |
| its device model (dom0's QEMU, or a stub domain's) | every DMOP field, the ioreq slots and buffered ring it shares with Xen (states, pointers, sizes), event-channel signals, and anything it does from inside Xen's notification (destroying its server or the guest, re-entering with another access) | `Host.dm_op`, the shared pages, `Host.ioreq_completed`, the notify callback |
| any other domain | DMOPs and HVMOPs aimed at domains it does not serve, stale server ids, domain ids that were reused | the same boundary: `-EPERM`/`-ESRCH`/`-ENOENT` |
| whoever writes the inputs | xl.cfg text, scenario TOML, trace files, CLI arguments and paths | `parse_xl_cfg`, `load_scenario`, the trace parser, `ioreqlab` |
| a real device-model process | every byte it sends the fake Xen (`ioreqlab dm`) | `ioreqlab.realdm` |

Python callers of the `Host` methods are one more: every integer argument is checked
as its C type before any effect (`ioreqlab.hv.boundary`, one table), so a float, a
string, `-1` or `2**64` is `-EINVAL` rather than an exception from deep inside.

## Bounds

| bound | value | past it |
|---|---|---|
| a scenario file | 1 MiB; arrays, inline tables and dotted keys nested at most 64 deep | refused before the TOML parser sees it |
| any file the CLI reads (config, scenario, trace) | 64 MiB | `EFBIG`, one line |
| an xl.cfg number | 64 significant digits | `ERANGE`, as `strtol` on overflow |
| a scenario's `xl_cfg_file` | inside the scenario's own folder | refused, the file not read |
| the machine's RAM (`Host(memory_mib=)`) | 1 TiB unless told | `-ENOMEM` at creation, as the build's `populate_physmap` |
| what the model holds (`Host(model_memory_bytes=)`) | {DEFAULT_MODEL_MEMORY >> 30} GiB unless told: {MODEL_PAGE_COST:,} B per page written or mapped, {MODEL_ENTRY_COST} B per p2m entry | `ModelLimitError`, nothing changed (not an errno: it is the model's limit, not Xen's) |
| the Xen heap (`Host(xen_heap_bytes=)`) | 64 MiB unless told | `-ENOMEM`, as Xen's `xmalloc` |
| work per call | `set_mem_type` 256 frames, a p2t disclaim sweep 256 tracked frames, then a continuation | the DMOP continues, as Xen's preemptible loops |
| ioreq server ids (4.7) | one lap of the 16-bit id space | `-ENOSPC`, never a hang |

## What is checked

| check | where | what it proves |
|---|---|---|
| stateful model checking | `tests/test_model_check.py` | create, destroy, set_state, map/unmap of every range type (PCI included), claims, set_mem_type, set_param and get_param and guest accesses, from dom0, a stub device model with a target, a second stub serving nobody, the guests themselves and a domain that does not exist, with stale server ids — each result equal to a naive reference model (`tests/refmodel.py`) on all three designs; after every step: rangesets canonical and within budget, heap accounting exact, one owner per ioreq type, exact `entry_count`, no change to any other domain, every ioreq slot back to NONE |
| rangeset oracle machine | `tests/test_rangeset_props.py` | the blocked rangeset, the same with tiny blocks, and the literal port of Xen's linked list agree with a `set[int]` oracle and with each other, node budget included, and a failed call changes nothing |
| fault injection | `tests/test_faults.py` | every Xen-heap allocation site (`ioreq_server`, `rangeset`, `ioreq_vcpu`, `rangeset_node`, `p2t_node`) is made to fail; each failure is -ENOMEM with the host unchanged, except `set_mem_type`, which keeps the pages before the failing one, as Xen documents; seeded random faults never corrupt accounting |
| ABI fuzzing | `tests/test_fuzz.py` | DMOP and HVMOP with arbitrary bytes, buffer counts, callers and targets return only 0 or -errno |
| emulator fuzzing | `tests/test_fuzz.py`, `tests/test_dm.py` | arbitrary slot and ring contents (state flipped back, ports ≥ 65536, sizes > 8, half quad-words, corrupt ring pointers) never crash the emulator runtime |
| parser fuzzing | `tests/test_xlcfg.py`, `tests/test_fuzz.py` | the xl.cfg parser and the scenario loader raise only their own located error on any text; xl.cfg format → parse round-trips |
| cross-domain heap | `tests/test_heap_exhaustion.py` | a hostile guest cannot make another domain's device-model operations fail when preallocation is on, on any design; with it off it can (rangeset, p2t) — measured in `docs/findings.md` |
| delivery | `tests/test_hv_delivery.py` | ioreq slot states only move forward (XSA-262): backward moves are refused and counted, impossible states crash the domain |
| re-entrancy | `tests/test_reentrancy.py` | emulators that, inside Xen's notification, answer, ignore, answer twice, destroy their server, the guest or their own stub domain, write an impossible state, re-enter with another access, unmap or disable, serving port, MMIO, straddling, `rep` and buffered accesses on every design: only `XenError` ever escapes, `check_invariants` holds after every step (no in-flight entry of a dead domain), and every outcome (done, pending, crashed, gone, buffered) is reached |
| structured fuzzing | `tests/test_fuzz.py` | valid DMOPs and HVMOPs with mutated fields reach every handler each profile has; at least {share:.0%} of each op's calls succeed (the long run's counts are below) |
| C types | `tests/test_hv_badinput.py` | every integer argument of every `Host` method refuses a non-integer and the values just outside its C type, with the host unchanged |
| model bounds | `tests/test_model_bounds.py` | a guest larger than the machine, pages past the model's bound and retyping past it are refused with nothing changed; the stated costs cover what Python really spends (tracemalloc) |

## Real code as the oracle

Where Xen's, Linux's or QEMU's own code can run here, the model is checked against it,
not against code written here. Each runs in the README's test command; the set-up
fetches what it needs (`scripts/system-packages`, `scripts/xen-sources`), and the tests
skip with the reason only where that cannot be had — never under `CI=true`.

| real code | what is compared | size of a run | disagreements |
|---|---|---|---|
| Xen 4.17's `xen/common/rangeset.c` (Debian's `xen` source package), compiled with a harness (`tests/xen_rangeset.py`) | after every operation: return code, stored ranges, the node budget `nr_ranges`, the `rangeset_printk` bytes; heap failures injected at the n-th allocation; names cut at 31 bytes | {rs_sequences:,} random sequences of {rs_steps} operations ({rs_sequences * rs_steps:,}) | 0, apart from the deliberate deviations (`s > e`; Xen's two `remove_range` bugs, whose calls are skipped and each checked against the restatement in `docs/findings.md`) |
| Debian's `libxlutil` 4.17 (xl's own xl.cfg parser), through ctypes, each input in a forked child (`tests/libxlu_oracle.py`) | accept or refuse, the report byte for byte, and for every name `xlu_cfg_get_string`/`_long`/`_list`: value, found or not, and each getter's warnings | Debian's examples, `tests/data/xl`, {len_hand} hand-made cases, {xlu_soup:,} generated and {xlu_mutants:,} mutated inputs | 0 (a NUL inside quotes, where libxlu aborts, is refused by the model) |
| Debian's `xl` 4.17 (`xen-utils-4.17`), unmodified, its dry run answered by a preloaded shim (`tests/c/xl_dryrun_shim.c`) | `xl -N create`'s exit code, stderr and stdout (the `libxl_domain_config` JSON) byte for byte, uuid masked; the model's own keys (`max_wp_ram_ranges`, `vgt*`) taken out of its document | Debian's 3 examples, the {xl_corpus} configs of `tests/data/xl`, {xl_generated:,} generated configs over every key the model's xl follows and {xl_generated:,} generated disk specs (`tests/xl_configs.py`); the real xl's answers to {xl_golden:,} more (any settings, disk specs, HVM guests that mostly build, every ordered pair of {xl_pieces} disk-spec pieces that set the same thing and of {xl_nic} vif options) are kept in `tests/data/xl-generated.json`, checked against the real xl, and the model is checked against them in-process (`tests/test_xl_generated.py`), so the toolstack's mutation stages test against the real xl too | 0 |
| the tables bison made of libxlu's grammar (`tools/libs/util/libxlu_cfg_y.c`, Debian's Xen 4.17 source), decoded as `yyparse` reads them (`tests/test_xlu_tables.py`) | the model's LALR(1) automaton, state by state up to numbering: explicit actions (shift and target, reduce and rule), default reductions, reductions without a lookahead, gotos | all {xlu_states} states | 0 |
| glibc's `strtol` and `strtoul` (libxlu's and xl's number conversions), through ctypes (`tests/test_cnum_libc.py`) | value, where parsing stopped, `ERANGE`, for bases 0, 8, 10 and 16 | {cnum_count:,} seeded strings of white space, signs, `0x`, zeros, digits, overflowing runs and junk | 0 |
| QEMU 7.2 (`qemu-system-xen`) and `libxendevicemodel` 4.17, unmodified, against the fake Xen (`ioreqlab dm`) | the device model's own hypercalls, ioreq slots, buffered ring and event channels; what it answers to port and PCI accesses | `tests/test_realdm_*.py` | none: every test passes |

## How much a CI run executes

- Hypothesis profile `ci`: {ci_examples} examples per property test, {ci_steps} steps per
  stateful run, derandomized (the same cases every run).
- {property_tests} property tests and {machines} state machines: up to
  {machines * ci_examples * ci_steps:,} stateful steps per CI run, plus the {reentrant}
  re-entrancy machines at {re_examples} examples each ({reentrant * re_examples * ci_steps:,} steps).
- Fault injection: every allocation site, plus 60 seeded random-fault runs of 60 operations.

## Longer runs

- The long run, whose figures are below: `.venv/bin/python -m tests.long_run`
  (every state machine and fuzzer with fresh randomness, about 30 minutes).
- The whole suite under the long Hypothesis profile ({long.max_examples} examples,
  {long.stateful_step_count} steps): `make test-long`.
- Coverage-guided fuzzing with atheris (`.venv/bin/pip install -e '.[fuzz]'` first):
  - `.venv/bin/python fuzz/fuzz_dmop.py -atheris_runs=200000` — the DMOP/HVMOP boundary;
  - `.venv/bin/python fuzz/fuzz_xlcfg.py -atheris_runs=500000` — the xl.cfg parser and the scenario loader.
- Mutation testing, in stages of a few modules against the tests that exercise them:
  `make mutate STAGES=rangeset` (one stage), `make mutate` (all; hours). A stage tests
  the committed tree (`HEAD`, named in its record, which is kept in `docs/mutation/`),
  not edits under way. After tests
  are added, `.venv/bin/python -m tests.mutation_retest STAGE` re-tests just that
  stage's survivors against them (minutes). Scores, each survivor's verdict (pinned by
  a named test, killed by today's tests, equivalent with the reason, or message- or
  statistics-only) and what is left to triage: `docs/mutation.md`. Each verdict is
  bound to the diff it was given for (`.venv/bin/python -m tests.mutation --bind`;
  `docs/mutation/verdicts.json`): a re-run that renumbers a module's mutants sends a
  verdict whose name now means another mutation back to triage, and the suite fails
  while any verdict is unbound or stale, or `docs/mutation.md` is not what the
  records give (`tests/test_main_job.py`).

## The last long run

{long_run_section()}

## Bad inputs at the hypercall boundary

One test per row of the research notes' bad-input table (`tests/test_hv_badinput.py`);
each asserts the errno below and that nothing in the host changed. The parser's bad
inputs are in `tests/test_xlcfg.py` and the golden files of `tests/data/xl/`.

| input | result |
|---|---|
{rows}
"""


if __name__ == "__main__":
    import tests.conftest  # noqa: F401  (registers the profiles)

    DOC.write_text(render())
    sys.stdout.write(f"wrote {DOC}\n")
