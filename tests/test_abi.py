"""The ABI module: Xen's numbers and byte-exact struct layouts."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ioreqlab import abi
from ioreqlab.abi import (
    BufIoReq,
    CreateIoreqServer,
    DmOp,
    GetIoreqServerInfo,
    HvmMem,
    HvmParam,
    IoRangeType,
    IoReq,
    IoreqServerRange,
    MapMemTypeToIoreqServer,
    P2mType,
    SetIoreqServerState,
    SetMemType,
)
from ioreqlab.errors import XenEINVAL

XEN_NUMBERS: list[tuple[int, int]] = [
    (DmOp.MAP_MEM_TYPE_TO_IOREQ_SERVER, 15),
    (DmOp.SET_MEM_TYPE, 12),
    (abi.HvmOp.CREATE_IOREQ_SERVER, 17),
    (abi.HvmOp.SET_IOREQ_SERVER_STATE, 22),
    (IoRangeType.WP_MEM, 3),
    (P2mType.IOREQ_SERVER, 15),
    (P2mType.MMIO_WRITE_DM, 15),
    (HvmMem.UNUSED, 3),
    (HvmMem.MMIO_WRITE_DM, 3),
    (HvmMem.IOREQ_SERVER, 4),
    (HvmParam.MAX_WP_RAM_RANGES, 36),
    (abi.HVM_NR_PARAMS, 37),
    (abi.MAX_NR_IO_RANGES, 256),
    (abi.NR_IOREQ_SERVER_PAGES, 8),
    (abi.MemAccessFlag.WRITE, 2),
    (abi.IoReqType.PCI_CONFIG, 2),
    (abi.IoReqType.INVALIDATE, 8),
    (abi.IoReqState.IORESP_READY, 3),
]


@pytest.mark.parametrize(("member", "value"), XEN_NUMBERS)
def test_numbers_match_xen_headers(member: int, value: int) -> None:
    assert int(member) == value


def test_struct_sizes_match_x86_64() -> None:
    assert CreateIoreqServer.size() == 6
    assert GetIoreqServerInfo.size() == 24
    assert IoreqServerRange.size() == 24
    assert SetIoreqServerState.size() == 4
    assert SetMemType.size() == 16
    assert MapMemTypeToIoreqServer.size() == 16
    assert abi.HvmParamArg.size() == 16
    assert abi.DM_OP_SIZE == 32


def test_field_offsets() -> None:
    raw = IoreqServerRange(id=0x1234, pad=0, type=1, start=0xAA, end=0xBB).pack()
    assert raw[0:2] == b"\x34\x12"
    assert struct.unpack_from("<I", raw, 4) == (1,)
    assert struct.unpack_from("<Q", raw, 8) == (0xAA,)
    assert struct.unpack_from("<Q", raw, 16) == (0xBB,)
    smt = SetMemType(nr=7, mem_type=4, pad=0, first_pfn=0x100).pack()
    assert struct.unpack_from("<I", smt, 0) == (7,)
    assert struct.unpack_from("<H", smt, 4) == (4,)
    assert struct.unpack_from("<Q", smt, 8) == (0x100,)
    hp = abi.HvmParamArg(domid=3, index=36, value=2**40).pack()
    assert struct.unpack("<HxxIQ", hp) == (3, 36, 2**40)


def test_ioreq_bitfield_byte() -> None:
    raw = IoReq(state=3, data_is_ptr=True, dir=1, df=True, type=2).pack()
    assert len(raw) == 32
    assert raw[30] == 0x03 | 0x10 | 0x20 | 0x40
    assert raw[31] == 2


def test_ioreq_field_offsets() -> None:
    raw = IoReq(addr=0x1122, data=0x3344, count=5, size=4, vp_eport=9).pack()
    assert struct.unpack_from("<QQIII", raw) == (0x1122, 0x3344, 5, 4, 9)


ioreqs = st.builds(
    IoReq,
    addr=st.integers(0, 2**64 - 1),
    data=st.integers(0, 2**64 - 1),
    count=st.integers(0, 2**32 - 1),
    size=st.integers(0, 2**32 - 1),
    vp_eport=st.integers(0, 2**32 - 1),
    state=st.integers(0, 15),
    data_is_ptr=st.booleans(),
    dir=st.integers(0, 1),
    df=st.booleans(),
    type=st.integers(0, 255),
)


@given(ioreqs)
def test_ioreq_round_trip(req: IoReq) -> None:
    assert IoReq.unpack(req.pack()) == req


@given(st.binary(min_size=32, max_size=32))
def test_any_32_bytes_unpack_and_repack_modulo_pads(raw: bytes) -> None:
    req = IoReq.unpack(raw)
    again = req.pack()
    # Only the pad fields (bytes 28-29 and bit 7 of byte 30) may differ.
    assert again[:28] == raw[:28]
    assert again[30] == raw[30] & 0x7F
    assert again[31] == raw[31]


@pytest.mark.parametrize("n", [0, 31, 33, 64])
def test_ioreq_wrong_length_is_einval(n: int) -> None:
    with pytest.raises(XenEINVAL):
        IoReq.unpack(bytes(n))


@pytest.mark.parametrize(
    "kwargs",
    [{"addr": -1}, {"addr": 2**64}, {"state": 16}, {"dir": 2}, {"type": 256}, {"count": 2**32}],
)
def test_ioreq_out_of_range_field_is_einval(kwargs: dict[str, int]) -> None:
    with pytest.raises(XenEINVAL):
        IoReq(**kwargs)  # type: ignore[arg-type]  # deliberately built from a dict


@given(
    st.builds(
        BufIoReq,
        type=st.integers(0, 255),
        dir=st.integers(0, 1),
        size=st.sampled_from([1, 2, 4, 8]),
        addr=st.integers(0, 0xFFFFF),
        data=st.integers(0, 2**32 - 1),
    )
)
def test_buf_ioreq_round_trip(req: BufIoReq) -> None:
    assert BufIoReq.unpack(req.pack()) == req


def test_buf_ioreq_rejects_bad_values() -> None:
    with pytest.raises(XenEINVAL):
        BufIoReq(type=1, dir=0, size=3, addr=0, data=0)
    with pytest.raises(XenEINVAL):
        BufIoReq(type=1, dir=0, size=4, addr=0x100000, data=0)
    with pytest.raises(XenEINVAL):
        BufIoReq.unpack(bytes(7))


def test_dm_op_buffer_and_short_read() -> None:
    buf = abi.dm_op_buffer(DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(handle_bufioreq=1))
    assert len(buf) == 32
    assert abi.DmOpHeader.unpack(buf[:8]) == abi.DmOpHeader(1, 0)
    assert abi.read_buffer(b"\x01\x02", 6) == b"\x01\x02\0\0\0\0"
    assert abi.read_buffer(bytes(range(40)), 4) == bytes(range(4))


def test_pci_sbdf_round_trip() -> None:
    for sbdf in (0, 0x10, 0xFFFF_FFFF, abi.pci_sbdf(0, 0xFF, 0x1F, 7)):
        assert abi.pci_sbdf(*abi.sbdf_split(sbdf)) == sbdf
