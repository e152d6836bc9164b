"""The page-provider hook: every page Xen hands out comes from the host's provider."""

from __future__ import annotations

import mmap

from ioreqlab.abi.constants import PAGE_SIZE, IoRangeType
from ioreqlab.host import Host
from ioreqlab.hv.pages import Page, compare_exchange_private
from ioreqlab.hv.vcpu_io import Status


class SharedPages:
    """Pages that are views of one anonymous mapping, counted."""

    def __init__(self, pages: int) -> None:
        self.mem = mmap.mmap(-1, pages * PAGE_SIZE)
        self.view = memoryview(self.mem)
        self.used = 0

    def new_page(self) -> Page:
        page = self.view[self.used * PAGE_SIZE : (self.used + 1) * PAGE_SIZE]
        self.used += 1
        return page

    def compare_exchange_u64(self, page: Page, offset: int, old: int, new: int) -> bool:
        return compare_exchange_private(page, offset, old, new)


def test_guest_ram_and_ioreq_pages_come_from_the_provider() -> None:
    pages = SharedPages(64)
    host = Host(xen="4.17", pages=pages)
    g = host.create_domain(memory_mib=16, vcpus=2)
    host.guest_access(g, 0, "mmio", 0x1000, 4, write=True, data=0xDEADBEEF)
    assert pages.used == 1
    assert pages.mem[0:4] == (0xDEADBEEF).to_bytes(4, "little")
    sid = host.create_ioreq_server(0, g, bufioreq=1)
    assert pages.used == 3
    host.map_io_range(0, g, sid, IoRangeType.PORT, 0x80, 0x80)
    frames = host.acquire_ioreq_server_frames(0, g, sid, 0, 2)
    host.set_ioreq_server_state(0, g, sid, True)
    acc = host.guest_access(g, 0, "pio", 0x80, 1, write=True, data=0x42)
    assert acc.status == Status.PENDING
    # The request sits in the provider's memory, where another process could read it.
    assert pages.mem[PAGE_SIZE] == 0x80  # the ioreq page (frame 1): the second page handed out
    assert bytes(frames[1][:1]) == b"\x80"
    # The buffered ring is the provider's third page: a buffered write's slot and
    # write pointer are there too.
    host.map_io_range(0, g, sid, IoRangeType.MEMORY, 0xA0000, 0xBFFFF)
    assert host.guest_access(g, 1, "mmio", 0xA0000, 1, write=True, data=5).status == "buffered"
    assert pages.mem[2 * PAGE_SIZE + 4] == 1  # write_pointer
    assert bytes(frames[0][4:5]) == b"\x01"
    # A foreign map of an untouched frame also takes a provider page.
    page = host.foreign_page(0, g, 0x200)
    assert pages.used == 4
    page[0] = 7
    assert host.guest_access(g, 1, "mmio", 0x200 << 12, 1, write=False).data == 7


def test_compare_exchange_swaps_only_on_a_match_and_says_so() -> None:
    # The PageProvider contract, as the real atomic (realdm/shm.py) keeps it:
    # True and the new value when the u64 matched; False and nothing written otherwise.
    page = bytearray(PAGE_SIZE)
    page[8:16] = (5).to_bytes(8, "little")
    assert compare_exchange_private(page, 8, 4, 9) is False
    assert int.from_bytes(page[8:16], "little") == 5
    assert compare_exchange_private(page, 8, 5, 2**64 - 1) is True
    assert int.from_bytes(page[8:16], "little") == 2**64 - 1
    assert page[:8] == bytes(8)
    assert page[16:] == bytes(PAGE_SIZE - 16)
