"""The ``ioreqlab`` command through its real entry points."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ioreqlab import cli_files


def test_bad_usage_is_one_line_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ioreqlab", "run", "--seed", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("ioreqlab: error:")
    assert "Traceback" not in proc.stderr


def test_unwritable_json_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ioreqlab", "run", "--json", str(tmp_path / "no" / "x.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "cannot write" in proc.stderr


def test_default_run_through_python_dash_m() -> None:
    """`ioreqlab run` with no argument: the built-in XenGT host, all three designs."""
    proc = subprocess.run(
        [sys.executable, "-m", "ioreqlab", "run"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "xengt-bdw" in proc.stdout
    for design in ("rangeset", "p2m", "p2t"):
        assert design in proc.stdout


XL_DATA = Path(__file__).parent / "data" / "xl"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ioreqlab", *args], capture_output=True, text=True, check=False
    )


def test_xl_dry_run_through_the_real_entry_point() -> None:
    proc = run_cli("xl", "-N", "create", "--resolved", str(XL_DATA / "hvm-xengt-bdw.cfg"))
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["b_info"]["type.hvm"]["max_wp_ram_ranges"] == 8192
    legacy = run_cli("xl", "create", "-n", "--resolved", str(XL_DATA / "hvm-xengt-bdw.cfg"))
    uuid = '"uuid": "'  # random: compare the rest

    def masked(text: str) -> list[str]:
        return [line for line in text.splitlines() if uuid not in line]

    assert masked(legacy.stdout) == masked(proc.stdout)
    as_xl = json.loads(run_cli("xl", "-N", "create", str(XL_DATA / "hvm-xengt-bdw.cfg")).stdout)
    assert "max_wp_ram_ranges" not in as_xl["b_info"]["type.hvm"]  # xl sets no limit: libxl does
    assert as_xl["b_info"]["type.hvm"]["vgt"] == "True"


def test_xl_extra_settings_override_the_file() -> None:
    proc = run_cli("xl", "-N", "create", str(XL_DATA / "hvm-basic.cfg"), "memory=512", "vcpus=1")
    assert json.loads(proc.stdout)["b_info"]["max_memkb"] == 512 * 1024


def test_xl_create_creates_and_errors_exit_1() -> None:
    good = run_cli("xl", "create", "--design", "rangeset", str(XL_DATA / "hvm-xengt-bdw.cfg"))
    assert good.returncode == 0
    assert "created on a rangeset host" in good.stdout
    missing = run_cli("xl", "create", str(XL_DATA / "no-such.cfg"))
    assert missing.returncode == 1
    assert "unable to open configuration file" in missing.stderr
    over_cap = run_cli("xl", "create", str(XL_DATA / "hvm-basic.cfg"), "max_wp_ram_ranges=9000")
    assert over_cap.returncode == 1
    assert "HVM_PARAM_MAX_WP_RAM_RANGES=9000 failed: Invalid argument" in over_cap.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--seed", "-1"], "seed must be 0..2**63"),
        (["run", "--seed", str(2**63 + 1)], "seed must be 0..2**63"),
        (["plan", "--budget", "nan"], "budget must be a finite number"),
        (["plan", "--budget", "-3"], "budget must be a finite number"),
        (["plan", "--budget", "inf"], "budget must be a finite number"),
    ],
)
def test_out_of_range_numbers_are_refused_before_any_work(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ioreqlab", *args], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_endless_input_file_is_refused_not_read() -> None:
    # /dev/zero as a config, a scenario or a trace: at most 64 MiB is read, then the
    # file is refused as too large (it was a MemoryError traceback).
    xl = run_cli("xl", "-N", "create", "/dev/zero")
    assert xl.returncode == 1
    assert xl.stderr.strip() == "/dev/zero: unable to open configuration file: File too large"
    run = run_cli("run", "/dev/zero")
    assert run.returncode == 2
    assert run.stderr.strip() == "ioreqlab: error: /dev/zero: cannot read scenario: File too large"


def test_a_scenario_may_only_name_config_files_beside_it(tmp_path: Path) -> None:
    # xl_cfg_file could name any file, and its first line was echoed in the error.
    (tmp_path / "sub").mkdir()
    (tmp_path / "outside.cfg").write_text('name = "g"\n')
    for name in ("/etc/passwd", "../outside.cfg"):
        scenario = tmp_path / "sub" / "s.toml"
        scenario.write_text(f'name = "t"\n[[domain]]\nxl_cfg_file = "{name}"\n')
        got = run_cli("run", str(scenario))
        assert got.returncode == 2
        assert got.stderr.strip().endswith("only files in the scenario's folder may be named")
        assert "root:" not in got.stderr


def test_bench_without_its_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util  # noqa: PLC0415

    from ioreqlab.cli import main  # noqa: PLC0415

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "portion" else real(name, *a)
    )
    assert main(["bench", "--quick"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "ioreqlab: error: the benchmarks compare against portion: install them with "
        "`pip install -e '.[bench]'` (make test does)"
    ]


@pytest.mark.parametrize(
    ("option", "make", "why"),
    [
        ("--json", lambda d: "", "an empty path"),
        ("--json", str, "it is a directory"),
        ("--json", lambda d: str(d / "no" / "x.json"), "no such directory"),
        ("--plots", lambda d: str(d / "afile"), "it is a file"),
        ("--plots", lambda d: str(d / "no" / "deeper" / "plots"), "no such directory"),
        ("--report", str, "is a directory"),
        ("--report", lambda d: "", "empty"),
        ("--report", lambda d: str(d / "no" / "r.html"), "no such directory"),
    ],
)
def test_outputs_are_checked_before_any_work(
    tmp_path: Path, option: str, make: object, why: str
) -> None:
    # Issue 16: a bad output path is refused at once, not after a whole run.
    (tmp_path / "afile").write_text("x")
    assert callable(make)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    proc = run_cli("run", option, make(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert why in proc.stderr
    assert proc.stdout == ""  # refused before the run printed anything
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_an_unwritable_folder_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (As root every folder is writable, so the permission check is made to say no.)
    import os  # noqa: PLC0415

    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(cli_files.UsageError, match="is not writable"):
        cli_files.check_output(str(tmp_path / "x.json"))


def test_a_write_is_whole_or_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os  # noqa: PLC0415

    target = tmp_path / "out.json"
    target.write_text("old")

    def interrupted(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli_files.write(str(target), "new")
    assert target.read_text() == "old"  # the old file intact
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left


def test_ctrl_c_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ioreqlab import cli  # noqa: PLC0415

    def stopped(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_plan", stopped)
    assert cli.main(["plan"]) == 130
    err = capsys.readouterr().err
    assert err == "ioreqlab: interrupted\n"


def test_findings_only_prints_and_never_replaces_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "findings.md"
    doc.write_text("the whole document\n")
    proc = subprocess.run(
        [sys.executable, "-m", "ioreqlab", "findings", "--only", "rbtree-8192"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("## 8192 red-black-tree ranges")
    assert doc.read_text() == "the whole document\n"


def test_messages_name_the_cause_not_internals(tmp_path: Path) -> None:
    # Issue 16: each refusal says what is wrong in the user's terms.
    m0 = tmp_path / "m0.cfg"
    m0.write_text('name = "a"\ntype = "hvm"\nmemory = 0\n')
    proc = run_cli("xl", "create", str(m0))
    assert proc.returncode == 1
    assert "memory_mib 0 must be a positive integer" in proc.stderr
    cap = tmp_path / "cap.cfg"
    cap.write_text('name = "a"\ntype = "hvm"\nmemory = 1024\nmax_wp_ram_ranges = 9000\n')
    proc = run_cli("xl", "create", str(cap))
    assert proc.returncode == 1
    assert "exceeds the host cap 8192 (raise it with" in proc.stderr
    assert "HvmParamArg" not in proc.stderr
    proc = run_cli("xl", "create")
    assert proc.returncode == 2
    assert proc.stderr == "ioreqlab: error: the following arguments are required: file\n"


def test_a_bom_and_too_many_vgpus_are_named(tmp_path: Path) -> None:
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b'\xef\xbb\xbfname = "x"\n')
    proc = run_cli("run", str(bom))
    assert proc.returncode == 2
    assert "byte-order mark (BOM)" in proc.stderr
    from ioreqlab.scenario import XENGT_BDW  # noqa: PLC0415

    twelve = tmp_path / "twelve.toml"
    twelve.write_text(XENGT_BDW.replace("count = 4", "count = 11", 1))
    proc = run_cli("run", str(twelve))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "13 vGPU guests on one Broadwell GPU, which GVT-g shares among at most 7" in proc.stderr


def test_plan_validates_its_counts_and_limits() -> None:
    for args, why in (
        (["--workers", "0"], "--workers: must be at least 1"),
        (["--seeds", "0"], "--seeds: must be at least 1"),
        (["--limits", "-5"], "--limits: a limit is 0..2**32-1"),
        (["--limits", str(2**32)], "--limits: a limit is 0..2**32-1"),
    ):
        proc = run_cli("plan", *args)
        assert proc.returncode == 2, args
        assert proc.stderr.count("\n") == 1
        assert why in proc.stderr


def test_the_top_level_help_is_for_users() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    assert "An executable model of Xen's ioreq-server machinery" in proc.stdout
    assert "the only module" not in proc.stdout  # no developer's docstring
    assert "130 interrupted" in " ".join(proc.stdout.split())  # however argparse wraps it


def test_result_files_describe_themselves(tmp_path: Path) -> None:
    # Issue 16: the JSON says which ioreqlab wrote it, on what host, in what units.
    from ioreqlab import __version__  # noqa: PLC0415

    out = tmp_path / "plan.json"
    proc = run_cli("plan", "--seeds", "1", "--limits", "256", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["ioreqlab_version"] == __version__
    assert doc["host"]["gpu"] == "bdw"
    assert doc["host"]["wp_ram_ranges_cap"] == 8192
    assert "not Xen's" in doc["units"]["ns_per_access"]
    assert doc["scenario"] == "xengt-bdw"


def test_the_run_table_can_be_read_without_the_source() -> None:
    # Issue 16: a legend for every column, a line per design, the timing named as the
    # model's own.
    proc = run_cli("run")
    assert proc.returncode == 0, proc.stderr
    from ioreqlab.analysis.compare import LEGEND  # noqa: PLC0415

    for column, _ in LEGEND:
        assert f"  {column}" in proc.stdout
    assert "µs/trapped write" in proc.stdout
    assert "µs/submission" in proc.stdout
    assert "not Xen's" in proc.stdout
    for design in ("rangeset", "p2m", "p2t"):
        assert any(line.startswith(f"{design}: ") for line in proc.stdout.splitlines())
    assert "protections refused" in proc.stdout


def test_the_readme_describes_every_row_of_the_run_table() -> None:
    from ioreqlab.analysis.compare import LEGEND  # noqa: PLC0415

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for row, text in LEGEND:
        if row.startswith("µs/"):  # the timing rows: the README says where they are printed
            assert f'| {row} | (under "timing") {text} |' in readme, row
            continue
        assert f"| {row} | {text.replace('(-ENOMEM)', '(`-ENOMEM`)')} |" in readme, row
