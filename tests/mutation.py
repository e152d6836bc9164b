"""``make mutate``: mutation testing of the core, one stage at a time (mutmut, pinned).

Each stage mutates a few modules and runs only the tests that exercise them,
so one stage fits two cores in minutes rather than the whole core in hours
(every mutant of every module against the whole suite was measured here at
about 9 hours).  A stage runs in its own copy of the checkout under
``build/mutate/<stage>`` (mutmut writes its ``mutants/`` tree beside the
sources), with its own ``setup.cfg``.  Its counts and surviving mutants go to
``docs/mutation/<stage>.json``, which is committed: a record outlives the
checkout it ran in (``build/`` does not), and names the commit it tested.
``--doc`` gathers every stage that has run into ``docs/mutation.md``.

    python -m tests.mutation rangeset          # one stage
    python -m tests.mutation --all             # every stage, in turn
    python -m tests.mutation --doc             # rewrite docs/mutation.md
    python -m tests.mutation --bind            # bind new verdicts to their diffs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.mutation_triage import TRIAGE

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "mutate"
#: The stage records and re-test results (committed; see the module docstring).
RECORDS = ROOT / "docs" / "mutation"
DOC = ROOT / "docs" / "mutation.md"

#: The fast tests of the hypervisor core (each file under about 10 s; the model check
#: and the heap-exhaustion studies are left to CI):
#: every hv stage runs its mutants against all of them, since a module's
#: behaviour is often pinned by another module's tests.
HV_TESTS = (
    "test_hv_badinput", "test_hv_delivery", "test_hv_evtchn", "test_hv_heap",
    "test_hv_intercept", "test_hv_pages", "test_hv_params", "test_hv_platform",
    "test_hv_platform_edges", "test_hv_rep", "test_hv_routing", "test_pins", "test_abi",
    "test_wp_designs", "test_wp_tables", "test_wp_session", "test_fuzz", "test_faults",
    "test_model_bounds", "test_profiles", "test_realdm_unit", "test_dm", "test_errors",
    "test_reentrancy", "test_hv_domain", "test_hv_intercept_edges", "test_hv_heap_edges",
    "test_hv_outcomes", "test_hv_boundary",
)  # fmt: skip

#: The toolstack's tests (about 20 s): libxlutil's real parser and the real xl's
#: answers (test_xl_generated, in-process) are among them, so both toolstack stages
#: check against real code.
TOOLSTACK_TESTS = (
    "test_xlcfg", "test_xl_golden", "test_libxl", "test_xlu_real", "test_xl_generated",
    "test_cnum_libc", "test_xlu_tables",
)  # fmt: skip

#: stage -> (modules mutated, tests run against them)
STAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "rangeset": (
        ("rangeset.py",),
        ("test_rangeset_props", "test_rangeset_vectors", "test_rangeset_memory",
         "test_rangeset_blocks", "test_pins"),
    ),
    "p2m-p2t": (("p2m.py", "p2t.py"), ("test_wp_designs", "test_wp_tables", "test_wp_session")),
    "hv-ioreq": (
        ("hv/ioreq.py", "hv/server.py", "hv/routing.py", "hv/delivery.py", "hv/vcpu_io.py"),
        HV_TESTS,
    ),
    "hv-params": (("hv/params.py", "hv/domain.py", "hv/lookup.py"), HV_TESTS),
    "hv-dmop": (
        ("hv/dmop.py", "hv/dmop_ops.py", "hv/platform.py", "hv/platform_ops.py",
         "hv/intercept.py", "hv/memory.py", "hv/memtype.py", "hv/boundary.py"),
        HV_TESTS,
    ),
    "hv-heap": (
        ("hv/heap.py", "hv/wp.py", "hv/transitions.py", "hv/census.py", "hv/evtchn.py",
         "hv/pages.py", "hv/ports.py", "hv/stats.py"),
        HV_TESTS,
    ),
    "toolstack-xlu": (
        ("toolstack/xlu_parse.py", "toolstack/xlu_grammar.py", "toolstack/xlu_disk.py",
         "toolstack/cnum.py"),
        TOOLSTACK_TESTS,
    ),
    "toolstack-libxl": (
        ("toolstack/libxl.py", "toolstack/libxl_idl.py", "toolstack/xl_parse.py",
         "toolstack/xlcfg.py", "toolstack/__init__.py"),
        TOOLSTACK_TESTS,
    ),
    "gvtg": (
        ("dm/gvtg.py",),
        ("test_gvt_policies", "test_gvtg_books", "test_gvt_shipped_books", "test_dm",
         "test_workload"),
    ),
    "gvt-shipped": (
        ("dm/gvt_shipped.py", "dm/gvt_gpu.py"),
        ("test_gvt_policies", "test_gvt_gpu", "test_gvt_shipped_books"),
    ),
}  # fmt: skip


def _setup_cfg(modules: tuple[str, ...], tests: tuple[str, ...]) -> str:
    mutate = "\n".join(
        f"    src/ioreqlab/{m}*" if m.endswith("/") else f"    src/ioreqlab/{m}" for m in modules
    )
    selected = "\n".join(f"    tests/{t}.py" for t in tests)
    return (
        "[mutmut]\nsource_paths = src\n"
        f"only_mutate =\n{mutate}\n"
        f"pytest_add_cli_args_test_selection =\n{selected}\n"
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -q\n"
        # A mutant that loops is stopped after 4 x 2 = 8 times its tests' time (+8 s),
        # not mutmut's 30 x: a stage's wall time is otherwise mostly such loops.
        "timeout_multiplier = 4\n"
        "also_copy =\n    tests\n    docs\n    README.md\n    build/xen-src\n"
    )


def _copy_checkout(dest: Path) -> None:
    """The committed tree (``HEAD``), so a stage tests what a commit names, not an
    edit under way in the working tree."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    tree = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=tree.stdout, check=True)
    # Xen's sources that tests read (tests/test_xlu_tables.py: bison's tables).
    xen_src = ROOT / "build" / "xen-src"
    if xen_src.exists():
        shutil.copytree(xen_src, dest / "build" / "xen-src")
    # The stage's pytest runs without the doctests of src (mutmut runs tests only).
    pyproject = dest / "pyproject.toml"
    text = pyproject.read_text().replace('addopts = "--doctest-modules -q"', 'addopts = "-q"')
    pyproject.write_text(text.replace("[tool.mutmut]", "[tool.not-mutmut]"))


