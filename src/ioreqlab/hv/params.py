"""HVM params: ``HVMOP_set_param`` and ``HVMOP_get_param`` (xen-facts §5).

Rules, in Xen's order (4.7 ``hvm.c``)
-------------------------------------
1. ``index >= HVM_NR_PARAMS`` → ``-EINVAL`` (checked by the caller of these
   functions, before the domain is looked up).
2. The target must be an HVM domain → ``-EINVAL``.
3. ``hvm_allow_set_param``: a guest acting on itself may set only a short
   whitelist (``-EPERM`` otherwise); anyone else must be privileged or the
   guest's device-model domain (``XSM_TARGET``, ``-EPERM``).  Set-once params
   that already hold a different non-zero value → ``-EEXIST``.
4. Per-param value checks (the table of §5.2), then the value is stored.
   There is no generic range check: other params take any 64-bit value.

``HVM_PARAM_MAX_WP_RAM_RANGES`` (36, the seed patch) follows the thread's
requirements (SPEC.md): only a privileged caller may set it — the host
admin's consent, Jan Beulich 2016-02-03 — so the guest itself and a stub
device-model domain get ``-EPERM``; a value above ``UINT32_MAX`` is
``-EINVAL`` and never truncated (Jan Beulich 2016-01-29: "You're still losing
the upper 32 bits here"); a value above the host-wide cap is ``-EINVAL``; and
once the domain has an ioreq server the limit is frozen (``-EBUSY``), because
rangesets take their limit when they are created.
"""

from __future__ import annotations

from collections.abc import Callable

from ioreqlab.abi.constants import DOMID_SELF, SHUTDOWN_MAX, UINT32_MAX, HvmParam
from ioreqlab.errors import XenEBUSY, XenEEXIST, XenEINVAL, XenEOPNOTSUPP, XenEPERM
from ioreqlab.hv.domain import Domain

__all__ = [
    "GUEST_GETTABLE",
    "GUEST_SETTABLE",
    "HVMPV_FEATURE_MASK",
    "SET_ONCE",
    "allow_target",
    "get_param",
    "set_param",
]

#: Params a guest may set on itself (``hvm_allow_set_param``, 4.7; upstream
#: also has X87_FIP_WIDTH, whose number the seed patch took).
GUEST_SETTABLE = frozenset(
    {
        HvmParam.CALLBACK_IRQ,
        HvmParam.VM86_TSS,
        HvmParam.ACPI_IOPORTS_LOCATION,
        HvmParam.VM_GENERATION_ID_ADDR,
        HvmParam.STORE_EVTCHN,
        HvmParam.CONSOLE_EVTCHN,
    }
)

#: Params a guest may read on itself (``hvm_allow_get_param``, 4.7).
GUEST_GETTABLE = frozenset(
    {
        HvmParam.CALLBACK_IRQ,
        HvmParam.VM86_TSS,
        HvmParam.ACPI_IOPORTS_LOCATION,
        HvmParam.VM_GENERATION_ID_ADDR,
        HvmParam.STORE_PFN,
        HvmParam.STORE_EVTCHN,
        HvmParam.CONSOLE_PFN,
        HvmParam.CONSOLE_EVTCHN,
        HvmParam.ALTP2M,
    }
)

#: Params that may be set once: a different non-zero value later is -EEXIST.
SET_ONCE = frozenset(
    {
        HvmParam.VIRIDIAN,
        HvmParam.IOREQ_SERVER_PFN,
        HvmParam.NR_IOREQ_SERVER_PAGES,
        HvmParam.ALTP2M,
    }
)

#: ``HVMPV_feature_mask`` in 4.7: base_freq, no_freq, time_ref_count,
#: reference_tsc, hcall_remote_tlb_flush, apic_assist.
HVMPV_FEATURE_MASK = 0x3F
HVMPV_BASE_FREQ = 0x1

_MEMORY_EVENT = frozenset(
    {
        HvmParam.MEMORY_EVENT_CR0,
        HvmParam.MEMORY_EVENT_CR3,
        HvmParam.MEMORY_EVENT_CR4,
        HvmParam.MEMORY_EVENT_INT3,
        HvmParam.MEMORY_EVENT_SINGLE_STEP,
        HvmParam.MEMORY_EVENT_MSR,
    }
)

#: The largest number of ioreq-server frames (bits in ``ioreq_gmfn.mask``).
MAX_IOREQ_SERVER_PAGES = 64


def allow_target(caller: Domain, d: Domain) -> None:
    """``XSM_TARGET``: self, privileged, or the guest's device-model domain."""
    if caller is d or caller.privileged or caller.domid == d.dm_domid:
        return
    raise XenEPERM(f"domain {caller.domid} may not access params of domain {d.domid}")


