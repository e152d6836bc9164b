"""``ioreqlab.errors``: one class per errno, catchable as OSError and builtins."""

from __future__ import annotations

import errno

import pytest

from ioreqlab import errors
from ioreqlab.errors import XenError


@pytest.mark.parametrize("cls", [cls for _, cls in sorted(errors._BY_ERRNO.items())])
def test_each_subclass_carries_its_errno(cls: type[XenError]) -> None:
    e = cls("context")
    assert isinstance(e, OSError)
    assert isinstance(e, XenError)
    assert e.errno == cls.ERRNO
    assert "context" in str(e)
    assert errors.from_errno(cls.ERRNO) is cls


def test_builtin_mixins() -> None:
    assert isinstance(errors.XenEINVAL(), ValueError)
    assert isinstance(errors.XenEPERM(), PermissionError)
    assert isinstance(errors.XenESRCH(), ProcessLookupError)
    assert isinstance(errors.XenENOENT(), LookupError)
    assert isinstance(errors.XenEAGAIN(), BlockingIOError)


def test_raise_errno_accepts_negative_codes() -> None:
    with pytest.raises(errors.XenEBUSY):
        errors.raise_errno(-errno.EBUSY, "claimed")
    with pytest.raises(XenError) as info:
        errors.raise_errno(-errno.E2BIG)
    assert info.value.errno == errno.E2BIG


def test_erestart_is_xen_internal_85() -> None:
    assert errors.ERESTART == 85
    assert "continuation" in str(errors.XenERESTART())


def test_base_class_takes_explicit_errno() -> None:
    e = XenError(errno.ENOSPC, "No space left on device")
    assert e.errno == errno.ENOSPC