def _mutmut(stage_dir: Path, *args: str) -> str:
    exe = Path(sys.executable).with_name("mutmut")
    done = subprocess.run(
        [str(exe), *args], cwd=stage_dir, capture_output=True, text=True, check=False
    )
    return done.stdout


def run_stage(name: str) -> dict[str, object]:
    """Run one stage; write and return its record."""
    modules, tests = STAGES[name]
    stage_dir = BUILD / name
    # The commit copied, named before the run (HEAD may move on while it runs).
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    _copy_checkout(stage_dir)
    (stage_dir / "setup.cfg").write_text(_setup_cfg(modules, tests))
    # MUTATE_JOBS caps mutmut's children (default: one per core).
    jobs = os.environ.get("MUTATE_JOBS")
    _mutmut(stage_dir, "run", *(["--max-children", jobs] if jobs else []))
    _mutmut(stage_dir, "export-cicd-stats")
    stats = json.loads((stage_dir / "mutants" / "mutmut-cicd-stats.json").read_text())
    results = _mutmut(stage_dir, "results").splitlines()
    survivors = [
        line.split(":")[0].strip() for line in results if line.strip().endswith(": survived")
    ]
    # Mutants no test of the stage runs: not killed either, so listed with their diffs.
    untested = [
        line.split(":")[0].strip() for line in results if line.strip().endswith(": no tests")
    ]
    diffs = {m: _changed_lines(_mutmut(stage_dir, "show", m)) for m in survivors + untested}
    record = {"stage": name, "commit": commit, "modules": modules, "tests": tests,
              "stats": stats, "survivors": survivors, "untested": untested,
              "diffs": diffs}  # fmt: skip
    RECORDS.mkdir(parents=True, exist_ok=True)
    (RECORDS / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def _changed_lines(diff: str) -> list[str]:
    """The ``-``/``+`` lines of a mutant's diff (headers left out)."""
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "-+" and not line.startswith(("---", "+++"))
    ]


