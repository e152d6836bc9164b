"""A domain's own state at its edges: creation bounds, libxc's special frames, the
VGA hole, and guest RAM read and written across frame boundaries (issue 17's mutants).

Sources: tools/libs/guest/xg_dom_x86.c (RELEASE-4.17.0): ``special_pfn(x)`` is
``0xff000 - NR_SPECIAL_PAGES + x`` with ``SPECIALPAGE_BUFIOREQ`` 3 and
``SPECIALPAGE_IOREQ`` 5; the VGA window 0xA0000-0xBFFFF is never populated.
"""

from __future__ import annotations

import errno

import pytest

from ioreqlab.abi import HvmParam, P2mType
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.hv.domain import MAX_IOREQ_SERVER_PAGES, MAX_VCPUS


def test_the_special_frames_are_libxcs() -> None:
    host = Host()
    g = host.create_domain(memory_mib=64)
    d = host.domains[g]
    assert (d.params[HvmParam.IOREQ_PFN], d.params[HvmParam.BUFIOREQ_PFN]) == (0xFEFFD, 0xFEFFB)
    assert d.max_mapped_pfn == 0xFEFFF


def test_the_vga_hole_is_0xa0_to_0xbf_inclusive() -> None:
    host = Host()
    d = host.domains[host.create_domain(memory_mib=64)]
    assert [d.p2m.get(gfn) for gfn in (0x9F, 0xA0, 0xBF, 0xC0)] == [
        P2mType.RAM_RW,
        P2mType.INVALID,
        P2mType.INVALID,
        P2mType.RAM_RW,
    ]


@pytest.mark.parametrize(
    ("memory_mib", "pages", "vcpus", "ok"),
    [
        (0, 8, 1, False),
        (-1, 8, 1, False),
        (1, 8, 1, True),
        (64, MAX_IOREQ_SERVER_PAGES, 1, True),
        (64, MAX_IOREQ_SERVER_PAGES + 1, 1, False),
        (64, -1, 1, False),
        (64, 8, 0, False),
        (64, 8, MAX_VCPUS, True),  # one 32-byte slot each fills the shared page
        (64, 8, MAX_VCPUS + 1, False),
    ],
)
def test_creation_bounds(memory_mib: int, pages: int, vcpus: int, ok: bool) -> None:
    host = Host()
    if ok:
        host.create_domain(memory_mib=memory_mib, ioreq_server_pages=pages, vcpus=vcpus)
        return
    with pytest.raises(XenError) as info:
        host.create_domain(memory_mib=memory_mib, ioreq_server_pages=pages, vcpus=vcpus)
    assert info.value.errno == errno.EINVAL
    assert list(host.domains) == [0]  # dom0 alone: nothing half-made


@pytest.mark.parametrize("offset", [4092, 4093, 4095])
def test_ram_reads_and_writes_cross_a_frame_boundary(offset: int) -> None:
    host = Host()
    d = host.domains[host.create_domain(memory_mib=64)]
    gpa = (0x200 << 12) + offset
    d.write_ram(gpa, 8, 0x8877_6655_4433_2211)
    assert d.read_ram(gpa, 8) == 0x8877_6655_4433_2211
    first = 4096 - offset
    assert d.read_ram(gpa, first) == 0x8877_6655_4433_2211 & ((1 << (8 * first)) - 1)
    assert d.read_ram(0x201 << 12, 8 - first) == 0x8877_6655_4433_2211 >> (8 * first)
    assert d.read_ram((0x201 << 12) + 8 - first, 1) == 0  # nothing past the write
    assert d.read_ram(gpa - 1, 1) == 0  # nor before it


def test_a_block_write_keeps_the_rest_of_its_frame() -> None:
    host = Host()
    d = host.domains[host.create_domain(memory_mib=64)]
    base = 0x300 << 12
    d.write_ram(base, 8, 0x1122)
    d.write_ram(base + 0x21, 8, 0x3344)  # just past the block
    d.write_ram(base + 0xFF8, 8, 0x5566)  # the frame's last bytes
    d.write_block(base + 0x11, b"\xaa" * 16)  # an odd offset
    assert d.read_ram(base, 8) == 0x1122
    assert d.read_ram(base + 0x10, 1) == 0
    assert d.read_ram(base + 0x11, 8) == 0xAAAA_AAAA_AAAA_AAAA
    assert d.read_ram(base + 0x21, 8) == 0x3344
    assert d.read_ram(base + 0xFF8, 8) == 0x5566
    d.write_block((0x301 << 12) + 0xFF0, b"\x55" * 16)  # a frame not yet touched
    assert d.read_ram((0x301 << 12) + 0xFF0, 8) == 0x5555_5555_5555_5555
    assert d.read_ram((0x301 << 12) + 0xFEF, 1) == 0


def test_a_pv_guest_can_be_populated_past_its_last_frame() -> None:
    # XENMEM_populate_physmap serves PV guests as well; the highest frame mapped
    # (domain_get_maximum_gpfn) starts at the last one the guest was built with.
    host = Host()
    g = host.create_domain(memory_mib=4, hvm=False)
    d = host.domains[g]
    assert d.max_mapped_pfn == d.max_gpfn == 0x3FF
    assert host.populate_physmap(0, g, [0x500]) == 1
    assert d.max_mapped_pfn == 0x500
