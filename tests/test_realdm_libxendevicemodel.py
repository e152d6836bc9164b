"""Debian's libxendevicemodel 4.17, unmodified, against the model: byte for byte.

The real library (through ctypes, in a child process under the interposition
library) and the model's own wrappers make the same calls
(:mod:`tests.libxendm_calls`) on identical hosts.  Every DMOP's buffers must
be equal byte for byte, and every return and errno equal — through both of
the library's transports: ``IOCTL_PRIVCMD_DM_OP``, and the raw
``__HYPERVISOR_dm_op`` hypercall it falls back to on a kernel whose privcmd
answers that ioctl ``-ENOTTY``.
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from ioreqlab import devicemodel
from ioreqlab.errors import ModelLimitError, XenError
from ioreqlab.host import Host
from ioreqlab.hv.dmop import Buffer
from ioreqlab.hv.pages import MODEL_PAGE_COST
from ioreqlab.realdm import DeviceModel, shared_host
from ioreqlab.realdm.build import compile_c
from ioreqlab.realdm.shm import SharedPages
from tests.libxendm_calls import CALLS, MODEL, SID
from tests.realdm_helpers import LIBXENDEVICEMODEL, require

ROOT = Path(__file__).resolve().parents[1]


def _model_run(host: Host, dom: int) -> tuple[list[tuple[int, list[bytes], int]], list[int]]:
    """The calls through ioreqlab.devicemodel, recording each DMOP as the fake does."""
    seen: list[tuple[int, list[bytes], int]] = []
    real_dm_op = host.dm_op

    def recording(caller: int, domid: int, bufs: Sequence[Buffer]) -> int:
        before = [bytes(b) for b in bufs]
        rc = real_dm_op(caller, domid, bufs)
        seen.append((domid, before, rc))
        return rc

    host.dm_op = recording  # type: ignore[method-assign]  # the recording is the point
    dm = devicemodel.DeviceModel(host, 0)
    sid = 0
    errnos = []
    for name, args in CALLS:
        real = [sid if a == SID else a for a in args]
        try:
            got = MODEL[name](dm, dom, *real)
        except XenError as err:
            errnos.append(err.errno or 0)
            continue
        errnos.append(0)
        if name == "create_ioreq_server":
            assert isinstance(got, int)
            sid = got
    return seen, errnos


def _call_lines() -> str:
    """CALLS as the C harness reads them: one call per line, numbers and SID."""
    lines = []
    for name, args in CALLS:
        flat: list[object] = []
        for a in args:
            if isinstance(a, list):  # modified_memory_bulk's extents: pfn nr pfn nr ...
                flat.extend(x for pair in a for x in pair)
            else:
                flat.append(a)
        lines.append(" ".join([name, *(str(x) for x in flat)]))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("client", ["ctypes", "C"])
@pytest.mark.parametrize("transport", ["dm_op ioctl", "hypercall"])
def test_the_real_library_sends_the_models_bytes(
    client: str, transport: str, tmp_path: Path
) -> None:
    require(LIBXENDEVICEMODEL, "libxen-dev")
    if client == "C":
        require("cc", "gcc")
        exe = compile_c(ROOT / "tests" / "c" / "dmcalls.c", shared=False, libs=("xendevicemodel",))
        script = tmp_path / "calls.txt"
        script.write_text(_call_lines())
        argv = [str(exe), str(script)]
    else:
        argv = [sys.executable, "-m", "tests.libxendm_client"]
    host = shared_host()
    g = host.create_domain(memory_mib=64, vcpus=2, name="guest")
    out = tmp_path / "client.jsonl"
    with out.open("wb") as sink:
        dm = DeviceModel(
            host,
            g,
            argv,
            env={"PYTHONPATH": str(ROOT)},
            dm_op_ioctl=transport == "dm_op ioctl",
            stdout=sink.fileno(),
            stderr=subprocess.DEVNULL,
        )
        dm.fake.start()
        dm.start_process()
        assert dm.wait_for(lambda: not dm.alive(), timeout=60)
        assert dm.stop() == 0
    real = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["call"] for r in real] == [name for name, _ in CALLS]

    ref_host = Host(xen="4.17")
    ref_g = ref_host.create_domain(memory_mib=64, vcpus=2, name="guest")
    assert ref_g == g
    expected, errnos = _model_run(ref_host, ref_g)
    # The library's probe at open (a DM_OP with no buffers) never reaches Xen.
    assert len(dm.fake.dm_ops) == len(expected)
    for i, ((d1, bufs1, rc1), (d2, bufs2, rc2)) in enumerate(
        zip(dm.fake.dm_ops, expected, strict=True)
    ):
        assert (d1, rc1) == (d2, rc2), i
        assert bufs1 == bufs2, i
    assert [r["errno"] for r in real] == errnos
    assert errnos.count(errno.ENOENT) == 2  # the bad server id, the second destroy
    by_call = [(name, r["errno"]) for (name, _), r in zip(CALLS, real, strict=True)]
    assert ("set_irq_level", errno.EOPNOTSUPP) in by_call  # not an x86 DMOP in 4.17
    assert ("inject_event", errno.EINVAL) in by_call  # the vCPU that does not exist
    assert by_call[-1] == ("set_isa_irq_level", 0)  # after the remote shutdown
    assert real[0]["out"][0] == 0  # the first server of a 4.17 guest has id 0


def _client(
    host: Host, g: int, tmp_path: Path, *args: str, dm_op_ioctl: bool = True
) -> list[dict[str, object]]:
    out = tmp_path / "client.jsonl"
    with out.open("wb") as sink:
        dm = DeviceModel(
            host,
            g,
            [sys.executable, "-m", "tests.libxendm_client", *args],
            env={"PYTHONPATH": str(ROOT)},
            dm_op_ioctl=dm_op_ioctl,
            stdout=sink.fileno(),
            stderr=subprocess.DEVNULL,
        )
        dm.fake.start()
        dm.start_process()
        assert dm.wait_for(lambda: not dm.alive(), timeout=60)
        assert dm.stop() == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_privcmd_refuses_oversized_and_bad_buffers_before_xen(tmp_path: Path) -> None:
    # Linux's privcmd_ioctl_dm_op: a buffer over 4096 bytes is E2BIG; one beyond
    # TASK_SIZE fails access_ok, and an unmapped one fails to pin: both EFAULT.
    require(LIBXENDEVICEMODEL, "libxen-dev")
    host = shared_host()
    g = host.create_domain(memory_mib=64, name="guest")
    got = {r["call"]: r["errno"] for r in _client(host, g, tmp_path, "privcmd-errors")}
    assert got == {
        "bulk_over_4096_bytes": errno.E2BIG,
        "bitmap_at_a_bad_address": errno.EFAULT,
        "bitmap_in_kernel_space": errno.EFAULT,
        # A good call reaches Xen and gets what the model's own wrapper gets.
        "bitmap_ok": _model_errno(lambda dm: dm.track_dirty_vram(g, 0xA0, 64)),
    }


def _model_errno(call: Callable[[devicemodel.DeviceModel], object]) -> int:
    host = Host(xen="4.17")
    host.create_domain(memory_mib=64, name="guest")
    try:
        call(devicemodel.DeviceModel(host, 0))
    except XenError as err:
        return err.errno or 0
    return 0


def test_the_models_own_bound_stops_the_fake_xen_with_its_error() -> None:
    # A real client that takes the model past Host(model_memory_bytes=...): the fake
    # Xen stops serving (no errno of Xen's says "the model is full") and whoever
    # waits on the session gets the ModelLimitError, not a hang or a dead thread.
    host = Host(xen="4.17", pages=SharedPages(1 << 12), model_memory_bytes=MODEL_PAGE_COST)
    g = host.create_domain(memory_mib=64, vcpus=2, name="guest")
    dm = DeviceModel(
        host,
        g,
        [sys.executable, "-m", "tests.libxendm_client"],
        env={"PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    dm.fake.start()
    dm.start_process()
    try:
        with pytest.raises(ModelLimitError, match="memory bound"):
            dm.wait_for(lambda: not dm.alive(), timeout=60)
    finally:
        dm.stop(timeout=5)