def message_only(changed: list[str]) -> bool:
    """Whether a mutant changes only the text of an error (no behaviour Xen defines).

    True when every changed line raises, or is an f-string or string argument
    of a raise, so the errno and the state are the same either way.

    >>> message_only(['-        raise XenEINVAL(f"bad {x}")', '+        raise XenEINVAL(None)'])
    True
    >>> message_only(['-    if s > e:', '+    if s >= e:'])
    False
    >>> message_only(['-    assert n > 0, "empty"', '+    assert n > 0, "XXemptyXX"'])
    True
    >>> message_only(['-    assert n > 0, "empty"', '+    assert n >= 0, "empty"'])
    False
    >>> message_only(['-        f"{n} ranges")', '+        f"{n + 1} ranges")'])
    True
    >>> message_only(['-    "trees": len(t),', '+    "XXtreesXX": len(t),'])  # a key, not text
    False
    """
    if not changed:
        return False
    if _assert_text_only(changed):
        return True
    for line in changed:
        body = line[1:].strip()
        # A raise, or a line that is only string literals (a raise's message
        # continued): not a dict entry or a call that merely starts with one.
        if not (body.startswith("raise ") or _TEXT_LINE.fullmatch(body)):
            return False
    return True


_TEXT_LINE = re.compile(r'(?:f?"(?:[^"\\]|\\.)*"\s*)+[),]*|None[),]*')


def counter_only(changed: list[str]) -> bool:
    """Whether a mutant changes only a statistics counter the model keeps.

    True when every changed line is a ``count(...)`` call or a server's
    ``delivered`` tally: the model's own figures for reports, not
    Xen's state and nothing a guest or device model can observe.

    >>> counter_only(['-    d.count("wp_writes")', '+    d.count(None)'])
    True
    >>> counter_only(['-    s.delivered["sync"] = 1', '+    s.delivered["sync"] = None'])
    True
    >>> counter_only(['-    d.count("wp_writes")', '+    d.wp.count(None)', '+    return'])
    False
    """
    bodies = [line[1:].split("#")[0].strip() for line in changed]
    return bool(bodies) and all(
        (b.startswith(("d.count(", "self.count(")) and b.endswith(")"))
        or b.startswith("s.delivered[")  # a server's delivery tally
        for b in bodies
    )


def _assert_text_only(changed: list[str]) -> bool:
    """Whether every changed line is an ``assert`` whose condition stays the same
    (the message, a string or an f-string, is all that differs).

    >>> _assert_text_only(['-    assert a <= b, f"{a - b}"', '+    assert a <= b, f"{a + b}"'])
    True
    """
    bodies = [line[1:].strip() for line in changed]

    def condition(b: str) -> str | None:
        for sep in (', "', ', f"'):
            if b.startswith("assert ") and sep in b:
                return b.split(sep, 1)[0]
        return None

    conds = [condition(b) for b in bodies]
    if None in conds:
        return False
    before = {c for line, c in zip(changed, conds, strict=True) if line[0] == "-"}
    after = {c for line, c in zip(changed, conds, strict=True) if line[0] == "+"}
    return before == after


def record_digest(name: str) -> str:
    """The stage record's digest: a re-test counts only for the run it re-tested."""
    return hashlib.sha256((RECORDS / f"{name}.json").read_bytes()).hexdigest()


def retested(name: str) -> dict[str, str]:
    """The last re-test of stage ``name``'s current record (empty if none or stale)."""
    path = RECORDS / f"{name}.retest.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return dict(data["killed"]) if data.get("record") == record_digest(name) else {}


#: Each verdict's mutant, by the digest of its changed lines (committed).  A stage
#: re-run after its module changed numbers its mutants anew, so a name can come
#: to mean another mutation: a verdict counts only for the diff it was given for.
BINDINGS = RECORDS / "verdicts.json"


#: The binding of a verdict whose mutant is in no record: it matches no diff.
RETIRED = "retired"


def diff_digest(changed: list[str]) -> str:
    """What a verdict is bound to: the mutant's changed lines.

    >>> diff_digest(["-    a = 1", "+    a = 2"]) == diff_digest(["-    a = 1", "+    a = 2"])
    True
    >>> diff_digest(["-    a = 1", "+    a = 2"]) == diff_digest(["-    a = 1", "+    a = 3"])
    False
    """
    return hashlib.sha256("\n".join(changed).encode()).hexdigest()[:16]


def bindings() -> dict[str, str]:
    """Mutant name -> the digest of the diff its verdict was given for."""
    return dict(json.loads(BINDINGS.read_text())) if BINDINGS.exists() else {}


def verdict(name: str, changed: list[str], bound: dict[str, str]) -> str:
    """The verdict on survivor ``name`` (``""`` if none, or if it was given for
    another mutant that had this name)."""
    given = TRIAGE.get(name, "")
    return given if given and bound.get(name) == diff_digest(changed) else ""


