"""Real device-model processes against the model: ioreqlab as a fake Xen.

An unmodified device model — QEMU, or any program using libxendevicemodel,
libxenevtchn and libxenforeignmemory — runs as a child process with
``preload.c`` interposed on its use of ``/dev/xen/*``.  The calls reach
:class:`~ioreqlab.realdm.fake.FakeXen`, which plays Linux's privcmd and evtchn
drivers (:mod:`~ioreqlab.realdm.privcmd`, :mod:`~ioreqlab.realdm.evtchn`) and
a small xenstored, and calls the :class:`~ioreqlab.host.Host` for everything
that is Xen's.  Guest frames and ioreq pages are one ``memfd`` both sides map
(:class:`~ioreqlab.realdm.shm.SharedPages`, the host's page provider).

This package is the model's process boundary (layer 5 beside analysis): it
does I/O, starts processes and compiles C; nothing below it does.
"""

from __future__ import annotations

from ioreqlab.realdm.fake import FakeXen, Unserved
from ioreqlab.realdm.session import (
    BuiltinDeviceModel,
    DeviceModel,
    DeviceModelError,
    shared_host,
)
from ioreqlab.realdm.shm import SharedPages

__all__ = [
    "BuiltinDeviceModel",
    "DeviceModel",
    "DeviceModelError",
    "FakeXen",
    "SharedPages",
    "Unserved",
    "shared_host",
]
