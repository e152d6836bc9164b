"""Where the model's pages live: the page-provider hook.

Every page Xen hands out in this model — guest RAM frames, an ioreq server's
shared and buffered pages — comes from the host's :class:`PageProvider`.  The
default keeps each page in a private ``bytearray``.  A provider may instead
hand out views of memory another process maps too: that is how a real device
model (``ioreqlab.realdm``) sees the same ioreq slots and guest frames the
model reads and writes, without anything reaching into the model's attributes.

A page is 4096 writable bytes supporting slicing, slice assignment and the
buffer protocol; ``bytearray`` and a ``memoryview`` of a shared mapping both are.
"""

from __future__ import annotations

from typing import Protocol

from ioreqlab.abi.constants import PAGE_SIZE

__all__ = ["HEAP_PAGES", "HeapPages", "Page", "PageProvider", "compare_exchange_private"]

#: One page of memory, private (``bytearray``) or shared (``memoryview``).
Page = bytearray | memoryview


class PageProvider(Protocol):
    """Hands out zeroed pages; the host asks for one each time Xen allocates a page."""

    def new_page(self) -> Page:
        """A fresh page of zeros (``-ENOMEM`` as :class:`XenENOMEM` when none is left)."""
        ...

    def compare_exchange_u64(self, page: Page, offset: int, old: int, new: int) -> bool:
        """Xen's ``cmpxchg`` of the little-endian u64 at ``offset``: True if it swapped.

        Atomic against another process writing the same memory, where the
        page is shared (the buffered ring's pointers, which an emulator moves).
        """
        ...


class HeapPages:
    """The default provider: each page a private ``bytearray``."""

    def new_page(self) -> bytearray:
        """A fresh page of zeros."""
        return bytearray(PAGE_SIZE)

    def compare_exchange_u64(self, page: Page, offset: int, old: int, new: int) -> bool:
        """Compare and swap: no other process sees a private page, so no atomics needed."""
        return compare_exchange_private(page, offset, old, new)


def compare_exchange_private(page: Page, offset: int, old: int, new: int) -> bool:
    """``cmpxchg`` of a u64 on memory only this process sees."""
    if int.from_bytes(page[offset : offset + 8], "little") != old:
        return False
    page[offset : offset + 8] = new.to_bytes(8, "little")
    return True


#: The provider hosts use unless told otherwise (it keeps no state).
HEAP_PAGES = HeapPages()
