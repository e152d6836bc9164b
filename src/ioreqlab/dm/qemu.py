"""A QEMU-like emulator: a UART, a PCI host bridge, and devices with BARs.

It serves one guest through an ordinary ioreq server, as upstream QEMU does
(one ``map_io_range``/``map_pcidev`` per region it emulates), so port, MMIO
and PCI-config routing are all exercised for real:

* a 16550 UART at 0x3f8 whose transmitted bytes are captured;
* the i440FX host bridge's ports 0xcf8–0xcff and config space at 00:00.0;
* PCI functions with 32-bit memory BARs (a standard VGA framebuffer by
  default).  BAR sizing works as on hardware (write all-ones, read the size
  mask back); when the guest moves a BAR, the emulator unmaps the old MMIO
  range and maps the new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ioreqlab.abi.constants import PAGE_SHIFT, pci_sbdf
from ioreqlab.devicemodel import DeviceModel
from ioreqlab.dm.runtime import DeviceModelServer, Mapping

__all__ = ["Framebuffer", "PciFunction", "QemuEmulator", "Uart16550"]

_LSR_THRE_TEMT = 0x60


@dataclass
class Uart16550:
    """Enough of a 16550 for a guest to print: THR, LCR/DLAB, LSR, scratch."""

    output: bytearray = field(default_factory=bytearray)
    regs: list[int] = field(default_factory=lambda: [0] * 8)
    divisor: int = 12

    def io(self, kind: str, offset: int, size: int, write: bool, data: int) -> int:
        """Port access at ``offset`` 0–7 from the UART's base."""
        dlab = bool(self.regs[3] & 0x80)
        if write:
            value = data & 0xFF
            if offset == 0 and not dlab:
                self.output.append(value)
            elif offset in (0, 1) and dlab:
                shift = 8 * offset
                self.divisor = (self.divisor & ~(0xFF << shift)) | (value << shift)
            else:
                self.regs[offset & 7] = value
            return 0
        if offset == 5:
            return _LSR_THRE_TEMT
        if offset == 2:
            return 0x01  # no interrupt pending
        if offset in (0, 1) and dlab:
            return (self.divisor >> (8 * offset)) & 0xFF
        return self.regs[offset & 7]


@dataclass
class Framebuffer:
    """Sparse RAM behind a BAR: writes stick, untouched bytes read as zero."""

    pages: dict[int, bytearray] = field(default_factory=dict)

    def io(self, kind: str, offset: int, size: int, write: bool, data: int) -> int:
        """MMIO access at ``offset`` within the BAR."""
        page = self.pages.setdefault(offset >> PAGE_SHIFT, bytearray(1 << PAGE_SHIFT))
        off = offset & ((1 << PAGE_SHIFT) - 1)
        n = min(size, len(page) - off)
        if write:
            page[off : off + n] = (data & ((1 << (8 * size)) - 1)).to_bytes(size, "little")[:n]
            return 0
        return int.from_bytes(page[off : off + n], "little")


