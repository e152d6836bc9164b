"""Pages the model and a client process both map: a ``memfd``.

:class:`SharedPages` is a page provider (:mod:`ioreqlab.hv.pages`) whose pages
are slices of one ``memfd`` mapping.  The privcmd driver hands the same file to
the client and tells it which offsets to map where, so an ioreq slot the model
writes is the slot QEMU reads, and a guest frame QEMU maps is the model's.
The file is sparse: only pages handed out use memory.
"""

from __future__ import annotations

import ctypes
import mmap
import os

from ioreqlab.abi.constants import PAGE_SIZE
from ioreqlab.errors import XenENOMEM
from ioreqlab.hv.pages import Page, compare_exchange_private

__all__ = ["SharedPages"]

_SEQ_CST = 5  # __ATOMIC_SEQ_CST
_CMPXCHG8 = ctypes.CDLL("libatomic.so.1").__atomic_compare_exchange_8
_CMPXCHG8.restype = ctypes.c_bool
_CMPXCHG8.argtypes = (
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint64),
    ctypes.c_uint64,
    ctypes.c_int,
    ctypes.c_int,
)


class SharedPages:
    """A page provider backed by a ``memfd`` of ``capacity_pages`` pages."""

    def __init__(self, capacity_pages: int = 1 << 20) -> None:
        self.fd = os.memfd_create("ioreqlab-pages", os.MFD_CLOEXEC)
        self.capacity = capacity_pages
        os.ftruncate(self.fd, capacity_pages * PAGE_SIZE)
        self._map = mmap.mmap(self.fd, capacity_pages * PAGE_SIZE)
        self._view = memoryview(self._map)
        self._base = ctypes.addressof(ctypes.c_char.from_buffer(self._map))
        self.used = 0

    def new_page(self) -> Page:
        """The next unused page of the file (zero: never handed out before)."""
        if self.used == self.capacity:
            raise XenENOMEM(f"all {self.capacity} shared pages are in use")
        page = self._view[self.used * PAGE_SIZE : (self.used + 1) * PAGE_SIZE]
        self.used += 1
        return page

    def compare_exchange_u64(self, page: Page, offset: int, old: int, new: int) -> bool:
        """An atomic 64-bit compare-and-swap on the shared page (libatomic's, sequentially
        consistent), as Xen's ``cmpxchg`` of the buffered ring's pointers is."""
        if not isinstance(page, memoryview) or page.obj is not self._map:
            return compare_exchange_private(page, offset, old, new)
        if offset % 8 or not 0 <= offset <= PAGE_SIZE - 8:
            raise ValueError(f"offset {offset} is not an aligned u64 of the page")
        addr = ctypes.addressof(ctypes.c_char.from_buffer(page)) + offset
        expected = ctypes.c_uint64(old)
        return bool(_CMPXCHG8(addr, ctypes.byref(expected), new, _SEQ_CST, _SEQ_CST))

    def offset(self, page: Page) -> int:
        """Where ``page`` lies in the file (``ValueError`` for a page not from it)."""
        if not isinstance(page, memoryview) or page.obj is not self._map:
            raise ValueError("the page is not one of this file's")
        addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
        return addr - self._base

    def close(self) -> None:
        """Unmap and close the file (views handed out must be released first)."""
        self._view.release()
        try:
            self._map.close()
        except BufferError:  # pages still held by a live host: the mapping stays
            return
        os.close(self.fd)
