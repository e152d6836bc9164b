"""Which Xen the model is: every version-gated behaviour, as one table.

A :class:`~ioreqlab.host.Host` is built for one Xen release — ``"4.7"``, the
tree the 2016 series targeted (with the 4.9 DMOP ABI and ``p2m_ioreq_server``,
SPEC.md), or ``"4.17"``, what Debian 12 ships and what its libxendevicemodel
and QEMU 7.2 expect.  Whatever differs between the two is a row of
:data:`BEHAVIOURS`: a name, what it means, the value under each profile, and
the Xen file and commit (with the first release that carried it) where it
changed.  :class:`XenProfile` is built from the rows, so the code reads
``host.xen.<row>`` and never compares version strings.

A row is pinned by ``tests/test_profiles.py``, which exercises every row
under both profiles and fails if a row has no check.

>>> PROFILES["4.17"].max_servers, PROFILES["4.7"].first_server_id
(8, 1)
>>> profile("4.9")
Traceback (most recent call last):
  ...
ioreqlab.errors.XenEINVAL: [Errno 22] Invalid argument: Xen profile '4.9' is not one of 4.7, 4.17
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ioreqlab.errors import XenEINVAL

__all__ = [
    "BEHAVIOURS",
    "DEFAULT_XEN",
    "PROFILES",
    "XEN_VERSIONS",
    "Behaviour",
    "XenProfile",
    "profile",
]

XEN_VERSIONS = ("4.7", "4.17")
DEFAULT_XEN = "4.7"


@dataclass(frozen=True, slots=True)
class Behaviour:
    """One version-gated behaviour: its value per profile and where it comes from."""

    name: str
    meaning: str
    values: Mapping[str, Any]
    source: str


def _row(name: str, meaning: str, v47: Any, v417: Any, source: str) -> Behaviour:
    return Behaviour(name, meaning, {"4.7": v47, "4.17": v417}, source)


#: Every behaviour that differs between the profiles, with its source.
BEHAVIOURS: tuple[Behaviour, ...] = (
    _row(
        "max_servers",
        "servers per domain: None = limited only by the gmfn pool (4.7 list); "
        "8 = MAX_NR_IOREQ_SERVERS slots (array), -ENOSPC when full",
        None,
        8,
        "xen/common/ioreq.c:ioreq_server_create; 97a5a3e301 "
        "'x86/hvm/ioreq: maintain an array of ioreq servers rather than a list' (4.11)",
    ),
    _row(
        "first_server_id",
        "the first id handed out: 4.7 pre-increments a u16 counter (1, 2, ... skipping "
        "ids in use); 4.17 takes the lowest free slot (0, 1, ...)",
        1,
        0,
        "xen/arch/x86/hvm/ioreq.c:next_ioservid (4.7); xen/common/ioreq.c:"
        "ioreq_server_create (4.17); 97a5a3e301 (4.11)",
    ),
    _row(
        "default_server",
        "reading HVM_PARAM_IOREQ_PFN/BUFIOREQ_PFN/BUFIOREQ_EVTCHN creates the default "
        "server, which catches what no other server takes",
        True,
        False,
        "xen/arch/x86/hvm/hvm.c:hvm_get_param; 2c257bd69a "
        "'x86/hvm: remove default ioreq server (again)' (4.12)",
    ),
    _row(
        "pages_at_create",
        "a server takes its ioreq (and ring) frames from the gmfn pool when created "
        "(True), or only when get_ioreq_server_info asks for gfns or "
        "XENMEM_acquire_resource asks for frames (False)",
        True,
        False,
        "xen/common/ioreq.c:ioreq_server_get_info, ioreq_server_get_frame; 3fefa0f15d "
        "'x86/hvm/ioreq: defer mapping gfns until they are actually requested' (4.11)",
    ),
    _row(
        "legacy_gfns",
        "HVM_PARAM_IOREQ_PFN/BUFIOREQ_PFN, once set, are ioreq gfns a server may use "
        "when the pool is empty (legacy_mask)",
        False,
        True,
        "xen/arch/x86/hvm/ioreq.c:hvm_alloc_legacy_ioreq_gfn; 3486f398a3 "
        "'x86/hvm/ioreq: allow ioreq servers to use HVM_PARAM_[BUF]IOREQ_PFN' (4.12)",
    ),
    _row(
        "get_info_flags",
        "get_ioreq_server_info's u16 at offset 2 is 'flags' (XEN_DMOP_no_gfns = 1; "
        "other bits -EINVAL) rather than a pad that must be zero",
        False,
        True,
        "xen/include/public/hvm/dm_op.h, xen/common/ioreq.c:ioreq_server_dm_op; 3fefa0f15d (4.11)",
    ),
    _row(
        "acquire_resource",
        "XENMEM_acquire_resource of XENMEM_resource_ioreq_server: frame 0 the buffered "
        "page, frame 1 the ioreq page; only the server's emulator may acquire",
        False,
        True,
        "xen/common/memory.c:acquire_resource, xen/common/ioreq.c:ioreq_server_get_frame; "
        "6e387461ed 'x86/hvm/ioreq: add a new mappable resource type...' (4.11)",
    ),
    _row(
        "broadcast_disabled",
        "TIMEOFFSET and INVALIDATE broadcasts reach disabled servers too",
        True,
        False,
        "xen/common/ioreq.c:ioreq_broadcast (skips !s->enabled); 97a5a3e301 (4.11)",
    ),
    _row(
        "mmio_df",
        "MMIO routing takes a rep access's span below addr when the direction flag is "
        "set (False: always addr .. addr + size*count - 1)",
        False,
        True,
        "xen/common/ioreq.c:ioreq_server_select (ioreq_mmio_first_byte); 60a56dc006 "
        "'x86/hvm/ioreq: MMIO range checking completely ignores direction flag' (4.12)",
    ),
    _row(
        "dmop_non_hvm_rc",
        "what a DMOP on a PV target returns: 4.9 jumps out with rc still 0",
        0,
        -22,
        "xen/arch/x86/hvm/dm.c:dm_op; 615367b527 'x86/dmop: Properly fail for PV guests' (4.15)",
    ),
    _row(
        "dmop_per_op_size",
        "buf[0] must hold the header plus that op's struct (False: the whole 32-byte "
        "xen_dm_op, in and out); outputs copy back only the op's struct",
        False,
        True,
        "xen/arch/x86/hvm/dm.c:dm_op (op_size[]); 85cb15dfe4 "
        "'x86/hvm/dmop: only copy what is needed to/from the guest' (4.11)",
    ),
)


@dataclass(frozen=True, slots=True)
class XenProfile:
    """One Xen release's values of every row of :data:`BEHAVIOURS`."""

    version: str
    max_servers: int | None
    first_server_id: int
    default_server: bool
    pages_at_create: bool
    legacy_gfns: bool
    get_info_flags: bool
    acquire_resource: bool
    broadcast_disabled: bool
    mmio_df: bool
    dmop_non_hvm_rc: int
    dmop_per_op_size: bool


def _build(version: str) -> XenProfile:
    values = {b.name: b.values[version] for b in BEHAVIOURS}
    names = {f.name for f in fields(XenProfile)} - {"version"}
    assert names == set(values), f"profile fields and table rows differ: {names ^ set(values)}"
    return XenProfile(version=version, **values)


#: The profiles, by version string.
PROFILES: Mapping[str, XenProfile] = {v: _build(v) for v in XEN_VERSIONS}


def profile(version: str) -> XenProfile:
    """The profile of ``version``; ``-EINVAL`` for a release the model does not know."""
    try:
        return PROFILES[version]
    except (KeyError, TypeError):
        known = ", ".join(XEN_VERSIONS)
        raise XenEINVAL(f"Xen profile {version!r} is not one of {known}") from None
