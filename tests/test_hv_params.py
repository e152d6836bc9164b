"""HVM params: §5.2 order, whitelists, set-once, value checks, and max_wp_ram_ranges."""

from __future__ import annotations

import errno

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi import DOMID_SELF, HvmOp, HvmParam, HvmParamArg
from ioreqlab.errors import XenENOSPC, XenError
from ioreqlab.host import Host
from tests.hv_helpers import errno_of, snapshot


@pytest.fixture
def host() -> Host:
    return Host(xen_heap_bytes=4 << 20)


def test_guest_may_set_only_its_whitelist(host: Host) -> None:
    g = host.create_domain(memory_mib=64)
    me = devicemodel.open(host, g)
    me.set_param(DOMID_SELF, HvmParam.CALLBACK_IRQ, 5)
    me.set_param(g, HvmParam.STORE_EVTCHN, 3)
    assert me.get_param(g, HvmParam.CALLBACK_IRQ) == 5
    for forbidden in (HvmParam.TIMER_MODE, HvmParam.DM_DOMAIN, HvmParam.MAX_WP_RAM_RANGES):
        before = snapshot(host)
        assert errno_of(lambda f=forbidden: me.set_param(g, f, 1)) == errno.EPERM
        assert snapshot(host) == before
    assert errno_of(lambda: me.get_param(g, HvmParam.TIMER_MODE)) == errno.EPERM


def test_other_unprivileged_domains_are_eperm(host: Host) -> None:
    a = host.create_domain(memory_mib=64)
    b = host.create_domain(memory_mib=64)
    assert (
        errno_of(lambda: devicemodel.open(host, a).set_param(b, HvmParam.CALLBACK_IRQ, 1))
        == errno.EPERM
    )
    assert (
        errno_of(lambda: devicemodel.open(host, a).get_param(b, HvmParam.CALLBACK_IRQ))
        == errno.EPERM
    )


@pytest.mark.parametrize(
    ("param", "bad", "good"),
    [
        (HvmParam.TIMER_MODE, 4, 3),
        (HvmParam.VIRIDIAN, 0x40 | 1, 0x3F),
        (HvmParam.VIRIDIAN, 0x2, 0x1),
        (HvmParam.ACPI_S_STATE, 1, 3),
        (HvmParam.ACPI_IOPORTS_LOCATION, 2, 1),
        (HvmParam.NESTEDHVM, 2, 1),
        (HvmParam.TRIPLE_FAULT_REASON, 6, 5),
        (HvmParam.NR_IOREQ_SERVER_PAGES, 65, 64),
    ],
)
def test_value_checks(host: Host, param: HvmParam, bad: int, good: int) -> None:
    g = host.create_domain(memory_mib=64, ioreq_server_pages=0)
    dm = devicemodel.open(host, 0)
    before = snapshot(host)
    assert errno_of(lambda: dm.set_param(g, param, bad)) == errno.EINVAL
    assert snapshot(host) == before
    dm.set_param(g, param, good)
    assert dm.get_param(g, param) == good


def test_memory_event_params_are_eopnotsupp(host: Host) -> None:
    g = host.create_domain(memory_mib=64)
    assert (
        errno_of(lambda: devicemodel.open(host, 0).set_param(g, HvmParam.MEMORY_EVENT_CR0, 1))
        == errno.EOPNOTSUPP
    )


def test_bufioreq_evtchn_cannot_be_set(host: Host) -> None:
    g = host.create_domain(memory_mib=64)
    assert (
        errno_of(lambda: devicemodel.open(host, 0).set_param(g, HvmParam.BUFIOREQ_EVTCHN, 1))
        == errno.EINVAL
    )


def test_nestedhvm_and_altp2m_exclude_each_other(host: Host) -> None:
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    dm.set_param(g, HvmParam.ALTP2M, 1)
    assert errno_of(lambda: dm.set_param(g, HvmParam.NESTEDHVM, 1)) == errno.EINVAL


def test_nestedhvm_zero_is_fine_beside_altp2m(host: Host) -> None:
    # 4.7 hvm.c: "if ( a.value && d->...params[HVM_PARAM_ALTP2M] )": only enabling conflicts.
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    dm.set_param(g, HvmParam.ALTP2M, 1)
    dm.set_param(g, HvmParam.NESTEDHVM, 0)


