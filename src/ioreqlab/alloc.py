"""What a Xen heap allocation costs, and the interface modelled structures charge.

Theory of operation
-------------------
Xen's ``xmalloc`` sits on a TLSF allocator (``xen/common/xmalloc_tlsf.c``).
Every block carries a 16-byte header (``BHDR_OVERHEAD``) and every request is
rounded up to 16 bytes (``MEM_ALIGN``).  So a 32-byte rangeset list node really
takes 48 bytes of heap, and the 40-byte red-black node the seed series proposed
takes 64 (xen-facts §1.1).  :func:`tlsf_cost` is that rule, in one place.

Data structures in layer 1 (rangesets, p2t nodes) do not know about the Xen
heap of layer 2; they charge an :class:`Allocator`.  The hypervisor hands each
structure an allocator that charges the host's heap and the owning domain;
tests and benchmarks use :class:`CountingAllocator`, which never refuses.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ioreqlab.abi.constants import BHDR_OVERHEAD, MEM_ALIGN

__all__ = ["Allocator", "CountingAllocator", "tlsf_cost"]


def tlsf_cost(payload: int) -> int:
    """Heap bytes an ``xmalloc`` of ``payload`` bytes really takes.

    >>> tlsf_cost(32), tlsf_cost(40), tlsf_cost(1)
    (48, 64, 32)
    """
    if payload < 0:
        raise ValueError(f"negative allocation size {payload}")
    rounded = -(-payload // MEM_ALIGN) * MEM_ALIGN
    return rounded + BHDR_OVERHEAD


@runtime_checkable
class Allocator(Protocol):
    """Where a modelled structure charges its heap blocks.

    ``allocate`` returns False when the block cannot be had (the caller then
    fails with ``-ENOMEM`` and changes nothing); ``free`` returns a block that
    ``allocate`` granted.  Sizes are the full block cost (see :func:`tlsf_cost`).
    """

    def allocate(self, nbytes: int) -> bool:
        """Charge ``nbytes``; False if refused."""
        ...

    def free(self, nbytes: int) -> None:
        """Give back ``nbytes`` charged earlier."""
        ...


class CountingAllocator:
    """An allocator that never refuses and counts what is in use.

    >>> a = CountingAllocator()
    >>> a.allocate(48), a.in_use, a.peak
    (True, 48, 48)
    >>> a.free(48); a.in_use
    0
    """

    __slots__ = ("allocations", "in_use", "peak")

    def __init__(self) -> None:
        self.in_use = 0
        self.peak = 0
        self.allocations = 0

    def allocate(self, nbytes: int) -> bool:
        """Always grants; tracks bytes in use and the peak."""
        self.in_use += nbytes
        self.allocations += 1
        self.peak = max(self.peak, self.in_use)
        return True

    def free(self, nbytes: int) -> None:
        """Returns bytes; going below zero is a bug in the caller."""
        if nbytes > self.in_use:
            raise RuntimeError(f"freeing {nbytes} bytes with only {self.in_use} in use")
        self.in_use -= nbytes
