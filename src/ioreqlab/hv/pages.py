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

from collections.abc import Callable
from typing import Protocol

from ioreqlab.abi.constants import PAGE_SIZE
from ioreqlab.errors import ModelLimitError

__all__ = [
    "DEFAULT_MODEL_MEMORY",
    "HEAP_PAGES",
    "MODEL_ENTRY_COST",
    "MODEL_PAGE_COST",
    "BoundedPages",
    "HeapPages",
    "Page",
    "PageProvider",
    "compare_exchange_private",
]

#: What the model's own memory bound charges for one page it holds (guest RAM
#: written or mapped, an ioreq server's pages): the 4 KiB and the Python objects
#: around it (about 4.2 KB each, measured with tracemalloc).
MODEL_PAGE_COST = PAGE_SIZE + 128
#: ... and for one p2m entry it records for a retyped frame (84-175 B measured).
MODEL_ENTRY_COST = 176
#: The bound a host has unless told otherwise: 4 GiB of the machine's memory.
DEFAULT_MODEL_MEMORY = 4 << 30

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


class BoundedPages:
    """A provider that refuses a page past the model's memory bound.

    ``held()`` is what the model holds now, in bytes (pages and p2m entries,
    :func:`ioreqlab.hv.census.model_bytes`); a page that would take it past
    ``limit`` is :class:`~ioreqlab.errors.ModelLimitError`, with nothing changed.
    """

    def __init__(self, inner: PageProvider, held: Callable[[], int], limit: int) -> None:
        self.inner = inner
        self.held = held
        self.limit = limit

    def room(self, cost: int, what: str) -> None:
        """Refuse (ModelLimitError) what would take the model past its bound."""
        held = self.held()
        if held + cost > self.limit:
            raise ModelLimitError(
                f"{what} would take the model past its own memory bound: it holds"
                f" {held:,} of {self.limit:,} bytes (Host(model_memory_bytes=...);"
                " a limit of the model, not of Xen)"
            )

    def new_page(self) -> Page:
        """A fresh page of zeros from the inner provider, if the bound allows."""
        self.room(MODEL_PAGE_COST, "one more page")
        return self.inner.new_page()

    def compare_exchange_u64(self, page: Page, offset: int, old: int, new: int) -> bool:
        """The inner provider's compare-and-swap."""
        return self.inner.compare_exchange_u64(page, offset, old, new)


#: The provider hosts use unless told otherwise (it keeps no state).
HEAP_PAGES = HeapPages()