@pytest.mark.parametrize("param", [HvmParam.NESTEDHVM, HvmParam.ALTP2M])
def test_nestedhvm_and_altp2m_need_a_privileged_caller_47(host: Host, param: int) -> None:
    # 4.7 hvm.c: xsm_hvm_param_nested / xsm_hvm_param_altp2mhvm (XSM_PRIV), after
    # the XSM_TARGET check a device-model domain passes.
    stub = host.create_domain(memory_mib=32, hvm=False)
    g = host.create_domain(memory_mib=64, dm_domid=stub)
    before = snapshot(host)
    assert errno_of(lambda: devicemodel.open(host, stub).set_param(g, param, 0)) == errno.EPERM
    assert snapshot(host) == before
    devicemodel.open(host, stub).set_param(g, HvmParam.TIMER_MODE, 1)  # XSM_TARGET is enough


def test_417_deprecated_params_are_einval_for_everyone() -> None:
    # 4.17 hvm_allow_set_param / hvm_allow_get_param: "The following parameters are
    # deprecated" -> -EINVAL, dom0 included.
    host = Host(xen="4.17", xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    for param in (4, 13, 20, 24, 26, 30):
        assert errno_of(lambda p=param: dm.set_param(g, p, 0)) == errno.EINVAL
        assert errno_of(lambda p=param: dm.get_param(g, p)) == errno.EINVAL
    assert errno_of(lambda: devicemodel.open(host, g).get_param(g, 13)) == errno.EINVAL


def test_417_params_past_35() -> None:
    # 4.17 hvm_set_param: X87_FIP_WIDTH in {0, 4, 8}; VM86_TSS stored through
    # VM86_TSS_SIZED with 128 bytes; ALTP2M up to XEN_ALTP2M_limited (3).
    host = Host(xen="4.17", xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    assert errno_of(lambda: dm.set_param(g, 36, 2)) == errno.EINVAL
    devicemodel.open(host, g).set_param(g, 36, 8)  # the guest may set it on itself
    assert dm.get_param(g, 36) == 8
    dm.set_param(g, HvmParam.VM86_TSS, 0x2000)
    assert dm.get_param(g, 37) == (128 << 32) | 0x2000
    assert dm.get_param(g, HvmParam.VM86_TSS) == 0x2000
    assert errno_of(lambda: dm.set_param(g, HvmParam.VM86_TSS, 1 << 32)) == errno.EINVAL
    assert errno_of(lambda: dm.set_param(g, 37, (103 << 32) | 0x1000)) == errno.EINVAL
    dm.set_param(g, HvmParam.ALTP2M, 2)
    assert errno_of(lambda: dm.set_param(g, 39, 2**32)) == errno.EINVAL  # the seed's, at 39
    assert errno_of(lambda: dm.set_param(g, 40, 0)) == errno.EINVAL  # HVM_NR_PARAMS 40


def test_47_altp2m_is_0_or_1(host: Host) -> None:
    g = host.create_domain(memory_mib=64)
    assert (
        errno_of(lambda: devicemodel.open(host, 0).set_param(g, HvmParam.ALTP2M, 2)) == errno.EINVAL
    )


def test_set_once_params(host: Host) -> None:
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    dm.set_param(g, HvmParam.VIRIDIAN, 1)
    dm.set_param(g, HvmParam.VIRIDIAN, 1)
    assert errno_of(lambda: dm.set_param(g, HvmParam.VIRIDIAN, 3)) == errno.EEXIST


def test_other_params_take_any_64_bit_value(host: Host) -> None:
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    dm.set_param(g, HvmParam.VM86_TSS, 2**64 - 1)
    assert dm.get_param(g, HvmParam.VM86_TSS) == 2**64 - 1


def test_dm_domain_self_means_the_caller(host: Host) -> None:
    stub = host.create_domain(memory_mib=32, hvm=False)
    g = host.create_domain(memory_mib=64, dm_domid=stub)
    devicemodel.open(host, stub).set_param(g, HvmParam.DM_DOMAIN, DOMID_SELF)
    assert devicemodel.open(host, 0).get_param(g, HvmParam.DM_DOMAIN) == stub


def test_reading_ioreq_pfn_creates_the_default_server_once(host: Host) -> None:
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    assert host.domains[g].default_server is None
    pfn = dm.get_param(g, HvmParam.IOREQ_PFN)
    s = host.domains[g].default_server
    assert s is not None
    assert s.ioreq_pfn == pfn
    assert s.enabled
    assert dm.get_param(g, HvmParam.BUFIOREQ_EVTCHN) == s.bufioreq_port
    assert host.domains[g].default_server is s
    assert s.ranges == {}


@pytest.mark.parametrize("xen", ["4.7", "4.17"])
def test_a_refused_ioreq_pfn_read_creates_no_default_server(xen: str) -> None:
    # Issue 15 #10.  Refused by the checks (an unrelated domain asks): nothing made.
    host = Host(xen=xen)
    g = host.create_domain(memory_mib=64)
    other = host.create_domain(memory_mib=64)
    before = snapshot(host)
    assert errno_of(lambda: host.get_param(other, g, HvmParam.IOREQ_PFN)) == errno.EPERM
    assert snapshot(host) == before
    # Refused for want of heap while the server is made: nothing made either.  (4.17
    # has no default server: the read makes nothing and cannot fail so.)
    starved = Host(xen=xen, fault=lambda site, n: site == "ioreq_server")
    g = starved.create_domain(memory_mib=64)
    before = snapshot(starved)
    code = errno_of(lambda: starved.get_param(0, g, HvmParam.IOREQ_PFN))
    assert code == (errno.ENOMEM if starved.xen.default_server else 0)
    assert snapshot(starved) == before
    assert starved.domains[g].default_server is None


def test_an_ioreq_pfn_read_into_a_read_only_buffer_still_made_the_server() -> None:
    # hvmop_get_param (4.7 xen/arch/x86/hvm/hvm.c): the param is read, which makes
    # the default server, and only then copied out: a read-only buffer is -EFAULT
    # after the effect, as in Xen.
    host = Host(xen="4.7")
    g = host.create_domain(memory_mib=64)
    rc = host.hvm_op(0, HvmOp.GET_PARAM, bytes(HvmParamArg(g, HvmParam.IOREQ_PFN, 0).pack()))
    assert rc == -errno.EFAULT
    assert host.domains[g].default_server is not None
    host.check_invariants()


class TestMaxWpRamRanges:
    """SPEC.md: the seed param as the thread required it."""

    def test_default_reads_zero_and_stored_value_reads_back(self, host: Host) -> None:
        g = host.create_domain(memory_mib=64)
        dm = devicemodel.open(host, 0)
        assert dm.get_param(g, HvmParam.MAX_WP_RAM_RANGES) == 0
        dm.set_param(g, HvmParam.MAX_WP_RAM_RANGES, 8192)
        assert dm.get_param(g, HvmParam.MAX_WP_RAM_RANGES) == 8192

    def test_above_host_cap_is_einval(self, host: Host) -> None:
        g = host.create_domain(memory_mib=64)
        dm = devicemodel.open(host, 0)
        assert errno_of(lambda: dm.set_param(g, HvmParam.MAX_WP_RAM_RANGES, 8193)) == errno.EINVAL
        small = Host(xen_heap_bytes=1 << 20, wp_ram_ranges_cap=100)
        g2 = small.create_domain(memory_mib=64)
        assert errno_of(lambda: devicemodel.open(small, 0).set_param(g2, 36, 101)) == errno.EINVAL

    @pytest.mark.parametrize("value", [2**32 - 1, 2**32, 2**32 + 1, 2**64 - 1])
    def test_u32_boundary_with_default_cap(self, host: Host, value: int) -> None:
        g = host.create_domain(memory_mib=64)
        assert errno_of(lambda: devicemodel.open(host, 0).set_param(g, 36, value)) == errno.EINVAL
        assert host.domains[g].params[36] == 0

    def test_device_model_domain_may_not_set_it(self, host: Host) -> None:
        stub = host.create_domain(memory_mib=32, hvm=False)
        g = host.create_domain(memory_mib=64, dm_domid=stub)
        assert errno_of(lambda: devicemodel.open(host, stub).set_param(g, 36, 512)) == errno.EPERM
        assert devicemodel.open(host, stub).get_param(g, 36) == 0  # reading is allowed

    def test_guest_may_not_set_it_on_itself(self, host: Host) -> None:
        g = host.create_domain(memory_mib=64)
        assert errno_of(lambda: devicemodel.open(host, g).set_param(g, 36, 512)) == errno.EPERM

    def test_frozen_once_a_server_exists(self, host: Host) -> None:
        g = host.create_domain(memory_mib=64)
        dm = devicemodel.open(host, 0)
        dm.set_param(g, 36, 1024)
        sid = dm.create_ioreq_server(g)
        assert errno_of(lambda: dm.set_param(g, 36, 2048)) == errno.EBUSY
        dm.destroy_ioreq_server(g, sid)
        dm.set_param(g, 36, 2048)

    def test_limit_reaches_the_wp_mem_rangeset(self) -> None:
        host = Host(design="rangeset", xen_heap_bytes=8 << 20)
        g = host.create_domain(memory_mib=256)
        dm = devicemodel.open(host, 0)
        dm.set_param(g, 36, 3)
        sid = dm.create_ioreq_server(g)
        for gfn in (10, 20, 30):
            dm.map_wp_mem_range_to_ioreq_server(g, sid, gfn, gfn)
        assert errno_of(lambda: dm.map_wp_mem_range_to_ioreq_server(g, sid, 40, 40)) == errno.ENOMEM

    def test_default_limit_is_256(self) -> None:
        host = Host(design="rangeset", xen_heap_bytes=8 << 20)
        g = host.create_domain(memory_mib=256)
        dm = devicemodel.open(host, 0)
        sid = dm.create_ioreq_server(g)
        for gfn in range(0, 512, 2):
            dm.map_wp_mem_range_to_ioreq_server(g, sid, gfn, gfn)
        assert (
            errno_of(lambda: dm.map_wp_mem_range_to_ioreq_server(g, sid, 600, 600)) == errno.ENOMEM
        )


def test_hvm_op_abi(host: Host) -> None:
    g = host.create_domain(memory_mib=64)
    assert host.hvm_op(0, HvmOp.SET_PARAM, HvmParamArg(g, HvmParam.TIMER_MODE, 2).pack()) == 0
    buf = bytearray(HvmParamArg(g, HvmParam.TIMER_MODE).pack())
    assert host.hvm_op(0, HvmOp.GET_PARAM, buf) == 0
    assert HvmParamArg.unpack(buf).value == 2
    assert host.hvm_op(0, HvmOp.GET_PARAM, bytes(buf)) == -errno.EFAULT
    assert host.hvm_op(0, HvmOp.SET_PARAM, b"\0" * 15) == -errno.EFAULT
    assert host.hvm_op(0, HvmOp.FLUSH_TLBS, buf) == -errno.ENOSYS


@pytest.mark.parametrize(
    ("new_base", "lost", "mask"),
    [
        (0x100, 2, 0b1100),  # i wraps past the mask: both frames dropped
        (0xFFFF_FFF0, 0, 0b1100 | 3 << 16),  # i = 16, 17: bits that now name other gfns
        (1 << 40, 0, 0b1111),  # unsigned int i: the high bits vanish, i = 0, 1
        (0xFFFF_FFC1, 1, 0b1100 | 1 << 63),  # i = 63 is the mask's last bit, i = 64 past it
    ],
)
def test_destroy_after_the_pool_moved_completes(new_base: int, lost: int, mask: int) -> None:
    # A domain built without the pool (both params 0): its device model sets
    # NR_IOREQ_SERVER_PAGES, so the pool starts at gfn 0, creates a server (4.7
    # takes its frames at creation), then sets IOREQ_SERVER_PFN — set-once, but it
    # was 0 — and the pool's base moves.  Xen's hvm_free_ioreq_gfn then computes
    # an unsigned bit past the 64-bit mask (set_bit outside it, or the debug
    # ASSERT); the model drops the frame and counts it, and the destroy completes.
    # It once raised ValueError with the server unlinked and its frames lost.
    host = Host(xen="4.7")
    g = host.create_domain(memory_mib=64, ioreq_server_pages=0)
    dm = devicemodel.open(host, 0)
    dm.set_param(g, HvmParam.NR_IOREQ_SERVER_PAGES, 4)
    sid = dm.create_ioreq_server(g, 1)
    d = host.domains[g]
    dm.set_param(g, HvmParam.IOREQ_SERVER_PFN, new_base)
    dm.destroy_ioreq_server(g, sid)
    assert d.find_server(sid) is None
    assert d.counters.get("ioreq_gfn_outside_pool", 0) == lost
    assert d.gmfn_pool.mask == mask
    host.check_invariants()


def test_setting_the_pool_size_again_refills_it_and_the_invariants_catch_it() -> None:
    # hvm_allow_set_param lets a set-once param be set again to its value, and
    # HVM_PARAM_NR_IOREQ_SERVER_PAGES sets the mask's bits again: frames in use
    # become free, and the next server shares one.  Xen allows it; the model
    # does too, and check_invariants reports the frame used twice.
    host = Host(xen="4.7")
    g = host.create_domain(memory_mib=64, ioreq_server_pages=0)
    dm = devicemodel.open(host, 0)
    dm.set_param(g, HvmParam.NR_IOREQ_SERVER_PAGES, 2)
    dm.create_ioreq_server(g, 1)  # takes both frames
    host.check_invariants()
    dm.set_param(g, HvmParam.NR_IOREQ_SERVER_PAGES, 2)  # the same value: allowed
    dm.create_ioreq_server(g, 1)
    with pytest.raises(AssertionError, match="used twice"):
        host.check_invariants()


def test_next_ioservid_never_spins(monkeypatch: pytest.MonkeyPatch) -> None:
    # 4.7's next_ioservid loops for ever once all 65,536 ids are in use; the
    # model refuses with ENOSPC after one lap instead.
    from types import SimpleNamespace  # noqa: PLC0415

    from ioreqlab.hv import ioreq as srv  # noqa: PLC0415

    host = Host(xen="4.7")
    g = host.create_domain(memory_mib=64)
    d = host.domains[g]
    everyone = [SimpleNamespace(id=i) for i in range(1 << 16)]
    monkeypatch.setattr(type(d), "all_servers", lambda self: everyone)
    with pytest.raises(XenENOSPC):
        srv._next_ioservid(d)
    everyone.pop(7)
    d.last_ioservid = 100
    assert srv._next_ioservid(d) == 7  # wraps round to the one free id


@pytest.mark.parametrize("value", [-1, 1 << 64, 1.0, "1"])
def test_a_param_value_outside_uint64_is_refused(value: object) -> None:
    # set_param(..., -1) was stored, and then made every later server creation fail.
    host = Host(xen="4.17")
    g = host.create_domain(memory_mib=64)
    before = snapshot(host)
    assert errno_of(lambda: host.set_param(0, g, HvmParam.TIMER_MODE, value)) == errno.EINVAL  # type: ignore[arg-type]
    assert errno_of(lambda: host.set_param(0, g, 1.0, 0)) == errno.EINVAL  # type: ignore[arg-type]
    assert snapshot(host) == before
    assert devicemodel.open(host, 0).create_ioreq_server(g) == 0


def test_4_17_value_checks_exactly() -> None:
    # Survivors of the hv-params mutation stage, pinned against RELEASE-4.17.0
    # xen/arch/x86/hvm/hvm.c:hvm_set_param.
    from ioreqlab.hv.params import VM86_TSS_SIZED, X87_FIP_WIDTH  # noqa: PLC0415

    host = Host(xen="4.17")
    g = host.create_domain(memory_mib=64)
    for ok in (0, 4, 8):
        host.set_param(0, g, X87_FIP_WIDTH, ok)
        assert host.get_param(0, g, X87_FIP_WIDTH) == ok
    for bad in (1, 5):
        assert errno_of(lambda b=bad: host.set_param(0, g, X87_FIP_WIDTH, b)) == errno.EINVAL
    # VM86_TSS_SIZED: size below sizeof(struct tss32) (104) refused; above the useful
    # maximum (104 + 32 + 8192 + 1) clamped; VM86_TSS_UPDATED (bit 63) set, not shown.
    assert errno_of(lambda: host.set_param(0, g, VM86_TSS_SIZED, (103 << 32) | 0x1000)) == (
        errno.EINVAL
    )
    host.set_param(0, g, VM86_TSS_SIZED, (104 << 32) | 0x1000)
    assert host.get_param(0, g, VM86_TSS_SIZED) == (104 << 32) | 0x1000
    assert host.domains[g].params[VM86_TSS_SIZED] >> 63 == 1
    host.set_param(0, g, VM86_TSS_SIZED, (9000 << 32) | 0x2000)
    assert host.get_param(0, g, VM86_TSS_SIZED) == (8329 << 32) | 0x2000
    # VM86_TSS (old hvmloaders): 128 bytes assumed, stored as VM86_TSS_SIZED.
    host.set_param(0, g, HvmParam.VM86_TSS, 0x3000)
    assert host.get_param(0, g, VM86_TSS_SIZED) == (128 << 32) | 0x3000
    assert host.get_param(0, g, HvmParam.VM86_TSS) == 0x3000
    host.set_param(0, g, HvmParam.VM86_TSS, 0)
    assert host.domains[g].params[VM86_TSS_SIZED] == 0  # no UPDATED bit for 0


def test_setting_a_legacy_ioreq_param_offers_its_frame_to_the_pool() -> None:
    # hvm_set_param, HVM_PARAM_IOREQ_PFN/BUFIOREQ_PFN (4.17): a non-zero value sets
    # the param's bit in ioreq_gfn.legacy_mask, beside the bits already there.  The
    # params are set once (libxc did), so they are set again to the same value.
    host = Host(xen="4.17")
    g = host.create_domain(memory_mib=64)
    d = host.domains[g]
    d.gmfn_pool.legacy_mask = 0  # both frames taken
    host.set_param(0, g, HvmParam.IOREQ_PFN, d.params[HvmParam.IOREQ_PFN])
    assert d.gmfn_pool.legacy_mask == 1 << HvmParam.IOREQ_PFN
    host.set_param(0, g, HvmParam.BUFIOREQ_PFN, d.params[HvmParam.BUFIOREQ_PFN])
    assert d.gmfn_pool.legacy_mask == (1 << HvmParam.IOREQ_PFN) | (1 << HvmParam.BUFIOREQ_PFN)
    other = host.create_domain(memory_mib=64)
    host.domains[other].gmfn_pool.legacy_mask = 0
    host.set_param(0, other, HvmParam.TIMER_MODE, 1)  # another param: no bit
    assert host.domains[other].gmfn_pool.legacy_mask == 0


def test_past_the_pool_417_hands_out_the_legacy_frames_with_its_test_inverted() -> None:
    # hvm_alloc_legacy_ioreq_gfn (ioreq.c, RELEASE-4.17.0) reads "if (
    # !test_and_clear_bit(i, legacy_mask) ) return params[i]": a set bit (the
    # toolstack set the param) is cleared and passed over, a clear one hands out
    # the param's frame (fixed by 282ed258a5 in 4.19.4, 4.20.2 and 4.21).
    # prepare_ring_for_helper then needs a page behind the frame (-EINVAL, the
    # frame given back, when an enabled server holds it out of the p2m).
    host = Host(xen="4.17", xen_heap_bytes=4 << 20)
    g = host.create_domain(memory_mib=64, ioreq_server_pages=1)
    dm = devicemodel.open(host, 0)
    d = host.domains[g]
    ioreq_pfn, buf_pfn = d.params[HvmParam.IOREQ_PFN], d.params[HvmParam.BUFIOREQ_PFN]
    both = (1 << HvmParam.IOREQ_PFN) | (1 << HvmParam.BUFIOREQ_PFN)
    assert d.gmfn_pool.legacy_mask == both

    def gfn_of_a_new_server() -> int:
        return dm.get_ioreq_server_info(g, dm.create_ioreq_server(g))[0]

    assert gfn_of_a_new_server() == d.gmfn_pool.base  # the pool's one frame
    with pytest.raises(XenError) as info:
        gfn_of_a_new_server()  # both bits set: both cleared, nothing handed out
    assert info.value.errno == errno.ENOMEM
    assert d.gmfn_pool.legacy_mask == 0
    first = dm.create_ioreq_server(g)
    assert dm.get_ioreq_server_info(g, first)[0] == ioreq_pfn
    assert gfn_of_a_new_server() == ioreq_pfn  # again: two servers on one frame
    assert d.gmfn_pool.legacy_mask == 0
    dm.set_ioreq_server_state(g, first, True)  # the frame leaves the p2m
    with pytest.raises(XenError) as info:
        gfn_of_a_new_server()
    assert info.value.errno == errno.EINVAL
    assert d.gmfn_pool.legacy_mask == 1 << HvmParam.IOREQ_PFN  # given back: its bit set
    last = dm.create_ioreq_server(g)
    assert dm.get_ioreq_server_info(g, last)[0] == buf_pfn  # IOREQ_PFN's set bit passed over
    assert d.gmfn_pool.legacy_mask == 0
    host.check_invariants()
    dm.destroy_ioreq_server(g, last)
    dm.destroy_ioreq_server(g, first)
    assert d.gmfn_pool.legacy_mask == both  # each frame given back sets its own bit
    assert d.counters.get("ioreq_gfn_outside_pool", 0) == 0
