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
    "PARAMS_47",
    "PARAMS_417",
    "PROFILES",
    "XEN_VERSIONS",
    "Behaviour",
    "ParamTable",
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


@dataclass(frozen=True, slots=True)
class ParamTable:
    """One release's HVM param rules (``public/hvm/params.h``, ``hvm.c``).

    Numbers are ``HVM_PARAM_*`` indices.  ``max_wp_ram_ranges`` is where the
    seed patch's param sits: 36 in the 4.7 tree it was written for; after
    4.17's last param (39) in the 4.17 profile, as a forward port would have
    to put it (36 is ``X87_FIP_WIDTH`` there).  ``nr_params`` counts it.
    """

    nr_params: int
    max_wp_ram_ranges: int
    #: ``hvm_allow_set_param``: what a guest may set on itself.
    guest_settable: frozenset[int]
    #: ``hvm_allow_get_param``: what a guest may read on itself.
    guest_gettable: frozenset[int]
    #: Params every caller gets ``-EINVAL`` for, set and get (4.11+'s list).
    deprecated: frozenset[int]
    #: Params that may be set once: a different non-zero value later is ``-EEXIST``.
    set_once: frozenset[int]
    #: ``MEMORY_EVENT_*``: refused with ``-EOPNOTSUPP`` by the value checks (4.7).
    memory_event: frozenset[int]
    #: Highest ``HVM_PARAM_ALTP2M`` value (1 in 4.7; ``XEN_ALTP2M_limited`` 3 in 4.17).
    altp2m_max: int
    #: X87_FIP_WIDTH (36), VM86_TSS_SIZED (37) and MCA_CAP (38) exist, and
    #: VM86_TSS is stored through VM86_TSS_SIZED (4.8+).
    tss_sized: bool


_MEMORY_EVENT = frozenset({20, 21, 22, 23, 25, 30})

#: 4.7: xen/arch/x86/hvm/hvm.c (RELEASE-4.7.0) hvm_allow_set_param,
#: hvm_allow_get_param, do_hvm_op's set_param switch; params.h (36 = the seed's).
PARAMS_47 = ParamTable(
    nr_params=37,
    max_wp_ram_ranges=36,
    guest_settable=frozenset({0, 15, 19, 34, 2, 18}),
    guest_gettable=frozenset({0, 15, 19, 34, 1, 2, 17, 18, 35}),
    deprecated=frozenset(),
    set_once=frozenset({9, 32, 33, 35}),
    memory_event=_MEMORY_EVENT,
    altp2m_max=1,
    tss_sized=False,
)