def stage_records() -> list[dict[str, Any]]:
    """Every stage record under ``docs/mutation`` (not re-tests, not the bindings)."""
    return [
        json.loads(p.read_text())
        for p in sorted(RECORDS.glob("*.json"))
        if not p.name.endswith(".retest.json") and p != BINDINGS
    ]


def _added(changed: list[str]) -> str:
    """A mutant's new lines, on one line."""
    return " / ".join(x[1:].strip() for x in changed if x[:1] == "+")


def bind_verdicts(rebind: list[str]) -> list[str]:
    """Bind each verdict not yet bound (and each of ``rebind``, reviewed again) to
    its survivor's diff in today's records; the names bound."""
    bound = bindings()
    done = []
    for record in stage_records():
        for m in record["survivors"]:
            if m in TRIAGE and (m not in bound or m in rebind):
                bound[m] = diff_digest(record["diffs"].get(m, []))
                done.append(m)
    # A verdict whose mutant is in no record (killed since, or renumbered away) is
    # retired: it may never bind to whatever later takes its name, unless rebound.
    for m in TRIAGE:
        bound.setdefault(m, RETIRED)
    bound = {m: d for m, d in bound.items() if m in TRIAGE}  # verdicts since taken out
    BINDINGS.write_text(json.dumps(dict(sorted(bound.items())), indent=0) + "\n")
    return done


def stale_verdicts() -> list[str]:
    """Survivors whose verdict was given for another mutant of the same name."""
    bound = bindings()
    out = []
    for record in stage_records():
        for m in record["survivors"]:
            diff = record["diffs"].get(m, [])
            if m in TRIAGE and m in bound and not verdict(m, diff, bound):
                out.append(m)
    return out


#: Put after a stage's name when its row and section come from the doc, not a record.
EARLIER = " (an earlier run; its record was not kept)"


def _earlier_doc() -> tuple[dict[str, str], dict[str, list[str]]]:
    """The stage rows and survivor sections of ``docs/mutation.md`` as it stands.

    Records were kept under ``build/`` until the commit that moved them to
    ``docs/mutation/``; a stage that has not run since keeps what the doc said
    of it, marked, until its next run replaces it.
    """
    if not DOC.exists():
        return {}, {}
    rows: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in DOC.read_text().splitlines():
        if line.startswith("## Surviving mutants: "):
            name = line.removeprefix("## Surviving mutants: ").removesuffix(EARLIER)
            current = sections.setdefault(name, [])
            continue
        if current is not None:
            current.append(line)
            continue
        name = line.split(" | ")[0][2:].removesuffix(EARLIER)
        if line.startswith("| ") and name in STAGES:
            rows[name] = line.replace(f"| {name}{EARLIER} |", f"| {name} |", 1)
    for body in sections.values():
        while body and not body[-1]:
            body.pop()
    return rows, sections


def write_doc() -> None:
    """Rewrite ``docs/mutation.md`` (:func:`render_doc`)."""
    DOC.write_text(render_doc())


