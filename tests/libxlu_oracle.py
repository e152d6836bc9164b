"""Debian's libxlutil (Xen 4.17's xl.cfg parser) as an oracle, one child per input.

    .venv/bin/python -m tests.libxlu_oracle < requests.jsonl > answers.jsonl

Each request line is ``{"text": ..., "keys": [...]}`` (the text as latin-1
code points, so any byte survives JSON).  This process loads ``libxlutil.so``
with ctypes once, then forks for every request: the child runs
``xlu_cfg_init`` with the report going to a temporary file,
``xlu_cfg_readdata`` and, if that succeeded, every getter on every key, and
writes one answer line; libxlu can abort (a NUL in a quoted string does), and
the parent then answers ``{"abort": signal}`` and goes on.

An answer: ``rc`` of readdata, ``report`` (what libxlu printed), and per key
``string``/``long``/``list`` — each ``[rc, value]`` with the report text the
getter added (its warnings).
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import tempfile
from typing import Any

LIB = "libxlutil.so.4.17"
LIBC = ctypes.CDLL(None)
LIBC.fopen.restype = ctypes.c_void_p
LIBC.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
LIBC.fflush.argtypes = [ctypes.c_void_p]


def available() -> str | None:
    """Why libxlutil cannot be loaded here, or None."""
    try:
        ctypes.CDLL(LIB)
    except OSError as err:
        return f"{LIB} cannot be loaded ({err}): install libxenmisc4.17"
    return None


def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(LIB)
    vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    lib.xlu_cfg_init.restype = vp
    lib.xlu_cfg_init.argtypes = [vp, cp]
    lib.xlu_cfg_readdata.restype = i
    lib.xlu_cfg_readdata.argtypes = [vp, cp, i]
    lib.xlu_cfg_get_string.restype = i
    lib.xlu_cfg_get_string.argtypes = [vp, cp, ctypes.POINTER(cp), i]
    lib.xlu_cfg_get_long.restype = i
    lib.xlu_cfg_get_long.argtypes = [vp, cp, ctypes.POINTER(ctypes.c_long), i]
    lib.xlu_cfg_get_list.restype = i
    lib.xlu_cfg_get_list.argtypes = [vp, cp, ctypes.POINTER(vp), ctypes.POINTER(i), i]
    lib.xlu_cfg_get_listitem.restype = cp
    lib.xlu_cfg_get_listitem.argtypes = [vp, i]
    return lib


def _answer(lib: ctypes.CDLL, data: bytes, keys: list[str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(prefix="xlu-report-") as tmp:
        report = LIBC.fopen(tmp.name.encode(), b"w")
        cfg = lib.xlu_cfg_init(report, b"test.cfg")

        def said() -> str:
            LIBC.fflush(report)
            return open(tmp.name, "rb").read().decode("latin-1")

        rc = lib.xlu_cfg_readdata(cfg, data, len(data))
        out: dict[str, Any] = {"rc": rc, "report": said(), "keys": {}}
        if rc != 0:
            return out
        for key in keys:
            name = key.encode("latin-1")
            before = len(said())
            s = ctypes.c_char_p()
            src = lib.xlu_cfg_get_string(cfg, name, ctypes.byref(s), 0)
            got_s = [src, s.value.decode("latin-1") if src == 0 and s.value is not None else None]
            n = ctypes.c_long()
            lrc = lib.xlu_cfg_get_long(cfg, name, ctypes.byref(n), 0)
            got_l = [lrc, n.value if lrc == 0 else None]
            lst, entries = ctypes.c_void_p(), ctypes.c_int()
            lirc = lib.xlu_cfg_get_list(cfg, name, ctypes.byref(lst), ctypes.byref(entries), 0)
            items = None
            if lirc == 0:
                items = []
                for k in range(entries.value):
                    item = lib.xlu_cfg_get_listitem(lst, k)
                    items.append(None if item is None else item.decode("latin-1"))
            out["keys"][key] = {
                "string": got_s,
                "long": got_l,
                "list": [lirc, items],
                "warnings": said()[before:],
            }
        return out


def serve(lines: list[str]) -> list[dict[str, Any]]:
    """Answer each request line in a forked child (see the module docstring)."""
    lib = _lib()
    answers = []
    for line in lines:
        req = json.loads(line)
        data = req["text"].encode("latin-1")
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: parse, answer, exit without cleanup
            os.close(r)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)  # an assertion's message is libxlu's, not ours
            try:
                text = json.dumps(_answer(lib, data, req["keys"]))
            except BaseException as err:
                text = json.dumps({"error": repr(err)})
            os.write(w, text.encode())
            os._exit(0)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 1 << 16):
            chunks.append(chunk)
        os.close(r)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            answers.append({"abort": os.WTERMSIG(status)})
        else:
            answers.append(json.loads(b"".join(chunks)))
    return answers


if __name__ == "__main__":
    for answer in serve(sys.stdin.read().splitlines()):
        sys.stdout.write(json.dumps(answer) + "\n")
