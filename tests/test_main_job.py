"""The main job through the real entry point: run, plan, findings, bad scenarios."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ioreqlab.analysis.findings import (
    Figure,
    default_limit,
    george_walk,
    logdirty_after_disclaim,
    node_sizes,
    rbtree_8192,
    seven_guests,
    tree_9000,
)
from ioreqlab.analysis.planner import percentile, plan
from ioreqlab.cli import main
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.scenario import (
    XENGT_BDW,
    DesignResult,
    ScenarioError,
    load_scenario,
    run_design,
    run_scenario,
)
from tests.reliability_doc import DOC, render

SMALL = '''
name = "small"
seed = 7
rounds = 6

[host]
designs = ["rangeset", "p2m", "p2t"]
xen_heap_mib = 16

[[domain]]
count = 2
xl_cfg = """
name = "vm"
type = "hvm"
memory = 1024
vgt = 1
max_wp_ram_ranges = 64
"""
[domain.workload]
kind = "gpu"
processes = 3
leaves = 30
churn = 5
grow = 2
destroy_every = 3

[[domain]]
xl_cfg_file = "plain.cfg"
[domain.workload]
kind = "devices"
'''

PLAIN = 'name = "plain"\ntype = "hvm"\nmemory = 256\nvga = "stdvga"\n'

REQUIRED = {
    "tracked_pages",
    "stored_ranges",
    "heap_bytes",
    "limit_hits",
    "reshadows",
    "pages_reread",
    "shadow_mismatches",
    "accesses",
    "ns_per_access",
}


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    (tmp_path / "plain.cfg").write_text(PLAIN)
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ioreqlab", *args], capture_output=True, text=True, check=False
    )


def test_run_scenario_file_json_and_plots(scenario_file: Path, tmp_path: Path) -> None:
    out, plots = tmp_path / "r.json", tmp_path / "plots"
    proc = cli("run", str(scenario_file), "--json", str(out), "--plots", str(plots))
    assert proc.returncode == 0, proc.stderr
    assert "ranges/entries" in proc.stdout
    data = json.loads(out.read_text())
    assert data["scenario"] == "small"
    assert data["seed"] == 7
    assert set(data["designs"]) == {"rangeset", "p2m", "p2t"}
    for design in data["designs"].values():
        assert set(design) >= REQUIRED
        assert all(isinstance(design[k], int) for k in REQUIRED - {"ns_per_access"})
        assert design["shadow_mismatches"] == 0
    assert data["designs"]["rangeset"]["limit_hits"] > 0  # 64 ranges are too few here
    assert data["designs"]["p2m"]["heap_bytes"] == 0
    pngs = sorted(p.name for p in plots.iterdir())
    assert pngs == ["heap_and_ranges.png", "reshadow_vs_limit.png", "routing_vs_tracked.png"]
    assert all((plots / p).read_bytes().startswith(b"\x89PNG") for p in pngs)
    # Issue 16: the extra sweep is announced, with its size.
    assert (
        "an extra sweep of the rangeset design, 5 limits x 1 seed, plus one run to measure"
        " the need and the need and the cap themselves (about 7 runs of 6 rounds)"
    ) in proc.stderr


def test_plots_without_the_rangeset_design_run_no_sweep(tmp_path: Path) -> None:
    (tmp_path / "plain.cfg").write_text(PLAIN)
    path = tmp_path / "p2m.toml"
    path.write_text(SMALL.replace('designs = ["rangeset", "p2m", "p2t"]', 'designs = ["p2m"]'))
    plots = tmp_path / "plots"
    proc = cli("run", str(path), "--plots", str(plots))
    assert proc.returncode == 0, proc.stderr
    assert "extra sweep" not in proc.stderr
    assert "no rangeset design in this scenario" in proc.stderr
    assert sorted(p.name for p in plots.iterdir()) == [
        "heap_and_ranges.png",
        "routing_vs_tracked.png",
    ]


def test_the_sweep_plot_marks_the_limit_and_the_recommendation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from ioreqlab.analysis import plots  # noqa: PLC0415
    from ioreqlab.analysis.planner import SweepPoint  # noqa: PLC0415

    drawn: list[Any] = []

    def keep(fig: Any) -> bytes:
        drawn.append(fig)
        return b""

    monkeypatch.setattr(plots, "_png", keep)
    sweep = [SweepPoint(lim, 9 - i, 9 - i, 90 - 10 * i, 1.0) for i, lim in enumerate((256, 1024))]
    plots.render_plots({}, sweep=sweep, title="t", limit=256, recommended=1024)
    fig = drawn[1]  # heap, then the sweep
    axes = fig.get_axes()
    assert [ax.get_ylabel().split("\n")[1] for ax in axes] == [
        "(vGPUs per run)", "(pages per run)", "(trees per run)", "(refusals per run)"
    ]  # fmt: skip
    labels = axes[1].get_legend_handles_labels()[1]
    assert labels == ["pages re-read", "guests' limit (256)", "recommended (1,024)"]
    assert axes[0].get_title() == ("t: rangeset design: failsafe and re-shadow work versus limit")
    plt.close("all")


def test_same_seed_same_numbers(scenario_file: Path) -> None:
    sc = load_scenario(scenario_file.read_text(), "s", read=lambda n: PLAIN)
    a = run_scenario(sc)
    b = run_scenario(sc)

    def strip(r: DesignResult) -> dict[str, object]:
        return {k: v for k, v in r.to_json().items() if k not in ("ns_per_access", "series")}

    assert {k: strip(v) for k, v in a.items()} == {k: strip(v) for k, v in b.items()}
    assert a["p2m"].accesses == a["rangeset"].accesses  # the same guest behaviour on each


def test_seed_flag_changes_the_run(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["run", str(scenario_file), "--seed", "99", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["seed"] == 99


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 1\n", "name must be a str"),
        ("bogus = 1\n[[domain]]\nxl_cfg = 'name=\"a\"'\n", "unknown key 'bogus'"),
        ("[host]\ndesigns = ['btree']\n[[domain]]\nxl_cfg = 'name=\"a\"'\n", "designs must name"),
        ("[host]\nxen_heap_mib = 'big'\n", "xen_heap_mib must be an int"),
        ("[[domain]]\nxl_cfg_file = 'missing.cfg'\n", "cannot read xl_cfg_file"),
        ("[[domain]]\nxl_cfg = 'memory = -1'\n", "lexical error"),
        (
            "[[domain]]\nxl_cfg = 'name = \"a\"; type = \"hvm\"'\n[domain.workload]\nkind = 'gpu'\n",
            "needs vgt = 1",
        ),
        ("rounds = 0\n", "rounds must be 1..100000"),
        ("[host]\nxen = '4.9'\n[[domain]]\nxl_cfg = 'name=\"a\"'\n", "xen must be one of"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_scenarios_are_one_line_and_exit_2(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    proc = cli("run", str(path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_scenario_file_is_exit_2(tmp_path: Path) -> None:
    proc = cli("run", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2
    assert "cannot read scenario" in proc.stderr


def test_planner_recommends_and_reports_heap(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    proc = cli(
        "plan",
        str(scenario_file),
        "--seeds",
        "2",
        "--limits",
        "16",
        "64",
        "1024",
        "--workers",
        "2",
        "--json",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    need = data["needed_ranges"]
    assert data["policy"] == "shipped"
    assert need > 64
    # The sweep runs the limits asked for, the measured need and the host's cap.
    assert [p["limit"] for p in data["sweep"]] == sorted({16, 64, 1024, need, data["cap"]})
    assert data["sweep"][0]["limit_hits"] >= data["sweep"][-1]["limit_hits"]
    assert data["sweep"][0]["failsafe_vgpus"] == 2  # 16 ranges: both vGPUs die
    assert data["recommended_max_wp_ram_ranges"] == need
    assert data["heap_bytes_per_guest"] == need * 48 + 112
    assert data["vgpu_guests"] == 2
    assert data["preallocation_fits"] is True
    assert data["exceeds_cap"] is (need > data["cap"])
    assert data["capacity"]["gpu_slots"] == 2  # type 8 on a 256 MiB aperture (vgpu.c)


def test_the_recommended_limit_runs_with_no_failsafe(scenario_file: Path) -> None:
    # Issue 14: the plan's answer, applied to the same scenario, must hold.
    sc = load_scenario(scenario_file.read_text(), "s", read=lambda n: PLAIN)
    result = plan(sc, limits=(64,), seeds=(0,), pct=100, workers=1)
    applied = run_design(replace(sc, seed=sc.seed), "rangeset", wp_limit=result.recommended)
    assert applied.failsafe_vgpus == 0
    assert applied.lost_submissions == 0
    assert applied.shadow_mismatches == 0
    tighter = run_design(sc, "rangeset", wp_limit=result.recommended - 1)
    assert tighter.failsafe_vgpus >= 1  # the need is exact: one range less fails


def test_a_limit_of_0_is_xens_default_not_the_need_run() -> None:
    # Issue 18 found it: the planner marked its p2m need run with limit 0, so
    # `plan --limits 0` reported that run (nothing refused) as the limit 0 row.
    # A max_wp_ram_ranges of 0 is Xen's default, 256 ranges (xen-facts.md).
    big = SMALL.replace("leaves = 30", "leaves = 200").replace("rounds = 6", "rounds = 2")
    sc = load_scenario(big, "s", read=lambda n: PLAIN)
    seen: list[tuple[int, int]] = []
    result = plan(sc, limits=(0, 256), seeds=(0,), workers=1,
                  progress=lambda d, t: seen.append((d, t)))  # fmt: skip
    zero, at_256 = result.sweep[0], result.sweep[1]
    assert (zero.limit, at_256.limit) == (0, 256)
    assert zero.failsafe_vgpus == at_256.failsafe_vgpus == 2  # 256 is too few here
    assert replace(zero, limit=256) == at_256
    applied = run_design(sc, "rangeset", wp_limit=0)
    assert (zero.limit_hits, zero.failsafe_vgpus) == (applied.limit_hits, applied.failsafe_vgpus)
    # The first round: the need, 0, 256 and the cap; then the need itself.
    assert result.needed not in (0, 256, result.cap)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4), (5, 5)]


def test_the_proposal_plans_by_reread_budget(scenario_file: Path) -> None:
    sc = load_scenario(scenario_file.read_text(), "s", read=lambda n: PLAIN)
    sc = replace(sc, host=replace(sc.host, gvt_policy="proposal-2016"))
    result = plan(sc, limits=(16, 64, 4096), seeds=(0, 1), workers=1)
    assert [p.limit for p in result.sweep] == [16, 64, 4096]
    assert all(p.failsafe_vgpus == 0 for p in result.sweep)  # it never gives up a vGPU
    assert result.sweep[0].pages_reread > 0
    assert result.recommended == 4096


def test_planner_is_the_same_serial_and_parallel(scenario_file: Path) -> None:
    sc = load_scenario(scenario_file.read_text(), "s", read=lambda n: PLAIN)
    serial = plan(sc, limits=(16, 256), seeds=(0, 1), workers=1)
    parallel = plan(sc, limits=(16, 256), seeds=(0, 1), workers=2)
    assert serial == parallel


def test_percentile() -> None:
    assert percentile([5, 1, 3], 100) == 5
    assert percentile([5, 1, 3], 1) == 1


def test_wp_limit_reaches_the_rangeset_design(scenario_file: Path) -> None:
    sc = load_scenario(scenario_file.read_text(), "s", read=lambda n: PLAIN)
    tight = run_design(sc, "rangeset", wp_limit=8)
    loose = run_design(sc, "rangeset", wp_limit=4096)
    assert tight.limit_hits > loose.limit_hits == 0
    assert tight.shadow_mismatches == loose.shadow_mismatches == 0


def test_default_run_is_the_builtin_xengt_host() -> None:
    sc = load_scenario(XENGT_BDW, "builtin")
    assert sc.host.gpu == "bdw"
    # 6 vGPU guests (of gvt.h's 7) and a plain HVM guest.
    assert sum(d.count for d in sc.domains) == 7
    assert sum(d.count for d in sc.domains if d.workload.kind == "gpu") == 6
    assert set(sc.host.designs) == {"rangeset", "p2m", "p2t"}
    assert sc.host.gvt_policy == "shipped"


# -- the thread's figures ----------------------------------------------------------------


def num(f: Figure, key: str) -> int:
    value = f.values[key]
    assert isinstance(value, int)
    return value


def test_figure_default_limit() -> None:
    f = default_limit()
    assert f.values["MAX_NR_IO_RANGES"] == 256
    assert num(f, "scattered pages refused") > 3000
    assert f.values["chunked ranges used"] == 8


def test_figure_rbtree_8192_over_448_kib() -> None:
    f = rbtree_8192()
    assert num(f, "heap bytes") >= 448 * 1024


def test_figure_node_sizes() -> None:
    f = node_sizes()
    assert (f.values["list node heap"], f.values["rb node heap"]) == (48, 64)


def test_figure_seven_guests() -> None:
    f = seven_guests()
    assert f.values["vGPU guests per Broadwell GPU (gvt.h GVT_MAX_VGPU 8, id 0 idle)"] == 7
    assert f.values["tracking heap, all guests full"] == 7 * 8192 * 64


def test_figure_tree_9000() -> None:
    f = tree_9000()
    assert num(f, "table pages in the tree") >= 9000
    # Shipped: the tree does not fit, the vGPU dies; the proposal would have re-read.
    assert f.values["shipped: vGPU in failsafe"] == 1
    assert num(f, "shipped: submissions lost") >= 1
    assert num(f, "shipped: pages protected") <= 8192
    assert num(f, "proposal-2016: pages re-read") > 0
    assert f.values["proposal-2016: submissions run"] == 2
    assert f.values["shadow mismatches (both)"] == 0


def test_figure_george_walk() -> None:
    f = george_walk()
    assert num(f, "Xen's list: nodes walked per write") > 3000
    assert f.values["p2m type: lookups per write"] == 1


def test_findings_command_writes_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 16: findings shows its progress, a figure at a time (the bar itself only on
    # a terminal: here its updates are recorded).
    import ioreqlab.cli  # noqa: PLC0415

    seen: list[tuple[int | None, int, str]] = []

    class Bar:
        total: int | None = None
        n = 0
        postfix = ""

        def set_postfix_str(self, text: str) -> None:
            self.postfix = text

        def refresh(self) -> None:
            seen.append((self.total, self.n, self.postfix))

        def close(self) -> None:
            pass

    monkeypatch.setattr(ioreqlab.cli, "progress_bar", lambda *a, **k: Bar())
    out = tmp_path / "findings.md"
    assert main(["findings", "--quick", "--out", str(out), "--workers", "1"]) == 0
    from ioreqlab.analysis.findings import FIGURES  # noqa: PLC0415

    names = [name for name, _ in FIGURES]
    # Issue 18: the longest figures run first, so on one worker they are done first.
    first = ["heap-exhaustion", "tree-9000"]
    done = first + [n for n in names if n not in first]
    assert seen == [(len(names), 0, done[0])] + [
        (len(names), i + 1, name) for i, name in enumerate(done)
    ]  # before the first, then as each figure is done
    parallel = tmp_path / "parallel.md"
    assert main(["findings", "--quick", "--out", str(parallel), "--workers", "2"]) == 0
    assert parallel.read_text() == out.read_text()  # the same text on two processes
    text = out.read_text()
    for title in (
        "The default limit is 256 ranges",
        "448 KiB",
        "32- versus 40-byte nodes",
        "7 vGPU VMs",
        "9,000-page active tree",
    ):
        assert title in text
    assert main(["findings", "--only", "nope", "--out", "-"]) == 2


def test_reliability_doc_is_current() -> None:
    assert DOC.read_text() == render(), (
        "docs/reliability.md is stale: python -m tests.reliability_doc"
    )


def test_scenarios_doc_is_current() -> None:
    # docs/scenarios.md's key reference is made from the loader's own tables (issue 16).
    from tests import scenarios_doc  # noqa: PLC0415

    assert scenarios_doc.DOC.read_text() == scenarios_doc.render(), (
        "docs/scenarios.md is stale: python -m tests.scenarios_doc"
    )
    assert "`wp_ram_ranges_cap` | integer | 8192 | 0..4,294,967,295" in scenarios_doc.render()


def test_scenario_host_key_xen_and_the_cli_option(tmp_path: Path) -> None:
    # [host] xen picks the profile; --xen overrides it; the JSON says which ran.
    (tmp_path / "plain.cfg").write_text(PLAIN)
    path = tmp_path / "s.toml"
    path.write_text(SMALL.replace("[host]\n", '[host]\nxen = "4.17"\n'))
    assert load_scenario(path.read_text(), "s", read=lambda n: PLAIN).host.xen == "4.17"
    out = tmp_path / "r.json"
    assert main(["run", str(path), "--json", str(out)]) == 0
    on_417 = json.loads(out.read_text())
    assert on_417["xen"] == "4.17"
    assert main(["run", str(path), "--xen", "4.7", "--json", str(out)]) == 0
    on_47 = json.loads(out.read_text())
    assert on_47["xen"] == "4.7"
    for design in ("rangeset", "p2m", "p2t"):
        assert on_417["designs"][design]["shadow_mismatches"] == 0
        assert on_417["designs"][design]["accesses"] == on_47["designs"][design]["accesses"]
    proc = cli("run", str(path), "--xen", "4.9")
    assert proc.returncode == 2
    assert "invalid choice: '4.9'" in proc.stderr


def test_the_bitmap_clean_re_arms_log_dirty_after_the_disclaim_lost_it() -> None:
    # hap_clean_dirty_bitmap: p2m_change_entry_type_global(ram_rw, ram_logdirty)
    # sets global_logdirty again; what was written in between is not in the bitmap.
    values = logdirty_after_disclaim().values
    assert values["global log-dirty still on after it"] == 0
    assert values["of them in that round's dirty bitmap"] == 0
    assert values["the same pages written after the round, logged"] == 1000
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    with pytest.raises(XenError):
        host.clean_dirty_bitmap(g)  # not in log-dirty mode: -EINVAL


def test_the_planners_limit_goes_through_libxls_bounds() -> None:
    # A limit above nr_pages / 2 is refused by libxl, as the admin's own would be.
    scenario = load_scenario(
        SMALL.replace("memory = 1024", "memory = 32"), "s", read=lambda n: PLAIN
    )
    with pytest.raises(ScenarioError) as info:
        run_design(scenario, "rangeset", wp_limit=8192)
    assert "max_wp_ram_ranges" in str(info.value)
    assert run_design(scenario, "rangeset", wp_limit=4096).shadow_mismatches == 0


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "nested over 64 levels"),
        ("b = " + "{ c = " * 200 + "1" + " }" * 200 + "\n", "nested over 64 levels"),
        ("# " + "x" * (1 << 20) + "\n", "more than a scenario may have"),
        # One dotted key of 200,000 parts kept tomllib busy for minutes.
        (".".join(["a"] * 200_000) + " = 1\n", "dotted key of over 64 parts"),
        ('x = 1\n"q" . a.  b' + ". c" * 70 + " = 1\n", r"over 64 parts \(line 2\)"),
        ("[" + ".".join(["t"] * 65) + "]\n", "dotted key of over 64 parts"),
    ],
)
def test_scenarios_are_bounded_before_parsing(text: str, why: str) -> None:
    # A deeply nested scenario was a RecursionError from tomllib; a huge one was
    # parsed whole.  Both are refused before the parser sees them.
    with pytest.raises(ScenarioError, match=why):
        load_scenario(text, "t.toml")
    # Brackets inside strings and comments do not count.
    load_scenario(XENGT_BDW.replace("\n", "\n# [[[[[[\n", 1), "ok")
    # Nor do dots in strings, comments or numbers, nor a short dotted key.
    dotted = XENGT_BDW.replace("\n", f"\n# {'.' * 100}\n", 1)
    load_scenario(dotted.replace('name = "', 'name = "' + "." * 100, 1), "ok")


def test_the_run_output_fits_80_columns_and_wide_has_a_row_per_design(
    scenario_file: Path,
) -> None:
    # Issue 16: an 80-column layout by default; --wide is the one-row-per-design table.
    narrow = cli("run", str(scenario_file))
    assert narrow.returncode == 0, narrow.stderr
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80
    assert "timing" in narrow.stdout.split("µs/trapped write")[0]  # set apart from the counts
    assert "µs/submission" in narrow.stdout
    wide = cli("run", str(scenario_file), "--wide")
    assert wide.returncode == 0, wide.stderr
    table = wide.stdout.split("\n\n")[1].splitlines()
    assert table[0].split()[:3] == ["design", "tracked", "pages"]
    assert [line.split()[0] for line in table[2:]] == ["rangeset", "p2m", "p2t"]
    assert max(len(line) for line in table) > 80


def test_the_mediators_own_time_is_measured_only_with_a_clock(scenario_file: Path) -> None:
    # Issue 18: the run's timing says what a trapped write and a submission cost the model.
    sc = load_scenario(scenario_file.read_text(), "s", read=lambda n: PLAIN)
    ticks = iter(range(0, 10**12, 1000))  # a fake clock: 1 µs per reading
    timed = run_design(sc, "p2m", clock=lambda: next(ticks))
    assert timed.ns_per_trapped_write > 0
    assert timed.ns_per_submission > 0
    untimed = run_design(sc, "p2m")
    assert (untimed.ns_per_trapped_write, untimed.ns_per_submission) == (0.0, 0.0)
    assert (
        untimed.to_json()["limit_hits"] == timed.to_json()["limit_hits"]
    )  # timing changes no count


def test_run_json_has_the_shipped_policy_fields(scenario_file: Path) -> None:
    # Issue 14: per design and per vGPU guest.
    sc = load_scenario(scenario_file.read_text(), "s", read=lambda n: PLAIN)
    r = run_design(sc, "rangeset", wp_limit=16).to_json()
    for key in ("failsafe_vgpus", "peak_protected_pages", "peak_ranges", "trapped_writes",
                "oos_pages_peak", "oos_syncs", "mediator_cpu_ms", "policy"):  # fmt: skip
        assert key in r, key
    guests = r["guests"]
    assert isinstance(guests, dict)
    vgpu = next(v for v in guests.values() if "failsafe" in v)
    for key in ("failsafe", "peak_protected_pages", "peak_ranges", "trapped_writes",
                "oos_pages_peak", "oos_syncs", "mediator_cpu_ms"):  # fmt: skip
        assert key in vgpu, key
    assert r["failsafe_vgpus"] == 2  # 16 ranges: neither vGPU's tree fits
    p2m = run_design(sc, "p2m").to_json()
    assert p2m["peak_ranges"] == p2m["peak_protected_pages"]  # one entry per page


@pytest.mark.parametrize(
    ("workload", "message"),
    [
        ("shape = 'aliasing-3level'\nhuge_2m_percent = 5\n", "huge_2m_percent needs shape"),
        ("buffer_pages_min = 9\nbuffer_pages_max = 2\n", "buffer_pages_min 9 is above"),
        ("shape = 'tiled'\n", "shape must be one of full-4level, aliasing-3level"),
    ],
)
def test_bad_gpu_workloads_are_refused(workload: str, message: str) -> None:
    text = (
        "[host]\ngvt_policy = 'shipped'\n[[domain]]\n"
        'xl_cfg = """\nname = "g"\ntype = "hvm"\nmemory = 512\nvgt = 1\n"""\n'
        f"[domain.workload]\nkind = 'gpu'\n{workload}"
    )
    with pytest.raises(ScenarioError, match=message):
        load_scenario(text, "bad")


def test_an_unknown_gvt_policy_or_cost_is_refused() -> None:
    base = "[[domain]]\nxl_cfg = 'name=\"a\"'\n"
    with pytest.raises(ScenarioError, match="gvt_policy must be one of shipped, proposal-2016"):
        load_scenario("[host]\ngvt_policy = 'lazy'\n" + base, "bad")
    with pytest.raises(ScenarioError, match=r"\[costs\]: unknown key 'trap_us'"):
        load_scenario("[costs]\ntrap_us = 5\n" + base, "bad")
    sc = load_scenario("[costs]\ntrap_ns = 1\n" + base, "ok")
    assert sc.costs.trap_ns == 1


def test_every_mutation_verdict_is_bound_and_none_is_stale() -> None:
    # A verdict counts only for the diff it was given for (tests/mutation.py): one
    # not bound yet, or bound to another mutant now named the same, is a triage
    # left undone.
    from tests import mutation  # noqa: PLC0415
    from tests.mutation_triage import TRIAGE  # noqa: PLC0415

    bound = mutation.bindings()
    assert sorted(set(TRIAGE) - set(bound)) == [], "python -m tests.mutation --bind"
    assert mutation.stale_verdicts() == []
    assert mutation.DOC.read_text() == mutation.render_doc(), (
        "docs/mutation.md is stale: python -m tests.mutation --doc"
    )
