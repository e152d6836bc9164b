"""Compiling the C parts at run time, with the machine's compiler.

The interposition library (and the tests' C harnesses) are compiled on first
use into a build folder the repository ignores: ``$IOREQLAB_BUILD_DIR``, or
``build/realdm`` beside ``src`` in a checkout, or ``~/.cache/ioreqlab``.  A
build is named by the hash of its source and flags, so an edit rebuilds it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["BuildError", "build_dir", "compile_c", "preload_library"]

_HERE = Path(__file__).resolve().parent


class BuildError(RuntimeError):
    """The C compiler is missing or refused the source."""


def build_dir() -> Path:
    """Where compiled parts go."""
    env = os.environ.get("IOREQLAB_BUILD_DIR")
    if env:
        return Path(env)
    checkout = _HERE.parents[2]
    if (checkout / "pyproject.toml").exists() and (checkout / "src").is_dir():
        return checkout / "build" / "realdm"
    return Path.home() / ".cache" / "ioreqlab"


def compile_c(
    source: Path, *, shared: bool, libs: tuple[str, ...] = (), strict: bool = True
) -> Path:
    """Compile ``source`` (a shared library or a program); return the output's path.

    ``strict`` makes every warning an error (our own C); code from elsewhere
    (Xen's, compiled for a differential test) is built with ``-Wall`` only.
    """
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise BuildError("no C compiler (cc or gcc) on PATH: install gcc")
    flags = ["-O2", "-Wall", "-Wextra", "-Werror", "-g"] if strict else ["-O2", "-Wall", "-g"]
    flags += ["-shared", "-fPIC"] if shared else []
    text = source.read_bytes()
    digest = hashlib.sha256(text + repr((flags, libs)).encode()).hexdigest()[:16]
    out = build_dir() / f"{source.stem}-{digest}{'.so' if shared else ''}"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    cmd = [cc, *flags, "-o", str(tmp), str(source), *(f"-l{lib}" for lib in libs)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        first = (done.stderr.strip().splitlines() or ["(no output)"])[0]
        raise BuildError(f"{cc} failed on {source.name}: {first}")
    tmp.replace(out)
    return out


def preload_library() -> Path:
    """The interposition library, compiled if needed."""
    return compile_c(_HERE / "preload.c", shared=True, libs=("dl", "pthread"))
