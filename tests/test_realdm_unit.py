"""realdm's parts that need no device model: shared pages and their atomics."""

from __future__ import annotations

import mmap
import os

from ioreqlab.realdm.shm import SharedPages


def test_shared_pages_are_the_file_another_process_maps() -> None:
    pages = SharedPages(8)
    a, b = pages.new_page(), pages.new_page()
    assert (pages.offset(a), pages.offset(b)) == (0, 4096)
    b[0:4] = b"\x01\x02\x03\x04"
    other = mmap.mmap(os.dup(pages.fd), 8 * 4096)  # what the client maps
    assert other[4096:4100] == b"\x01\x02\x03\x04"
    other.close()


def test_compare_exchange_is_a_real_cmpxchg() -> None:
    pages = SharedPages(2)
    p = pages.new_page()
    p[8:16] = (0x0000000A_00000005).to_bytes(8, "little")
    assert not pages.compare_exchange_u64(p, 8, 0x1234, 0)  # not the value: nothing written
    assert int.from_bytes(p[8:16], "little") == 0x0000000A_00000005
    assert pages.compare_exchange_u64(p, 8, 0x0000000A_00000005, 0x00000002_00000001)
    assert int.from_bytes(p[8:16], "little") == 0x00000002_00000001
