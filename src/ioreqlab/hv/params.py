"""HVM params: ``HVMOP_set_param`` and ``HVMOP_get_param`` (xen-facts §5).

Rules, in Xen's order (``hvm.c`` of the host's profile)
--------------------------------------------------------
1. ``index >= HVM_NR_PARAMS`` → ``-EINVAL`` (checked by the caller of these
   functions, before the domain is looked up; the number is the profile's).
2. The target must be an HVM domain → ``-EINVAL``.
3. ``XSM_TARGET``: the guest itself, a privileged caller or the guest's
   device-model domain (``-EPERM``).  Then the profile's lists
   (:class:`~ioreqlab.profiles.ParamTable`): a deprecated param is
   ``-EINVAL`` for everyone (4.11+); a guest acting on itself may set (or
   read) only its whitelist (``-EPERM``).  Set-once params that already hold
   a different non-zero value → ``-EEXIST``.
4. Per-param checks, then the value is stored.  NESTEDHVM and ALTP2M need a
   privileged caller (``XSM_PRIV``) before their value checks.  There is no
   generic range check: other params take any 64-bit value.

The seed's ``max_wp_ram_ranges`` (36 in the 4.7 profile, 39 in the 4.17
one) follows the thread's requirements (SPEC.md): only a privileged caller
may set it — the host admin's consent, Jan Beulich 2016-02-03 — so the guest
itself and a stub device-model domain get ``-EPERM``; a value above
``UINT32_MAX`` is ``-EINVAL`` and never truncated (Jan Beulich 2016-01-29:
"You're still losing the upper 32 bits here"); a value above the host-wide
cap is ``-EINVAL``; and once the domain has an ioreq server the limit is
frozen (``-EBUSY``), because rangesets take their limit when they are created.
"""

from __future__ import annotations

from collections.abc import Callable

from ioreqlab.abi.constants import DOMID_SELF, SHUTDOWN_MAX, UINT32_MAX, UINT64_MAX, HvmParam
from ioreqlab.errors import XenEBUSY, XenEEXIST, XenEINVAL, XenEOPNOTSUPP, XenEPERM
from ioreqlab.hv.domain import MAX_IOREQ_SERVER_PAGES, Domain
from ioreqlab.profiles import XenProfile

__all__ = [
    "HVMPV_FEATURE_MASK",
    "MAX_IOREQ_SERVER_PAGES",
    "allow_target",
    "get_param",
    "set_param",
]

#: ``HVMPV_feature_mask`` in 4.7: base_freq, no_freq, time_ref_count,
#: reference_tsc, hcall_remote_tlb_flush, apic_assist.
HVMPV_FEATURE_MASK = 0x3F
HVMPV_BASE_FREQ = 0x1


#: 4.17's params past 35 (``public/hvm/params.h``).
X87_FIP_WIDTH, VM86_TSS_SIZED, MCA_CAP = 36, 37, 38
#: ``VM86_TSS_UPDATED`` (``asm/hvm/support.h``) and ``sizeof(struct tss32)``.
_VM86_TSS_UPDATED = 1 << 63
_TSS32_BYTES = 104
_TSS_MAX = _TSS32_BYTES + 0x100 // 8 + 0x10000 // 8 + 1
#: ``XEN_HVM_MCA_CAP_LMCE`` = ``XEN_HVM_MCA_CAP_MASK`` (``public/hvm/params.h``, 4.17).
_MCA_CAP_LMCE = 1


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
    xen: XenProfile,
    *,
    wp_ranges_cap: int,
    rebind_default: Callable[[int], None],
) -> None:
    """Validate and store ``params[index] = value``; raises ``XenError``.

    ``rebind_default(domid)`` is called when ``DM_DOMAIN`` changes the
    default server's emulator (4.7).
    """
    table = xen.params
    if not isinstance(value, int) or not 0 <= value <= UINT64_MAX:
        # xen_hvm_param's value is a uint64_t: nothing outside it reaches Xen.
        raise XenEINVAL(f"param value {value!r} is not a uint64_t")
    if not d.hvm:
        raise XenEINVAL(f"domain {d.domid} is not an HVM guest")
    allow_target(caller, d)
    if index in table.deprecated:
        raise XenEINVAL(f"param {index} is deprecated in Xen {xen.version}")
    if caller is d and index not in table.guest_settable:
        raise XenEPERM(f"a guest may not set param {index} on itself")
    if index in table.set_once and d.params[index] and d.params[index] != value:
        raise XenEEXIST(f"param {index} is set once and already holds {d.params[index]}")
    if index in xen.nested_altp2m_privileged and not caller.privileged:
        raise XenEPERM(f"param {index} needs a privileged caller (XSM_PRIV)")
    if index == table.max_wp_ram_ranges:
        _check_wp_ranges(caller, d, value, wp_ranges_cap)
    else:
        index, value = _check_value(caller, d, index, value, xen)
    if index == HvmParam.DM_DOMAIN:
        rebind_default(value)
    elif index == HvmParam.IOREQ_SERVER_PFN:
        d.gmfn_pool.base = value
    elif index == HvmParam.NR_IOREQ_SERVER_PAGES:
        d.gmfn_pool.mask = (1 << value) - 1
    elif index in (HvmParam.IOREQ_PFN, HvmParam.BUFIOREQ_PFN) and value and xen.legacy_gfns:
        d.gmfn_pool.legacy_mask |= 1 << index
    d.params[index] = value


