"""Ordinary device traffic for the default emulator: a console, PCI probing, BAR moves."""

from __future__ import annotations

from ioreqlab.workload.guest import Guest

__all__ = ["config_read", "config_write", "move_bar", "pci_probe", "uart_print"]

UART = 0x3F8
CF8, CFC = 0xCF8, 0xCFC


def uart_print(guest: Guest, text: str) -> None:
    """Write ``text`` to COM1, polling the line status register like a driver."""
    for byte in text.encode("latin-1", "replace"):
        guest.inb(UART + 5)  # LSR: transmitter empty?
        guest.outb(UART, byte)


def _address(bus: int, dev: int, fn: int, reg: int) -> int:
    return 0x8000_0000 | (bus << 16) | (dev << 11) | (fn << 8) | (reg & 0xFC)


def config_read(guest: Guest, bus: int, dev: int, fn: int, reg: int, size: int = 4) -> int:
    """A configuration read through CF8/CFC (mechanism #1)."""
    guest.outb(CF8, _address(bus, dev, fn, reg), 4)
    return guest.inb(CFC + (reg & 3), size)


def config_write(guest: Guest, bus: int, dev: int, fn: int, reg: int, value: int) -> None:
    """A 32-bit configuration write through CF8/CFC."""
    guest.outb(CF8, _address(bus, dev, fn, reg), 4)
    guest.outb(CFC, value, 4)


def pci_probe(guest: Guest, bus: int = 0) -> dict[int, int]:
    """Vendor/device ids of every present function 0 on ``bus`` (absent reads as all-ones)."""
    found = {}
    for dev in range(32):
        ident = config_read(guest, bus, dev, 0, 0)
        if ident != 0xFFFF_FFFF:
            found[dev] = ident
    return found


def move_bar(guest: Guest, dev: int, bar: int, new_base: int) -> int:
    """Size BAR ``bar`` of 00:dev.0, then place it at ``new_base``; returns its size."""
    reg = 0x10 + 4 * bar
    old = config_read(guest, 0, dev, 0, reg)
    config_write(guest, 0, dev, 0, reg, 0xFFFF_FFFF)
    size = (~(config_read(guest, 0, dev, 0, reg) & 0xFFFF_FFF0) & 0xFFFF_FFFF) + 1
    config_write(guest, 0, dev, 0, reg, new_base | (old & 0xF))
    return size