def set_param(
    caller: Domain,
    d: Domain,
    index: int,
    value: int,
    *,
    wp_ranges_cap: int,
    rebind_default: Callable[[int], None],
    legacy_gfns: bool = False,
) -> None:
    """Validate and store ``params[index] = value``; raises ``XenError``.

    ``rebind_default(domid)`` is called when ``DM_DOMAIN`` changes the
    default server's emulator.  ``legacy_gfns`` (4.12+): a non-zero
    ``IOREQ_PFN``/``BUFIOREQ_PFN`` becomes a spare ioreq-server frame.
    """
    if not d.hvm:
        raise XenEINVAL(f"domain {d.domid} is not an HVM guest")
    param = HvmParam(index) if index in HvmParam._value2member_map_ else None
    allow_target(caller, d)
    if caller is d and param not in GUEST_SETTABLE:
        raise XenEPERM(f"a guest may not set param {index} on itself")
    if param in SET_ONCE and d.params[index] and d.params[index] != value:
        raise XenEEXIST(f"param {index} is set once and already holds {d.params[index]}")
    value = _check_value(caller, d, param, value, wp_ranges_cap)
    if param == HvmParam.DM_DOMAIN:
        rebind_default(value)
    elif param == HvmParam.IOREQ_SERVER_PFN:
        d.gmfn_pool.base = value
    elif param == HvmParam.NR_IOREQ_SERVER_PAGES:
        d.gmfn_pool.mask = (1 << value) - 1
    elif param in (HvmParam.IOREQ_PFN, HvmParam.BUFIOREQ_PFN) and value and legacy_gfns:
        d.gmfn_pool.legacy_mask |= 1 << index
    d.params[index] = value


def _check_value(caller: Domain, d: Domain, param: HvmParam | None, value: int, cap: int) -> int:
    """The per-param rules of §5.2 (and the seed param's); returns the value to store."""
    old = d.params[param] if param is not None else 0
    if param == HvmParam.TIMER_MODE and value > 3:
        raise XenEINVAL(f"timer mode {value} is not 0..3")
    if param == HvmParam.VIRIDIAN and (value & ~HVMPV_FEATURE_MASK or not value & HVMPV_BASE_FREQ):
        raise XenEINVAL(f"viridian features {value:#x} invalid (unknown bits or no base_freq)")
    if param == HvmParam.DM_DOMAIN and value == DOMID_SELF:
        return caller.domid
    if param == HvmParam.ACPI_S_STATE and value not in (0, 3):
        raise XenEINVAL(f"ACPI S-state {value} is not 0 or 3")
    if param == HvmParam.ACPI_IOPORTS_LOCATION and value != old and (value ^ old) != 1:
        raise XenEINVAL(f"ACPI ioports location may only toggle 0 <-> 1, not {old} -> {value}")
    if param in _MEMORY_EVENT:
        raise XenEOPNOTSUPP(f"param {param} (memory events) is deprecated")
    if param == HvmParam.NESTEDHVM and (value > 1 or d.params[HvmParam.ALTP2M]):
        raise XenEINVAL("nestedhvm must be 0 or 1, and cannot be combined with altp2m")
    if param == HvmParam.ALTP2M and (value > 1 or d.params[HvmParam.NESTEDHVM]):
        raise XenEINVAL("altp2m must be 0 or 1, and cannot be combined with nestedhvm")
    if param == HvmParam.BUFIOREQ_EVTCHN:
        raise XenEINVAL("the buffered ioreq event channel cannot be set")
    if param == HvmParam.TRIPLE_FAULT_REASON and value > SHUTDOWN_MAX:
        raise XenEINVAL(f"triple fault reason {value} > SHUTDOWN_MAX")
    if param == HvmParam.NR_IOREQ_SERVER_PAGES and not 1 <= value <= MAX_IOREQ_SERVER_PAGES:
        raise XenEINVAL(f"{value} ioreq server pages is not 1..{MAX_IOREQ_SERVER_PAGES}")
    if param == HvmParam.MAX_WP_RAM_RANGES:
        if not caller.privileged:
            raise XenEPERM("only the host's privileged toolstack may set max_wp_ram_ranges")
        if value > UINT32_MAX:
            raise XenEINVAL(f"max_wp_ram_ranges {value} exceeds UINT32_MAX (never truncated)")
        if value > cap:
            raise XenEINVAL(f"max_wp_ram_ranges {value} exceeds the host cap {cap}")
        if d.servers or d.default_server is not None:
            raise XenEBUSY("max_wp_ram_ranges cannot change once the domain has ioreq servers")
    return value


def get_param(
    caller: Domain,
    d: Domain,
    index: int,
    *,
    ensure_default: Callable[[], None],
) -> int:
    """``params[index]``, after the §5.3 checks; may create the default server."""
    if not d.hvm:
        raise XenEINVAL(f"domain {d.domid} is not an HVM guest")
    allow_target(caller, d)
    if caller is d and index not in GUEST_GETTABLE:
        raise XenEPERM(f"a guest may not read param {index} on itself")
    if index in (HvmParam.IOREQ_PFN, HvmParam.BUFIOREQ_PFN, HvmParam.BUFIOREQ_EVTCHN):
        ensure_default()
        if index == HvmParam.BUFIOREQ_EVTCHN and d.default_server is not None:
            return d.default_server.bufioreq_port
    return d.params[index]