def _check_value(
    caller: Domain, d: Domain, index: int, value: int, xen: XenProfile
) -> tuple[int, int]:
    """The per-param rules of §5.2; returns where and what to store."""
    table = xen.params
    old = d.params[index]
    if index == HvmParam.TIMER_MODE and value > 3:
        raise XenEINVAL(f"timer mode {value} is not 0..3")
    if index == HvmParam.VIRIDIAN and (value & ~HVMPV_FEATURE_MASK or not value & HVMPV_BASE_FREQ):
        raise XenEINVAL(f"viridian features {value:#x} invalid (unknown bits or no base_freq)")
    if index == HvmParam.DM_DOMAIN and value == DOMID_SELF:
        return index, caller.domid
    if index == HvmParam.ACPI_S_STATE and value not in (0, 3):
        raise XenEINVAL(f"ACPI S-state {value} is not 0 or 3")
    if index == HvmParam.ACPI_IOPORTS_LOCATION and value != old and (value ^ old) != 1:
        raise XenEINVAL(f"ACPI ioports location may only toggle 0 <-> 1, not {old} -> {value}")
    if index in table.memory_event:
        raise XenEOPNOTSUPP(f"param {index} (memory events) is deprecated")
    if index == HvmParam.NESTEDHVM and (value > 1 or (value and d.params[HvmParam.ALTP2M])):
        raise XenEINVAL("nestedhvm must be 0 or 1, and cannot be combined with altp2m")
    if index == HvmParam.ALTP2M and (
        value > table.altp2m_max or (value and d.params[HvmParam.NESTEDHVM])
    ):
        raise XenEINVAL(f"altp2m must be 0..{table.altp2m_max}, and not with nestedhvm")
    if index == HvmParam.BUFIOREQ_EVTCHN:
        raise XenEINVAL("the buffered ioreq event channel cannot be set")
    if index == HvmParam.TRIPLE_FAULT_REASON and value > SHUTDOWN_MAX:
        raise XenEINVAL(f"triple fault reason {value} > SHUTDOWN_MAX")
    if index == HvmParam.NR_IOREQ_SERVER_PAGES and not 1 <= value <= MAX_IOREQ_SERVER_PAGES:
        raise XenEINVAL(f"{value} ioreq server pages is not 1..{MAX_IOREQ_SERVER_PAGES}")
    if table.tss_sized:  # 4.8+'s own params past 35
        return _check_417(index, value)
    return index, value


def _check_417(index: int, value: int) -> tuple[int, int]:
    """``hvm_set_param`` cases that exist from 4.8 on (RELEASE-4.17.0 hvm.c)."""
    if index == X87_FIP_WIDTH and value not in (0, 4, 8):
        raise XenEINVAL(f"x87 FIP width {value} is not 0, 4 or 8")
    if index == HvmParam.VM86_TSS:
        if value != value & UINT32_MAX:
            raise XenEINVAL(f"VM86 TSS {value:#x} does not fit 32 bits")
        # Old hvmloaders hard-code 128 bytes; the value goes to VM86_TSS_SIZED.
        return VM86_TSS_SIZED, (value | (128 << 32) | _VM86_TSS_UPDATED) if value else 0
    if index == VM86_TSS_SIZED:
        if (value >> 32) < _TSS32_BYTES:
            raise XenEINVAL(f"VM86 TSS size {value >> 32} is below sizeof(struct tss32)")
        if (value >> 32) > _TSS_MAX:
            value = (value & UINT32_MAX) | (_TSS_MAX << 32)
        return index, value | _VM86_TSS_UPDATED
    if index == MCA_CAP and value & ~_MCA_CAP_LMCE:
        # vmce_enable_mca_cap: only XEN_HVM_MCA_CAP_LMCE (the model's host has LMCE).
        raise XenEINVAL(f"MCA capabilities {value:#x}: only LMCE (1) exists")
    return index, value


def _check_wp_ranges(caller: Domain, d: Domain, value: int, cap: int) -> None:
    """The seed param's rules (see the module docstring)."""
    if not caller.privileged:
        raise XenEPERM("only the host's privileged toolstack may set max_wp_ram_ranges")
    if value > UINT32_MAX:
        raise XenEINVAL(f"max_wp_ram_ranges {value} exceeds UINT32_MAX (never truncated)")
    if value > cap:
        raise XenEINVAL(
            f"max_wp_ram_ranges {value} exceeds the host cap {cap} (raise it with"
            " Host(wp_ram_ranges_cap=...), or wp_ram_ranges_cap in a scenario's [host])"
        )
    if d.servers or d.default_server is not None:
        raise XenEBUSY("max_wp_ram_ranges cannot change once the domain has ioreq servers")


def get_param(
    caller: Domain,
    d: Domain,
    index: int,
    xen: XenProfile,
    *,
    ensure_default: Callable[[], None],
) -> int:
    """``params[index]``, after the §5.3 checks; 4.7 may create the default server."""
    table = xen.params
    if not d.hvm:
        raise XenEINVAL(f"domain {d.domid} is not an HVM guest")
    allow_target(caller, d)
    if index in table.deprecated:
        raise XenEINVAL(f"param {index} is deprecated in Xen {xen.version}")
    if caller is d and index not in table.guest_gettable:
        raise XenEPERM(f"a guest may not read param {index} on itself")
    if index in (HvmParam.IOREQ_PFN, HvmParam.BUFIOREQ_PFN, HvmParam.BUFIOREQ_EVTCHN):
        ensure_default()
        if index == HvmParam.BUFIOREQ_EVTCHN and d.default_server is not None:
            return d.default_server.bufioreq_port
    if table.tss_sized:
        if index == HvmParam.VM86_TSS:
            return d.params[VM86_TSS_SIZED] & UINT32_MAX
        if index == VM86_TSS_SIZED:
            return d.params[VM86_TSS_SIZED] & ~_VM86_TSS_UPDATED
    return d.params[index]
