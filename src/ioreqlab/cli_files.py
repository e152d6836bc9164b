"""The CLI's files: what ``ioreqlab`` reads and writes, and how (layer 6, with the CLI).

Inputs are read with a size bound and a scenario names only files beside it;
outputs are checked before any work and written whole or not at all.  With
:mod:`ioreqlab.cli`, the only module that touches files.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any

from ioreqlab.scenario import XENGT_BDW, Scenario, ScenarioError, load_scenario

__all__ = [
    "INPUT_LIMIT",
    "UsageError",
    "check_output",
    "progress_bar",
    "read_beside",
    "read_input",
    "read_scenario",
    "write",
]


class UsageError(Exception):
    """Bad input: one line for stderr, exit 2."""


#: The largest input file read (a config, a scenario, a trace): 64 MiB.  Anything
#: longer (``/dev/zero`` included) is refused as too large, never read whole.
INPUT_LIMIT = 64 << 20


def read_input(path: str | Path) -> bytes:
    """A file's bytes, at most :data:`INPUT_LIMIT` (``OSError`` EFBIG past it)."""
    with Path(path).open("rb") as f:
        data = f.read(INPUT_LIMIT + 1)
    if len(data) > INPUT_LIMIT:
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))
    return data


def read_beside(scenario: Path, name: str) -> str:
    """A scenario's ``xl_cfg_file``: a file in the scenario's folder or below it, only.

    An absolute path, or one that leaves the folder (``..``, a symlink out), is
    refused (EACCES), so a scenario cannot make ioreqlab read, and echo in an
    error, a file the user did not put beside it.
    """
    folder = scenario.resolve().parent
    target = (folder / name).resolve()
    if Path(name).is_absolute() or not target.is_relative_to(folder):
        raise OSError(errno.EACCES, "only files in the scenario's folder may be named")
    return read_input(target).decode("latin-1")


def write(path: str, data: bytes | str) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, then a rename."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        tmp.write_bytes(raw)
        os.replace(tmp, target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {err.strerror}") from None
    except BaseException:  # Ctrl-C between the two steps: no stray temporary file
        tmp.unlink(missing_ok=True)
        raise


def check_output(path: str | None, *, directory: bool = False) -> None:
    """Refuse, before any work, an output that could not be written: an empty path,
    a directory for a file (or a file for a directory), a missing or unwritable parent."""
    if path is None:
        return
    if path == "":
        raise UsageError(f"an empty path is not an output {'directory' if directory else 'file'}")
    target = Path(path)
    if directory and target.exists() and not target.is_dir():
        raise UsageError(f"cannot write plots into {path}: it is a file")
    if not directory and target.is_dir():
        raise UsageError(f"cannot write {path}: it is a directory")
    parent = target if directory and target.is_dir() else target.resolve().parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: no such directory {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {path}: {parent} is not writable")


def progress_bar(total: int, desc: str, unit: str = "round") -> Any:
    """A tqdm bar on stderr, shown only on a terminal."""
    from tqdm import tqdm  # imported late: only the commands that show progress need it

    # disable=None: no bar unless stderr is a terminal (logs and pipes stay clean).
    return tqdm(
        total=total, desc=desc, file=sys.stderr, delay=1.0, leave=False, unit=unit, disable=None
    )


def read_scenario(path: str | None) -> tuple[Scenario, str]:
    """A scenario file (or the built-in one, for None) and its text; a located
    ``ScenarioError`` for anything wrong with it."""
    if path is None:
        return load_scenario(XENGT_BDW, "xengt-bdw (built in)"), XENGT_BDW
    p = Path(path)
    try:
        text = read_input(p).decode("utf-8")
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read scenario: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: scenario is not UTF-8 text") from None
    if text.startswith("\ufeff"):
        raise ScenarioError(
            f"{path}: starts with a UTF-8 byte-order mark (BOM), which TOML does not allow:"
            " save the file without it"
        )
    return load_scenario(text, path, read=lambda name: read_beside(p, name)), text
