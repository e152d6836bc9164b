"""What the real-device-model tests need from the machine, and a QEMU to run.

A missing package skips the test with the reason in pytest's summary; under
``CI=true`` it fails instead (``scripts/system-packages`` installs them).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

QEMU = "/usr/libexec/xen-qemu-system-i386"
LIBXENDEVICEMODEL = "/usr/include/xendevicemodel.h"


def require(path: str, package: str) -> None:
    """Skip (fail under CI=true) unless ``path`` exists (a file, or a program on PATH)."""
    if Path(path).exists() or (not path.startswith("/") and shutil.which(path)):
        return
    reason = f"{path} missing: install Debian's {package} (make test does, as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def qemu_argv(*extra: str) -> list[str]:
    """QEMU as the guest's device model, no default devices, COM1 as given."""
    require(QEMU, "qemu-system-xen")
    require("cc", "gcc")
    return [
        QEMU,
        "-xen-domid",
        "{domid}",
        "-machine",
        "xenfv",
        "-nodefaults",
        "-display",
        "none",
        "-monitor",
        "none",
        *extra,
    ]