@dataclass
class PciFunction:
    """A PCI function's 256-byte config space with up to six 32-bit memory BARs."""

    bus: int
    device: int
    function: int
    vendor: int
    device_id: int
    class_code: int
    bars: dict[int, int] = field(default_factory=dict)  # BAR index -> size (power of two)
    config: bytearray = field(default_factory=lambda: bytearray(256))
    owner: QemuEmulator | None = None

    def __post_init__(self) -> None:
        self.config[0:2] = self.vendor.to_bytes(2, "little")
        self.config[2:4] = self.device_id.to_bytes(2, "little")
        self.config[9:12] = self.class_code.to_bytes(3, "little")

    @property
    def sbdf(self) -> int:
        """Segment 0, bus, device, function as Xen packs them."""
        return pci_sbdf(0, self.bus, self.device, self.function)

    def bar_base(self, index: int) -> int:
        """Where BAR ``index`` currently decodes."""
        reg = 0x10 + 4 * index
        return int.from_bytes(self.config[reg : reg + 4], "little") & ~0xF

    def io(self, kind: str, offset: int, size: int, write: bool, data: int) -> int:
        """Config-space access at register ``offset``."""
        reg = offset & 0xFF
        n = min(size, 256 - reg)
        if not write:
            return int.from_bytes(self.config[reg : reg + n], "little")
        for index, bar_size in self.bars.items():
            lo = 0x10 + 4 * index
            if reg == lo and size == 4:
                self._write_bar(index, bar_size, data & 0xFFFF_FFFF)
                return 0
        if reg >= 0x04:  # ids and class are read-only
            self.config[reg : reg + n] = (data & ((1 << (8 * n)) - 1)).to_bytes(n, "little")
        return 0

    def _write_bar(self, index: int, size: int, value: int) -> None:
        reg = 0x10 + 4 * index
        old = self.bar_base(index)
        flags = self.config[reg] & 0xF
        new = value & ~(size - 1) & 0xFFFF_FFF0
        self.config[reg : reg + 4] = (new | flags).to_bytes(4, "little")
        if value != 0xFFFF_FFFF and new != old and self.owner is not None:
            self.owner.bar_moved(self, index, new)


class _HostBridgePorts:
    """Ports 0xcf8–0xcff when Xen does not turn them into PCI config requests."""

    def __init__(self) -> None:
        self.cf8 = 0

    def io(self, kind: str, offset: int, size: int, write: bool, data: int) -> int:
        if offset == 0 and size == 4:
            if write:
                self.cf8 = data & 0xFFFF_FFFF
                return 0
            return self.cf8
        return (1 << (8 * size)) - 1  # CFC with CF8 disabled: no device


class QemuEmulator:
    """The default emulator of a guest: UART, host bridge and PCI devices."""

    def __init__(
        self,
        dm: DeviceModel,
        domid: int,
        *,
        vga: bool = True,
        extra: list[PciFunction] | None = None,
    ) -> None:
        self.server = DeviceModelServer(dm, domid, bufioreq=1, name="qemu")
        self.uart = Uart16550()
        self.framebuffer = Framebuffer()
        self.functions = [PciFunction(0, 0, 0, 0x8086, 0x1237, 0x060000)]
        if vga:
            self.functions.append(
                PciFunction(0, 2, 0, 0x1234, 0x1111, 0x030000, bars={0: 16 << 20})
            )
        self.functions.extend(extra or [])
        self._bar_maps: dict[tuple[int, int], Mapping] = {}
        self._bar_base = 0xF000_0000

    @property
    def serial_output(self) -> bytes:
        """Everything the guest wrote to the UART."""
        return bytes(self.uart.output)

    def start(self) -> int:
        """Create the server and map everything; returns the server id."""
        sid = self.server.start()
        self.server.map("pio", 0x3F8, 0x3FF, self.uart)
        self.server.map("pio", 0xCF8, 0xCFF, _HostBridgePorts())
        for fn in self.functions:
            fn.owner = self
            self.server.map("pci", fn.sbdf, fn.sbdf, fn)
            for index, size in sorted(fn.bars.items()):
                base = self._bar_base
                self._bar_base += size
                fn.config[0x10 + 4 * index : 0x14 + 4 * index] = (base | 0x8).to_bytes(4, "little")
                self.bar_moved(fn, index, base)
        return sid

    def stop(self) -> None:
        """Disable and destroy the server."""
        self.server.stop()
        self._bar_maps.clear()

    def bar_moved(self, fn: PciFunction, index: int, base: int) -> None:
        """The guest (or start-up) placed BAR ``index`` at ``base``: remap it."""
        key = (fn.sbdf, index)
        old = self._bar_maps.pop(key, None)
        if old is not None:
            self.server.unmap(old)
        if base:
            device = self.framebuffer
            self._bar_maps[key] = self.server.map("mmio", base, base + fn.bars[index] - 1, device)
        self.server.count("bar_moves")