def render_doc() -> str:
    """``docs/mutation.md`` from every stage record under ``docs/mutation``
    (and, for a stage with none yet, what the doc said of it before)."""
    lines = [
        "# Mutation testing",
        "",
        "Written by `python -m tests.mutation --doc` from the stage records of",
        "`make mutate` (mutmut 3.8.1); see `tests/mutation.py` for the stages.",
        "",
        "| stage | commit | modules | tests run | mutants | killed | survived | timeout "
        "| no tests | score |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    records = stage_records()
    bound = bindings()
    earlier_rows, earlier_sections = _earlier_doc()
    recorded = {r["stage"] for r in records}
    kept = sorted(n for n in earlier_rows if n not in recorded)
    rows = {}
    for r in records:
        st = r["stats"]
        total = st.get("total", 0)
        killed = st.get("killed", 0) + st.get("timeout", 0)
        score = f"{100 * killed / total:.0f}%" if total else "-"
        rows[r["stage"]] = (
            f"| {r['stage']} | {r.get('commit', '-')} | {', '.join(r['modules'])} | "
            f"{', '.join(r['tests'])} | "
            f"{total} | {st.get('killed', 0)} | "
            f"{st.get('survived', 0)} | {st.get('timeout', 0)} | {st.get('no_tests', 0)} | "
            f"{score} |"
        )
    for name in kept:
        rows[name] = earlier_rows[name].replace(f"| {name} |", f"| {name}{EARLIER} |", 1)
    lines += [rows[name] for name in sorted(rows)]
    not_run = sorted(set(STAGES) - set(rows))
    if not_run:
        lines += ["", f"Not run yet: {', '.join(not_run)}."]
    lines += [
        "",
        "Survivors that change only an error's message (the errno and the state stay",
        "the same), or only a statistics counter the model keeps for its reports (a",
        "`count(...)` call or a server's `delivered` tally: not Xen's state, nothing a",
        "guest or device model sees; a miscount would show in the reports' figures,",
        "which a stage's tests do not all check), are listed by name. The others are",
        "triaged in",
        "`tests/mutation_triage.py`: *pinned* (a test added since the stage ran kills it;",
        "the next run of the stage counts it as killed) or *equivalent* (no behaviour Xen",
        "or GVT-g defines changes, with the reason); what is left is still to triage.",
        "Each verdict is bound to the diff it was given for (`docs/mutation/verdicts.json`,",
        "written by `python -m tests.mutation --bind`): a stage re-run after its module",
        "changed numbers its mutants anew, and a verdict whose name now means another",
        "mutation is listed to triage again, not carried over.",
    ]
    for r in records:
        diffs = r.get("diffs", {})
        wording = [m for m in r["survivors"] if message_only(diffs.get(m, []))]
        tallies = [m for m in r["survivors"] if counter_only(diffs.get(m, []))]
        rest = [m for m in r["survivors"] if m not in wording and m not in tallies]
        since = retested(r["stage"])
        given = {m: verdict(m, diffs.get(m, []), bound) for m in rest}
        pinned = [m for m in rest if given[m].startswith("pinned")]
        rerun = [m for m in rest if m in since and m not in pinned]
        rest = [m for m in rest if m not in rerun]
        equivalent = [m for m in rest if given[m].startswith(("equivalent", "message"))]
        left = [m for m in rest if m not in pinned and m not in equivalent]
        lines += ["", f"## Surviving mutants: {r['stage']}", ""]
        lines += [f"Message only ({len(wording)}): " + ", ".join(f"`{m}`" for m in wording)]
        if tallies:
            lines += ["", f"Statistics only ({len(tallies)}): "
                      + ", ".join(f"`{m}`" for m in tallies)]  # fmt: skip
        if rerun:
            lines += [
                "",
                f"Killed by today's tests (`tests/mutation_retest.py`, {len(rerun)}):",
                "",
            ]
            lines += [f"- `{m}`: {since[m]}" for m in rerun]
        if pinned:
            lines += ["", f"Pinned since the run ({len(pinned)}):", ""]
            lines += [f"- `{m}`: {given[m].removeprefix('pinned: ')}" for m in pinned]
        if equivalent:
            lines += ["", f"Equivalent ({len(equivalent)}):", ""]
            for m in equivalent:
                lines += [f"- `{m}` (`{_added(diffs.get(m, []))}`): {given[m]}"]
        untested = r.get("untested", [])
        if untested:
            lines += ["", f"Run by none of the stage's tests ({len(untested)}; tested elsewhere "
                      "in the suite or not at all, so counted as neither killed nor survived):",
                      ""]  # fmt: skip
            lines += [f"- `{m}` (`{_added(diffs.get(m, []))}`)" for m in untested]
        lines += ["", f"To triage ({len(left)}):"]
        for m in left:
            again = (
                " (its verdict was given for another mutant of that name)" if m in TRIAGE else ""
            )
            lines += ["", f"- `{m}`{again}", "", "  ```diff",
                      *(f"  {x}" for x in diffs.get(m, [])), "  ```"]  # fmt: skip
    for name in kept:
        lines += ["", f"## Surviving mutants: {name}{EARLIER}", *earlier_sections.get(name, [])]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation")
    parser.add_argument("stages", nargs="*", choices=[*STAGES, []], metavar="STAGE")
    parser.add_argument("--all", action="store_true", help="every stage, in turn")
    parser.add_argument("--doc", action="store_true", help="rewrite docs/mutation.md")
    parser.add_argument(
        "--bind", nargs="*", metavar="MUTANT", default=None,
        help="bind new verdicts to their survivors' diffs (and rebind those named)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.bind is not None:
        print(f"bound {len(bind_verdicts(args.bind))} verdicts")
        stale = stale_verdicts()
        for m in stale:
            print(f"stale verdict (given for another mutant of that name): {m}")
    for name in list(STAGES) if args.all else args.stages:
        r = run_stage(name)
        print(f"{name}: {r['stats']}")
    if args.doc or args.all:
        write_doc()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