#: 4.17: xen/arch/x86/hvm/hvm.c (RELEASE-4.17.0) hvm_allow_set_param (with
#: X87_FIP_WIDTH 36, VM86_TSS_SIZED 37), the deprecated list (PAE_ENABLED,
#: DM_DOMAIN, MEMORY_EVENT_*, NESTEDHVM, BUFIOREQ_EVTCHN), the set-once list
#: (VIRIDIAN, IOREQ_PFN, BUFIOREQ_PFN, IOREQ_SERVER_PFN, NR_IOREQ_SERVER_PAGES,
#: ALTP2M, MCA_CAP); HVM_NR_PARAMS 39 in params.h.
PARAMS_417 = ParamTable(
    nr_params=40,
    max_wp_ram_ranges=39,
    guest_settable=frozenset({0, 15, 37, 19, 34, 2, 18, 36}),
    guest_gettable=frozenset({0, 15, 37, 19, 34, 1, 2, 17, 18, 35, 36}),
    deprecated=frozenset({4, 13, 20, 21, 22, 23, 24, 25, 26, 30}),
    set_once=frozenset({9, 5, 6, 32, 33, 35, 38}),
    memory_event=frozenset(),
    altp2m_max=3,
    tss_sized=True,
)


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
        "HVM_PARAM_IOREQ_PFN/BUFIOREQ_PFN back the ioreq gfn pool when it is empty "
        "(legacy_mask), with 4.12-4.19.3's inverted test: the first request past the "
        "pool fails and clears both bits, later ones all get IOREQ_PFN's frame",
        False,
        True,
        "xen/arch/x86/hvm/ioreq.c:hvm_alloc_legacy_ioreq_gfn (RELEASE-4.17.0); 3486f398a3 "
        "'x86/hvm/ioreq: allow ioreq servers to use HVM_PARAM_[BUF]IOREQ_PFN' (4.12); "
        "fixed by 282ed258a5 (4.19.4, 4.20.2, 4.21)",
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
    _row(
        "dmop_max",
        "the highest DMOP number Xen serves (16 remote_shutdown, 17 relocate_memory, "
        "18 pin_memory_cacheattr, 20 nr_vcpus came later; 19 is Arm's)",
        15,
        20,
        "xen/include/public/hvm/dm_op.h; 9c23ed56d7 remote_shutdown (4.10), 6606cf3e2a "
        "relocate_memory and 642123c512 pin_memory_cacheattr (4.11), c4441ab1f1 nr_vcpus (4.15)",
    ),
    _row(
        "rep_movs_to_ioreq",
        "REP MOVS from RAM onto a p2m_ioreq_server page: 'copy' is 4.9's RAM-to-RAM "
        "memmove straight into the page, past its owner; 'elements' fails the copy "
        "(__hvm_copy refuses such pages) and emulates one element at a time, each "
        "element a write the owner sees",
        "copy",
        "elements",
        "xen/arch/x86/hvm/hvm.c:__hvm_copy, emulate.c:hvmemul_rep_movs; d7bff2bc00 "
        "'x86/HVM: __hvm_copy() should not write to p2m_ioreq_server pages' (4.12)",
    ),
    _row(
        "ioreq_server_bytes",
        "sizeof the server struct on x86_64 (non-debug), by the number of range types: "
        "3 in Xen, 4 with the seed series' WP_MEM",
        {3: 152, 4: 160},
        {3: 136, 4: 144},
        "xen/include/asm-x86/hvm/domain.h:struct hvm_ioreq_server (RELEASE-4.7.0); "
        "xen/include/xen/ioreq.h:struct ioreq_server (RELEASE-4.17.0; 1723e4a08c, 4.15)",
    ),
    _row(
        "params",
        "the HVM param table: numbering, the guest's own set/get lists, the deprecated "
        "and set-once lists, where the seed's max_wp_ram_ranges sits (ParamTable)",
        PARAMS_47,
        PARAMS_417,
        "xen/include/public/hvm/params.h, xen/arch/x86/hvm/hvm.c:hvm_allow_set_param, "
        "hvm_set_param, hvm_allow_get_param (RELEASE-4.7.0, RELEASE-4.17.0)",
    ),
    _row(
        "nested_altp2m_privileged",
        "setting NESTEDHVM or ALTP2M needs a privileged caller (XSM_PRIV) on top of the "
        "usual XSM_TARGET rule; 4.17 only has ALTP2M (NESTEDHVM is deprecated)",
        frozenset({24, 35}),
        frozenset({35}),
        "xen/arch/x86/hvm/hvm.c: xsm_hvm_param_nested, xsm_hvm_param_altp2mhvm "
        "(RELEASE-4.7.0, RELEASE-4.17.0)",
    ),
    _row(
        "libxl_hvm_params",
        "the HVM params libxl sets at domain creation, in order (4.17 sets nested "
        "virtualisation through a domctl flag and no longer sets PAE_ENABLED)",
        (4, 11, 10, 16, 24, 35),
        (11, 16, 10, 35),
        "tools/libxl/libxl_dom.c:hvm_set_conf_params (RELEASE-4.7.0); "
        "tools/libs/light/libxl_x86.c:hvm_set_conf_params (RELEASE-4.17.0)",
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
    dmop_max: int
    rep_movs_to_ioreq: str
    ioreq_server_bytes: Mapping[int, int]
    params: ParamTable
    nested_altp2m_privileged: frozenset[int]
    libxl_hvm_params: tuple[int, ...]


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
