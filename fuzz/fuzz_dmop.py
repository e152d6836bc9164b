"""atheris harness: arbitrary DMOP/HVMOP calls against a small host.

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python fuzz/fuzz_dmop.py -atheris_runs=200000

The property: whatever the bytes, buffer count, caller and target, the ABI
boundary returns 0 or a -errno and the heap accounting stays exact.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from ioreqlab import devicemodel
    from ioreqlab.host import DESIGNS, Host

DOMIDS = [0, 1, 2, 3, 777, 0x7FF0]


def build(design: str) -> Host:
    host = Host(design=design, xen_heap_bytes=1 << 20)
    stub = host.create_domain(memory_mib=16, hvm=False)
    host.create_domain(memory_mib=64, dm_domid=stub)
    host.create_domain(memory_mib=64)
    devicemodel.open(host, 0).create_ioreq_server(2)
    return host


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    host = build(DESIGNS[fdp.ConsumeIntInRange(0, 2)])
    for _ in range(fdp.ConsumeIntInRange(1, 8)):
        caller = DOMIDS[fdp.ConsumeIntInRange(0, len(DOMIDS) - 1)]
        domid = DOMIDS[fdp.ConsumeIntInRange(0, len(DOMIDS) - 1)]
        if fdp.ConsumeBool():
            rc = host.hvm_op(
                caller,
                fdp.ConsumeIntInRange(0, 30),
                bytearray(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 24))),
            )
        else:
            bufs = [
                bytearray(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40)))
                for _ in range(fdp.ConsumeIntInRange(0, 3))
            ]
            rc = host.dm_op(caller, domid, bufs)
        assert isinstance(rc, int)
        assert rc <= 0
    host.check_invariants()


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
