"""Errors as Xen reports them: an errno, carried by an ``OSError``.

Theory of operation
-------------------
Xen's hypercalls return ``0`` or ``-errno``.  Inside the model every failing
check raises a :class:`XenError` whose ``.errno`` is the value Xen would have
negated and returned; the ABI boundary (``Host.dm_op`` / ``Host.hvm_op``) is
the one place where an exception turns back into ``-errno``.

There is one subclass per errno the model uses, so callers can write
``except XenEINVAL`` as readily as ``except XenError as e: e.errno``.  Where a
builtin exception means the same thing (``EINVAL`` is a bad value, ``EPERM`` a
permission failure, ``ESRCH`` no such domain), the subclass inherits it too.

>>> try:
...     raise XenEINVAL("start > end")
... except ValueError as e:
...     (e.errno, str(e))
(22, '[Errno 22] Invalid argument: start > end')
>>> from_errno(16).__name__
'XenEBUSY'
"""

from __future__ import annotations

import errno as _errno
import functools
import os
from typing import ClassVar

__all__ = [
    "ERESTART",
    "ModelLimitError",
    "XenE2BIG",
    "XenEAGAIN",
    "XenEBUSY",
    "XenEEXIST",
    "XenEFAULT",
    "XenEILSEQ",
    "XenEINVAL",
    "XenENODEV",
    "XenENOENT",
    "XenENOMEM",
    "XenENOSPC",
    "XenENOSYS",
    "XenEOPNOTSUPP",
    "XenEOVERFLOW",
    "XenEPERM",
    "XenERANGE",
    "XenERESTART",
    "XenESRCH",
    "XenError",
    "from_errno",
    "raise_errno",
]


class ModelLimitError(RuntimeError):
    """The model itself is out of room: past the host's stated bound on what it
    may hold (``Host(model_memory_bytes=...)``).

    Not an answer Xen would give, so deliberately not a :class:`XenError`: a
    device model must not take it for ``-ENOMEM`` from a full rangeset, and
    the DMOP boundary lets it through instead of turning it into an errno.
    """


#: Xen's internal "restart the hypercall" code (``xen/include/xen/errno.h``:
#: ``ERESTART 85``).  Never seen by a guest: the hypercall is continued.
ERESTART = 85


class XenError(OSError):
    """A failure Xen reports as ``-errno``; ``.errno`` holds the positive value.

    Construct a subclass with just a message (``XenEINVAL("why")``); the base
    class takes the errno explicitly (``XenError(22, "why")``).
    """

    ERRNO: ClassVar[int] = 0

    def __init__(self, *args: object) -> None:
        if type(self).ERRNO and (len(args) <= 1):
            message = str(args[0]) if args else ""
            code = type(self).ERRNO
            super().__init__(code, _strerror(code), *((message,) if message else ()))
        else:
            super().__init__(*args)

    def __str__(self) -> str:
        base = f"[Errno {self.errno}] {self.strerror}"
        return f"{base}: {self.filename}" if self.filename else base


@functools.cache  # os.strerror formats afresh each time; runs raise thousands (issue 18)
def _strerror(code: int) -> str:
    if code == ERESTART:
        return "Restart hypercall (continuation)"
    return os.strerror(code)


class XenEPERM(XenError, PermissionError):
    """Operation not permitted (``EPERM`` 1): privilege or ownership check failed."""

    ERRNO = _errno.EPERM


class XenENOENT(XenError, LookupError):
    """No such entry (``ENOENT`` 2): unknown server id, range not mapped."""

    ERRNO = _errno.ENOENT


class XenESRCH(XenError, ProcessLookupError):
    """No such domain (``ESRCH`` 3)."""

    ERRNO = _errno.ESRCH


class XenEAGAIN(XenError, BlockingIOError):
    """Try again (``EAGAIN`` 11): a paged-out or shared page in ``set_mem_type``."""

    ERRNO = _errno.EAGAIN


class XenENOMEM(XenError):
    """Out of memory (``ENOMEM`` 12): Xen heap exhausted or a rangeset limit hit."""

    ERRNO = _errno.ENOMEM


class XenEFAULT(XenError):
    """Bad address (``EFAULT`` 14): a guest buffer could not be copied."""

    ERRNO = _errno.EFAULT


class XenEBUSY(XenError):
    """Busy (``EBUSY`` 16): a type already claimed, entries still outstanding."""

    ERRNO = _errno.EBUSY


class XenEEXIST(XenError):
    """Exists (``EEXIST`` 17): overlapping map, set-once param changed."""

    ERRNO = _errno.EEXIST


class XenENODEV(XenError):
    """No such device (``ENODEV`` 19)."""

    ERRNO = _errno.ENODEV


class XenEINVAL(XenError, ValueError):
    """Invalid argument (``EINVAL`` 22): bad value, bad type, bad pad, start > end."""

    ERRNO = _errno.EINVAL


class XenENOSPC(XenError):
    """No space (``ENOSPC`` 28): a fixed-size table is full."""

    ERRNO = _errno.ENOSPC


class XenERANGE(XenError, ValueError):
    """Out of range (``ERANGE`` 34): a number too large for its field."""

    ERRNO = _errno.ERANGE


class XenENOSYS(XenError):
    """Function not implemented (``ENOSYS`` 38): an hypercall op the model lacks."""

    ERRNO = _errno.ENOSYS


class XenE2BIG(XenError):
    """Argument list too long (``E2BIG`` 7): too many DMOP buffers."""

    ERRNO = _errno.E2BIG


class XenEOPNOTSUPP(XenError):
    """Not supported (``EOPNOTSUPP`` 95): unknown op, HAP off, default server id."""

    ERRNO = _errno.EOPNOTSUPP


class XenEOVERFLOW(XenError):
    """Value too large (``EOVERFLOW`` 75): a gfn range that wraps."""

    ERRNO = _errno.EOVERFLOW


class XenEILSEQ(XenError):
    """Illegal byte sequence (``EILSEQ`` 84): a continuation that went backwards."""

    ERRNO = _errno.EILSEQ


class XenERESTART(XenError):
    """Hypercall continuation (Xen-internal ``ERESTART`` 85)."""

    ERRNO = ERESTART


_BY_ERRNO: dict[int, type[XenError]] = {
    cls.ERRNO: cls
    for cls in (
        XenEPERM,
        XenENOENT,
        XenESRCH,
        XenEAGAIN,
        XenENOMEM,
        XenEFAULT,
        XenEBUSY,
        XenEEXIST,
        XenENODEV,
        XenEINVAL,
        XenENOSPC,
        XenERANGE,
        XenENOSYS,
        XenE2BIG,
        XenEOPNOTSUPP,
        XenEOVERFLOW,
        XenEILSEQ,
        XenERESTART,
    )
}


def from_errno(code: int) -> type[XenError]:
    """Return the subclass for a positive errno (``XenError`` itself if none).

    >>> from_errno(22) is XenEINVAL
    True
    """
    return _BY_ERRNO.get(code, XenError)


def raise_errno(code: int, message: str = "") -> None:
    """Raise the :class:`XenError` for ``code`` (positive or negative errno).

    Used where a ``-errno`` return value comes back in (the client library).
    """
    code = abs(code)
    cls = _BY_ERRNO.get(code)
    if cls is None:
        raise XenError(code, _strerror(code), *((message,) if message else ()))
    raise cls(message)
