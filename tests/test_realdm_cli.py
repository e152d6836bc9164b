"""``ioreqlab dm``: QEMU serves the default guest; the trace's outcomes are logged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ioreqlab.cli import main
from tests.realdm_helpers import qemu_argv

TRACE = [
    {
        "dom": "guest",
        "vcpu": 0,
        "space": "pio",
        "addr": 0xCF8,
        "size": 4,
        "write": True,
        "data": 0x80000800,
    },
    {
        "dom": "guest",
        "vcpu": 0,
        "space": "pio",
        "addr": 0xCFC,
        "size": 4,
        "write": False,
        "data": None,
    },
    {
        "dom": "guest",
        "vcpu": 0,
        "space": "pio",
        "addr": 0x3F8,
        "size": 1,
        "write": True,
        "data": 0x4F,
    },
]


def _run(
    tmp_path: Path,
    trace: list[dict[str, object]],
    *extra: str,
    qemu_extra: tuple[str, ...] = (),
) -> tuple[int, list[dict[str, object]]]:
    src = tmp_path / "trace.jsonl"
    src.write_text("".join(json.dumps(t) + "\n" for t in trace))
    log = tmp_path / "log.jsonl"
    argv = qemu_argv("-serial", f"file:{tmp_path / 'com1.txt'}", *qemu_extra)
    rc = main(
        ["dm", "--trace", str(src), "--log", str(log), "--timeout", "20", *extra, "--", *argv]
    )
    lines = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    return rc, lines


def test_dm_plays_the_trace_and_logs_outcomes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, lines = _run(tmp_path, TRACE)
    assert rc == 0
    accesses = [x for x in lines if "event" not in x]
    assert [x["status"] for x in accesses] == ["done", "done", "done"]
    assert accesses[1]["result"] == 0x70008086  # 00:01.0, the PIIX3
    assert all(x["route"] == "server" and x["server_id"] == 0 for x in accesses)
    assert (tmp_path / "com1.txt").read_bytes() == b"O"
    unserved = [x for x in lines if x.get("event") == "unserved"]
    assert {"driver": "linux", "call": "open /dev/xen/gntdev"}.items() <= unserved[-1].items()
    err = capsys.readouterr().err
    assert "device model exited with status 0" in err


def test_dm_names_the_access_that_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = [*TRACE[:1], {**TRACE[1], "vcpu": 3}]  # the guest has one vCPU
    rc, lines = _run(tmp_path, bad)
    assert rc == 1
    assert len([x for x in lines if "event" not in x]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ioreqlab: error: access on line 2 (pio read 0xcfc size 4): refused")


def test_dm_refuses_bad_usage_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dm", "--timeout", "0", "--", "true"]) == 2
    assert main(["dm"]) == 2
    assert main(["dm", "--trace", str(tmp_path / "missing"), "--", "true"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3
    assert all(line.startswith("ioreqlab: error: ") for line in err)


def test_the_same_trace_on_qemu_and_on_the_builtin_emulator(tmp_path: Path) -> None:
    trace = Path(__file__).resolve().parents[1] / "docs" / "examples" / "qemu-hello.jsonl"
    real_log, builtin_log = tmp_path / "real.jsonl", tmp_path / "builtin.jsonl"
    argv = qemu_argv("-serial", f"file:{tmp_path / 'com1.txt'}")
    assert main(["dm", "--trace", str(trace), "--log", str(real_log), "--", *argv]) == 0
    assert main(["dm", "--builtin", "--trace", str(trace), "--log", str(builtin_log)]) == 0
    assert (tmp_path / "com1.txt").read_bytes() == b"hi\n"
    real = [json.loads(x) for x in real_log.read_text().splitlines() if '"event"' not in x]
    builtin = [json.loads(x) for x in builtin_log.read_text().splitlines()]
    assert len(real) == len(builtin) == 7
    differ = [i for i, (a, b) in enumerate(zip(real, builtin, strict=True)) if a != b]
    # The one difference: QEMU has the PIIX3 at 00:01.0, the built-in emulator has not.
    assert differ == [3]
    assert real[3]["result"] == 0x70008086
    assert (builtin[3]["route"], builtin[3]["result"]) == ("null", 0xFFFFFFFF)


def test_dm_creates_the_guest_from_an_xl_cfg(tmp_path: Path) -> None:
    cfg = tmp_path / "vm.cfg"
    cfg.write_text('name = "vm1"\nbuilder = "hvm"\nmemory = 256\nvcpus = 2\n')
    trace = [{**TRACE[0], "dom": "vm1", "vcpu": 1}, {**TRACE[1], "dom": "vm1", "vcpu": 1}]
    # libxl gives QEMU the vCPU count (-smp, libxl_dm.c); without it QEMU binds one port.
    rc, lines = _run(tmp_path, trace, "--cfg", str(cfg), qemu_extra=("-smp", "2"))
    assert rc == 0
    accesses = [x for x in lines if "event" not in x]
    assert accesses[1]["result"] == 0x70008086
    # A trace line for a guest of another name is refused with its line number.
    rc, _ = _run(tmp_path, TRACE[:1], "--cfg", str(cfg))
    assert rc == 1


def test_dm_without_a_trace_serves_until_the_device_model_exits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A client that never becomes ready (it exits at once) is reported, status and all.
    assert main(["dm", "--timeout", "5", "--", "sh", "-c", "exit 3"]) == 1
    err = capsys.readouterr().err
    assert "device model exited before it was ready (status 3)" in err
