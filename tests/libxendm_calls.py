"""One sequence of libxendevicemodel calls, made by the real library and by the model's own.

``CALLS`` name a ``xendevicemodel_*`` function and its arguments after the
handle and domid; ``SID`` stands for the server id the first call returned,
``DOM`` for the guest.  Bad calls are in the list on purpose.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from ioreqlab import devicemodel
from ioreqlab.abi.constants import HvmMem, IoRangeType
from ioreqlab.abi.structs import DM_OP_SIZE, DM_OP_UNION_OFFSET, DmOpHeader
from ioreqlab.errors import raise_errno

SID = "SID"
DOM = "DOM"

CALLS: list[tuple[str, tuple[Any, ...]]] = [
    ("create_ioreq_server", (2,)),
    ("get_ioreq_server_info", (SID,)),
    ("map_io_range_to_ioreq_server", (SID, 0, 0x3F8, 0x3FF)),
    ("map_io_range_to_ioreq_server", (SID, 1, 0xFE000000, 0xFE000FFF)),
    ("map_pcidev_to_ioreq_server", (SID, 0, 0, 3, 0)),
    ("unmap_io_range_from_ioreq_server", (SID, 0, 0x3F8, 0x3FF)),
    ("unmap_pcidev_from_ioreq_server", (SID, 0, 0, 3, 0)),
    ("map_mem_type_to_ioreq_server", (SID, int(HvmMem.IOREQ_SERVER), 1)),
    ("set_mem_type", (int(HvmMem.IOREQ_SERVER), 0x100, 4)),
    ("set_ioreq_server_state", (SID, 1)),
    ("set_isa_irq_level", (4, 1)),
    ("set_pci_intx_level", (0, 0, 3, 0, 1)),
    ("set_pci_link_route", (0, 5)),
    ("inject_msi", (0xFEE00000, 0x4041)),
    ("modified_memory", (0x200, 2)),
    ("pin_memory_cacheattr", (0x300, 0x30F, 0)),
    ("nr_vcpus", ()),
    ("relocate_memory", (1, 0x400, 0x500)),
    ("inject_event", (0, 14, 3, 0, 0, 0x1234)),
    ("inject_event", (5, 14, 3, 0, 0, 0)),  # no vCPU 5: EINVAL
    ("set_irq_level", (5, 1)),  # x86 has no XEN_DMOP_set_irq_level: EOPNOTSUPP
    ("modified_memory_bulk", ([(0x200, 1), (0x300, 2)],)),
    ("track_dirty_vram", (0xA0, 64)),
    ("map_io_range_to_ioreq_server", (77, 0, 0x60, 0x60)),  # no such server: ENOENT
    ("set_ioreq_server_state", (SID, 0)),
    ("destroy_ioreq_server", (SID,)),
    ("destroy_ioreq_server", (SID,)),  # twice: ENOENT
    ("shutdown", (0,)),
    ("set_isa_irq_level", (4, 0)),  # DMOPs are still served to a shut-down domain
]


def _set_irq_level(dm: devicemodel.DeviceModel, domid: int, irq: int, level: int) -> None:
    """XEN_DMOP_set_irq_level (19) as libxendevicemodel packs it; the model has no wrapper."""
    buf = bytearray(DM_OP_SIZE)
    buf[:DM_OP_UNION_OFFSET] = DmOpHeader(19, 0).pack()
    struct.pack_into("<IB", buf, DM_OP_UNION_OFFSET, irq, level)
    rc = dm.host.dm_op(dm.caller, domid, [buf])
    if rc < 0:
        raise_errno(rc, "set_irq_level")


#: The same calls through the model's own wrappers (:mod:`ioreqlab.devicemodel`).
MODEL: dict[str, Callable[..., object]] = {
    "create_ioreq_server": lambda dm, d, b: dm.create_ioreq_server(d, b),
    "get_ioreq_server_info": lambda dm, d, s: dm.get_ioreq_server_info(d, s),
    "map_io_range_to_ioreq_server": lambda dm, d, s, m, lo, hi: dm.map_io_range_to_ioreq_server(
        d, s, IoRangeType.MEMORY if m else IoRangeType.PORT, lo, hi
    ),
    "unmap_io_range_from_ioreq_server": lambda dm, d, s, m, lo, hi: (
        dm.unmap_io_range_from_ioreq_server(
            d, s, IoRangeType.MEMORY if m else IoRangeType.PORT, lo, hi
        )
    ),
    "map_pcidev_to_ioreq_server": lambda dm, d, s, *b: dm.map_pcidev_to_ioreq_server(d, s, *b),
    "unmap_pcidev_from_ioreq_server": lambda dm, d, s, *b: dm.unmap_pcidev_from_ioreq_server(
        d, s, *b
    ),
    "map_mem_type_to_ioreq_server": lambda dm, d, s, t, f: dm.map_mem_type_to_ioreq_server(
        d, s, t, f
    ),
    "set_mem_type": lambda dm, d, t, first, nr: dm.set_mem_type(d, t, first, nr),
    "set_ioreq_server_state": lambda dm, d, s, on: dm.set_ioreq_server_state(d, s, bool(on)),
    "set_isa_irq_level": lambda dm, d, irq, lvl: dm.set_isa_irq_level(d, irq, lvl),
    "set_pci_intx_level": lambda dm, d, *a: dm.set_pci_intx_level(d, *a),
    "set_pci_link_route": lambda dm, d, link, irq: dm.set_pci_link_route(d, link, irq),
    "inject_msi": lambda dm, d, addr, data: dm.inject_msi(d, addr, data),
    "modified_memory": lambda dm, d, first, nr: dm.modified_memory(d, first, nr),
    "pin_memory_cacheattr": lambda dm, d, lo, hi, t: dm.pin_memory_cacheattr(d, lo, hi, t),
    "nr_vcpus": lambda dm, d: dm.nr_vcpus(d),
    "relocate_memory": lambda dm, d, n, src, dst: dm.relocate_memory(d, n, src, dst),
    "destroy_ioreq_server": lambda dm, d, s: dm.destroy_ioreq_server(d, s),
    "inject_event": lambda dm, d, *a: dm.inject_event(d, *a),
    "set_irq_level": _set_irq_level,
    "modified_memory_bulk": lambda dm, d, extents: dm.modified_memory_bulk(d, extents),
    "track_dirty_vram": lambda dm, d, first, nr: dm.track_dirty_vram(d, first, nr),
    "shutdown": lambda dm, d, reason: dm.shutdown(d, reason),
}

assert set(MODEL) == {name for name, _ in CALLS}
assert devicemodel.DeviceModel is not None
