"""The ioreq wire formats: ``ioreq_t`` (32 bytes) and ``buf_ioreq_t`` (8 bytes).

Layouts from ``public/hvm/ioreq.h`` as compiled for x86_64 (xen-facts §4.1,
§4.2).  ``ioreq_t`` packs ``state:4 data_is_ptr:1 dir:1 df:1 _pad1:1`` into the
byte at offset 30; ``buf_ioreq_t`` packs ``type:8 pad:1 dir:1 size:2 addr:20``
into its first little-endian word.

Values are checked when an object is built, so a packed request is always a
valid one; :meth:`IoReq.unpack` accepts any 32 bytes (Xen ignores the pad bits,
and so does the model) but nothing of another length.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ioreqlab.abi.constants import UINT32_MAX, UINT64_MAX
from ioreqlab.abi.value import value
from ioreqlab.errors import XenEINVAL

__all__ = [
    "BUFIOREQ_RING_OFFSET",
    "BUF_IOREQ_SIZE",
    "IOREQ_DATA_OFFSET",
    "IOREQ_SIZE",
    "IOREQ_STATE_MASK",
    "IOREQ_STATE_OFFSET",
    "IOREQ_VP_EPORT_OFFSET",
    "BufIoReq",
    "IoReq",
    "set_slot_state",
    "slot_state",
]

IOREQ_SIZE = 32
BUF_IOREQ_SIZE = 8
#: Where a slot keeps its fields (``ioreq_t``): ``data`` at 8, ``vp_eport`` at
#: 24, and the byte at 30 whose low four bits are ``state``.
IOREQ_DATA_OFFSET = 8
IOREQ_VP_EPORT_OFFSET = 24
IOREQ_STATE_OFFSET = 30
IOREQ_STATE_MASK = 0x0F
#: ``buffered_iopage_t``: read and write pointers (8 bytes), then the ring.
BUFIOREQ_RING_OFFSET = 8

_IOREQ = struct.Struct("<QQIIIHBB")
_BUF = struct.Struct("<II")

_STATE_MASK = IOREQ_STATE_MASK
_DATA_IS_PTR = 0x10
_DIR_READ = 0x20
_DF = 0x40

# buf_ioreq_t.size encodes the access size as log2(bytes).
_BUF_SIZE_CODE = {1: 0, 2: 1, 4: 2, 8: 3}
_BUF_SIZE_OF_CODE = {code: size for size, code in _BUF_SIZE_CODE.items()}


def _check_field(name: str, value: int, maximum: int) -> None:
    if not 0 <= value <= maximum:
        raise XenEINVAL(f"ioreq field {name}={value} outside 0..{maximum:#x}")


@value
class IoReq:
    """One synchronous I/O request, field for field as Xen's ``ioreq_t``.

    ``dir`` is 1 for a read (``IOREQ_READ``), 0 for a write.  ``data`` is the
    value (or a guest physical address when ``data_is_ptr``).

    >>> r = IoReq(addr=0x3f8, data=0x41, count=1, size=1, dir=0, type=0)
    >>> len(r.pack())
    32
    >>> IoReq.unpack(r.pack()) == r
    True
    """

    addr: int = 0
    data: int = 0
    count: int = 1
    size: int = 1
    vp_eport: int = 0
    state: int = 0
    data_is_ptr: bool = False
    dir: int = 0
    df: bool = False
    type: int = 0

    def __post_init__(self) -> None:
        # One combined test on the hot path; the field-by-field report only on failure.
        if not (
            0 <= self.addr <= UINT64_MAX
            and 0 <= self.data <= UINT64_MAX
            and 0 <= self.count <= UINT32_MAX
            and 0 <= self.size <= UINT32_MAX
            and 0 <= self.vp_eport <= UINT32_MAX
            and 0 <= self.state <= _STATE_MASK
            and 0 <= self.dir <= 1
            and 0 <= self.type <= 0xFF
        ):
            _check_field("addr", self.addr, UINT64_MAX)
            _check_field("data", self.data, UINT64_MAX)
            _check_field("count", self.count, UINT32_MAX)
            _check_field("size", self.size, UINT32_MAX)
            _check_field("vp_eport", self.vp_eport, UINT32_MAX)
            _check_field("state", self.state, _STATE_MASK)
            _check_field("dir", self.dir, 1)
            _check_field("type", self.type, 0xFF)

    def pack(self) -> bytes:
        """The 32 bytes Xen writes into the shared page slot."""
        bits = self.state & _STATE_MASK
        bits |= _DATA_IS_PTR if self.data_is_ptr else 0
        bits |= _DIR_READ if self.dir else 0
        bits |= _DF if self.df else 0
        return _IOREQ.pack(
            self.addr, self.data, self.count, self.size, self.vp_eport, 0, bits, self.type
        )

    @classmethod
    def unpack(cls, raw: bytes | bytearray | memoryview) -> IoReq:
        """Decode 32 bytes; anything of another length is ``-EINVAL``."""
        if len(raw) != IOREQ_SIZE:
            raise XenEINVAL(f"ioreq_t is {IOREQ_SIZE} bytes, got {len(raw)}")
        addr, data, count, size, port, _pad0, bits, typ = _IOREQ.unpack(raw)
        # Positional, in field order (addr, data, count, size, vp_eport, state,
        # data_is_ptr, dir, df, type): the cheaper call on the delivery path.
        return cls(
            addr,
            data,
            count,
            size,
            port,
            bits & _STATE_MASK,
            bool(bits & _DATA_IS_PTR),
            1 if bits & _DIR_READ else 0,
            bool(bits & _DF),
            typ,
        )


@dataclass(frozen=True, slots=True)
class BufIoReq:
    """One slot of the buffered ring (``buf_ioreq_t``): writes only, in practice.

    ``size`` is the access size in bytes (1, 2, 4 or 8); ``addr`` has 20 bits,
    which is why Xen only buffers requests with ``addr <= 0xfffff``.  An 8-byte
    write takes two slots, the second carrying ``data >> 32``.

    >>> BufIoReq.unpack(BufIoReq(type=1, dir=0, size=4, addr=0xa0000, data=7).pack())
    BufIoReq(type=1, dir=0, size=4, addr=655360, data=7)
    """

    type: int
    dir: int
    size: int
    addr: int
    data: int

    def __post_init__(self) -> None:
        _check_field("type", self.type, 0xFF)
        _check_field("dir", self.dir, 1)
        if self.size not in _BUF_SIZE_CODE:
            raise XenEINVAL(f"buf_ioreq size {self.size} is not 1, 2, 4 or 8")
        _check_field("addr", self.addr, 0xFFFFF)
        _check_field("data", self.data, UINT32_MAX)

    def pack(self) -> bytes:
        """The 8 bytes of one ring slot."""
        word = self.type | (self.dir << 9) | (_BUF_SIZE_CODE[self.size] << 10)
        word |= self.addr << 12
        return _BUF.pack(word, self.data)

    @classmethod
    def unpack(cls, raw: bytes | bytearray | memoryview) -> BufIoReq:
        """Decode one 8-byte slot; the pad bit is ignored, as Xen does."""
        if len(raw) != BUF_IOREQ_SIZE:
            raise XenEINVAL(f"buf_ioreq_t is {BUF_IOREQ_SIZE} bytes, got {len(raw)}")
        word, data = _BUF.unpack(bytes(raw))
        return cls(
            type=word & 0xFF,
            dir=(word >> 9) & 1,
            size=_BUF_SIZE_OF_CODE[(word >> 10) & 3],
            addr=(word >> 12) & 0xFFFFF,
            data=data,
        )


def slot_state(page: bytes | bytearray | memoryview, vcpu: int) -> int:
    """The 4-bit ``state`` of ``vcpu``'s slot in a shared ioreq page.

    >>> page = bytearray(64); set_slot_state(page, 1, 3); slot_state(page, 1)
    3
    """
    return page[vcpu * IOREQ_SIZE + IOREQ_STATE_OFFSET] & IOREQ_STATE_MASK


def set_slot_state(page: bytearray | memoryview, vcpu: int, state: int) -> None:
    """Write the ``state`` bits of ``vcpu``'s slot, keeping the flag bits beside them."""
    off = vcpu * IOREQ_SIZE + IOREQ_STATE_OFFSET
    page[off] = (page[off] & ~IOREQ_STATE_MASK & 0xFF) | (state & IOREQ_STATE_MASK)
