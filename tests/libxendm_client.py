"""A device model in a few lines: Debian's libxendevicemodel through ctypes.

Run under ioreqlab's interposition library (``DeviceModel``); makes
:data:`tests.libxendm_calls.CALLS` against the guest named by
``IOREQLAB_DOMID`` and prints one JSON line per call: its name, return value
and errno.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import sys
from collections.abc import Callable
from typing import Any

from tests.libxendm_calls import CALLS, SID

U16, U32, U64, U8 = ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_uint8
INT, UINT, PTR = ctypes.c_int, ctypes.c_uint, ctypes.c_void_p
SIGNATURES: dict[str, list[type]] = {
    "create_ioreq_server": [INT, ctypes.POINTER(U16)],
    "get_ioreq_server_info": [U16, ctypes.POINTER(U64), ctypes.POINTER(U64), ctypes.POINTER(U32)],
    "map_io_range_to_ioreq_server": [U16, INT, U64, U64],
    "unmap_io_range_from_ioreq_server": [U16, INT, U64, U64],
    "map_pcidev_to_ioreq_server": [U16, U16, U8, U8, U8],
    "unmap_pcidev_from_ioreq_server": [U16, U16, U8, U8, U8],
    "map_mem_type_to_ioreq_server": [U16, U16, U32],
    "set_mem_type": [INT, U64, U32],
    "set_ioreq_server_state": [U16, INT],
    "set_isa_irq_level": [U8, UINT],
    "set_pci_intx_level": [U16, U8, U8, U8, UINT],
    "set_pci_link_route": [U8, U8],
    "inject_msi": [U64, U32],
    "modified_memory": [U64, U32],
    "pin_memory_cacheattr": [U64, U64, U32],
    "nr_vcpus": [ctypes.POINTER(UINT)],
    "relocate_memory": [U32, U64, U64],
    "destroy_ioreq_server": [U16],
    "inject_event": [INT, U8, U8, U32, U8, U64],
    "set_irq_level": [UINT, UINT],
    "modified_memory_bulk": [PTR, U32],
    "track_dirty_vram": [U64, U32, PTR],
    "shutdown": [UINT],
}


def privcmd_errors(lib: ctypes.CDLL, handle: int, dom: int) -> None:
    """Calls Linux's privcmd refuses itself, before Xen: one JSON line each."""
    bulk = lib.xendevicemodel_modified_memory_bulk
    bulk.restype, bulk.argtypes = INT, [PTR, U16, PTR, U32]
    extents = (ctypes.c_uint8 * (16 * 300))()  # 300 extents: a 4,800-byte buffer
    vram = lib.xendevicemodel_track_dirty_vram
    vram.restype, vram.argtypes = INT, [PTR, U16, U64, U32, PTR]
    bitmap = (ctypes.c_uint8 * 8)()
    calls: dict[str, Callable[[], int]] = {
        "bulk_over_4096_bytes": lambda: bulk(handle, dom, extents, 300),
        "bitmap_at_a_bad_address": lambda: vram(handle, dom, 0xA0, 64, 0x10),
        "bitmap_in_kernel_space": lambda: vram(handle, dom, 0xA0, 64, 0xFFFF800000000000),
        "bitmap_ok": lambda: vram(handle, dom, 0xA0, 64, ctypes.addressof(bitmap)),
    }
    for name, call in calls.items():
        ctypes.set_errno(0)
        rc = call()
        err = ctypes.get_errno() if rc < 0 else 0
        print(json.dumps({"call": name, "rc": rc, "errno": err, "out": []}), flush=True)


def main() -> int:
    lib = ctypes.CDLL("libxendevicemodel.so.1", use_errno=True)
    lib.xendevicemodel_open.restype = PTR
    lib.xendevicemodel_open.argtypes = [PTR, UINT]
    handle = lib.xendevicemodel_open(None, 0)
    if not handle:
        print(json.dumps({"call": "open", "errno": ctypes.get_errno()}))
        return 1
    dom = int(os.environ["IOREQLAB_DOMID"])
    if sys.argv[1:] == ["privcmd-errors"]:
        privcmd_errors(lib, handle, dom)
        return 0
    sid = 0
    for name, args in CALLS:
        fn = getattr(lib, f"xendevicemodel_{name}")
        fn.restype = INT
        fn.argtypes = [PTR, U16, *SIGNATURES[name]]
        real: list[Any] = [sid if a == SID else a for a in args]
        keep: list[object] = []  # buffers passed by pointer, alive until the call returns
        if name == "modified_memory_bulk":
            (extents,) = real
            raw = b"".join(struct.pack("<IIQ", nr, 0, pfn) for pfn, nr in extents)
            array = ctypes.create_string_buffer(raw, len(raw))
            keep.append(array)
            real = [ctypes.addressof(array), len(extents)]
        elif name == "track_dirty_vram":
            bitmap = ctypes.create_string_buffer((real[1] + 7) // 8)
            keep.append(bitmap)
            real = [*real, ctypes.addressof(bitmap)]
        out: list[ctypes._SimpleCData[int]] = []
        if name == "create_ioreq_server":
            out = [U16()]
        elif name == "get_ioreq_server_info":
            out = [U64(), U64(), U32()]
        elif name == "nr_vcpus":
            out = [UINT()]
        ctypes.set_errno(0)
        rc = fn(handle, dom, *real, *(ctypes.byref(o) for o in out))
        err = ctypes.get_errno() if rc < 0 else 0
        if name == "create_ioreq_server" and rc == 0:
            sid = out[0].value
        values = [o.value for o in out] if rc == 0 else []
        print(json.dumps({"call": name, "rc": rc, "errno": err, "out": values}), flush=True)
    lib.xendevicemodel_close(ctypes.c_void_p(handle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
