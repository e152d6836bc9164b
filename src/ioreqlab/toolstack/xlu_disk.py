"""libxlu's disk specification parser: ``disk = [ 'SPEC', ... ]`` → ``libxl_device_disk``.

Rules
-----
1. The scanner is ``tools/libs/util/libxlu_disk_l.c`` (RELEASE-4.17.0), the
   flex output of ``libxlu_disk_l.l`` that Xen ships (it predates the .l's
   ``trusted`` rules, see :func:`_rules`), as flex runs it: at each position
   every rule is tried, the longest match wins (trailing context counts
   toward its length, not toward the text the action sees), the earlier rule
   breaks a tie.  :func:`_rules` lists them in
   the file's order, an alternation split into one row per branch.
2. The actions are ``libxlu_disk_l.l``'s helpers: ``savestring`` refuses a
   second non-empty value ("target respecified"), ``DSET`` a second different
   enum ("format respecified"); positional parameters fill target, format,
   vdev and access in turn.  An error is printed and scanning goes on, except
   where the C returns (too many positional parameters, an unknown deprecated
   prefix, bad syntax).
3. :func:`disk_parse` ends as ``xlu_disk_parse`` does: format raw by default,
   a CD-ROM removable and read-only, "no vdev specified" and "no target
   specified (and device not removable)" checked last.  Errors go to the
   caller's report list with libxlu's wording; the result says whether the
   spec was refused (``EINVAL``: ``xl`` exits 1).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DiskParse", "disk_parse"]


@dataclass(slots=True)
class DiskParse:
    """One spec's parse (``DiskParseContext``): the disk fields, the report, the error."""

    source: str
    spec: str
    report: list[str]
    disk: dict[str, Any] = field(default_factory=lambda: {"readwrite": 1})
    err: bool = False
    access_set: bool = False
    had_depr_prefix: bool = False
    stop: bool = False
    jammed: bool = False  # flex's "scanner jammed": YY_FATAL_ERROR exits 2

    def error(self, erroneous: str | None, message: str) -> None:
        """``xlu__disk_err``."""
        near = "" if erroneous is None else f": near `{erroneous}'"
        self.report.append(
            f"{self.source}: config parsing error in disk specification: {message}"
            f"{near} in `{self.spec}'"
        )
        self.err = True

    def save(self, what: str, key: str, value: str) -> None:
        """``savestring``: a non-empty value may not be given twice."""
        old = self.disk.get(key)
        if old:
            self.error(value, f"{what} respecified")
            return
        self.disk[key] = value

    def dset(self, member: str, value: str, text: str) -> None:
        """``DSET``: an enum member set once (to UNKNOWN or the same value is fine)."""
        old = self.disk.get(member, "unknown")
        if old not in ("unknown", value):
            self.error(text, f"{member} respecified")
        else:
            self.disk[member] = value


_FORMATS = {"": "raw", "raw": "raw", "qcow": "qcow", "qcow2": "qcow2", "vhd": "vhd",
            "empty": "empty", "qed": "qed"}  # fmt: skip
_BACKENDS = ("phy", "tap", "qdisk", "standalone")


def _setformat(d: DiskParse, s: str) -> None:
    if s in _FORMATS:
        d.dset("format", _FORMATS[s], s)
    else:
        d.error(s, "unknown value for format")


def _setaccess(d: DiskParse, s: str) -> None:
    if s in ("r", "ro"):
        d.disk["readwrite"] = 0
    elif s in ("rw", "w", ""):
        d.disk["readwrite"] = 1
    else:
        d.error(s, "unknown value for access")


def _setbackendtype(d: DiskParse, s: str) -> None:
    if s in _BACKENDS:
        d.dset("backend", s, s)
    else:
        d.error(s, "unknown value for backendtype")


def _setspecification(d: DiskParse, s: str) -> None:
    if s in ("xen", "virtio"):
        d.dset("specification", s, s)
    else:
        d.error(s, "unknown value for specification")


def _atoi(s: str) -> int:
    m = re.match(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", s)
    return int(m.group(1)) if m else 0


def _setcoloport(d: DiskParse, s: str) -> None:
    port = _atoi(s)
    if port:
        d.disk["colo_port"] = port
    else:
        d.error(s, "unknown value for colo_port")


def _vdev_and_devtype(d: DiskParse, s: str) -> bool:
    """``<vdev>:<devtype>``: True if it was that form."""
    if ":" not in s:
        return False
    vdev, devtype = s.rsplit(":", 1)
    d.save("vdev", "vdev", vdev)
    if devtype == "cdrom":
        d.disk["is_cdrom"] = 1
    elif devtype == "disk":
        d.disk["is_cdrom"] = 0
    else:
        d.error(devtype, "unknown deprecated type")
    return True


def _positional(d: DiskParse, t: str) -> None:
    t = _strip(t)
    if d.err:
        return  # "previous errors may just lead to subsequent ones"
    disk = d.disk
    if disk.get("pdev_path") is None:
        d.save("target", "pdev_path", t)
    elif not d.had_depr_prefix and disk.get("format", "unknown") == "unknown":
        if not disk["pdev_path"] and _vdev_and_devtype(d, t):
            disk["format"] = "empty"
        else:
            _setformat(d, t)
    elif disk.get("vdev") is None:
        if not _vdev_and_devtype(d, t):
            d.save("vdev", "vdev", t)
    elif not d.access_set:
        d.access_set = True
        _setaccess(d, t)
    else:
        d.error(t, "too many positional parameters")
        d.stop = True  # "don't print any more errors"


def _strip(t: str) -> str:
    return t[:-1] if t.endswith(",") else t


def _eq(t: str) -> str:
    """``FROMEQUALS``: what follows the first ``=``, the trailing comma stripped."""
    return _strip(t).split("=", 1)[1]


def _flag(key: str, value: object) -> Callable[[DiskParse, str], None]:
    def act(d: DiskParse, t: str) -> None:
        d.disk[key] = value

    return act


def _saver(what: str, key: str) -> Callable[[DiskParse, str], None]:
    def act(d: DiskParse, t: str) -> None:
        d.save(what, key, _eq(t))

    return act


def _deprecated(d: DiskParse, t: str) -> None:
    d.had_depr_prefix = True


def _depr_format(d: DiskParse, t: str) -> None:
    d.had_depr_prefix = True
    _setformat(d, t[:-1])


def _depr_script(d: DiskParse, t: str) -> None:
    d.had_depr_prefix = True
    d.save("script", "script", f"block-{t[:-1]}")


def _unknown_prefix(d: DiskParse, t: str) -> None:
    d.error(t, "unknown deprecated disk prefix")
    d.stop = True


def _unknown_param(d: DiskParse, t: str) -> None:
    d.error(t, "unknown parameter")


def _bad_type(d: DiskParse, t: str) -> None:
    d.error(t, "unknown value for type")


def _ignore(d: DiskParse, t: str) -> None:
    pass


def _bad_syntax(d: DiskParse, t: str) -> None:
    d.error(t, "bad disk syntax")
    d.stop = True


Action = Callable[[DiskParse, str], None]


def _rules() -> tuple[tuple[str, str | None, Action], ...]:
    """(head, trailing context or None, action), in libxlu_disk_l.l's order."""
    return (
        (r"[ \t\n]+", r"(?:[^ \t\n].*)?", _ignore),
        (r"format=[^,]*,?", None, lambda d, t: _setformat(d, _eq(t))),
        (r"cdrom,?", None, _flag("is_cdrom", 1)),
        (r"devtype=cdrom,?", None, _flag("is_cdrom", 1)),
        (r"devtype=disk,?", None, _flag("is_cdrom", 0)),
        (r"devtype=[^,]*,?", None, _bad_type),
        (r"access=[^,]*,?", None, lambda d, t: _setaccess(d, _eq(t))),
        (r"backend=[^,]*,?", None, _saver("backend", "backend_domname")),
        (r"backendtype=[^,]*,?", None, lambda d, t: _setbackendtype(d, _eq(t))),
        (r"specification=[^,]*,?", None, lambda d, t: _setspecification(d, _eq(t))),
        (r"vdev=[^,]*,?", None, _saver("vdev", "vdev")),
        (r"script=[^,]*,?", None, _saver("script", "script")),
        (r"direct-io-safe,?", None, _flag("direct_io_safe", True)),
        (r"discard,?", None, _flag("discard_enable", True)),
        (r"no-discard,?", None, _flag("discard_enable", False)),
        (r"colo,?", None, _flag("colo_enable", True)),
        (r"no-colo,?", None, _flag("colo_enable", False)),
        (r"colo-host=[^,]*,?", None, _saver("colo-host", "colo_host")),
        (r"colo-port=[^,]*,?", None, lambda d, t: _setcoloport(d, _eq(t))),
        (r"colo-export=[^,]*,?", None, _saver("colo-export", "colo_export")),
        (r"active-disk=[^,]*,?", None, _saver("active-disk", "active_disk")),
        (r"hidden-disk=[^,]*,?", None, _saver("hidden-disk", "hidden_disk")),
        # libxlu_disk_l.l has "trusted,?" and "untrusted,?" rules here (added 2022-04,
        # 54d8f27d04), but the scanner Xen ships pre-generated, libxlu_disk_l.c, was
        # not regenerated until RELEASE-4.19.0: in 4.17 (every point release) and
        # 4.18 the real xl reads "trusted" as a positional parameter, and so does
        # the model, which follows 4.17.
        (r"target=.*", None, _saver("target", "pdev_path")),
        (r"[a-z][-a-z0-9]*=[^,],?", None, _unknown_param),
        (r"(?:raw|qcow2?|vhd):", r".*", _depr_format),
        (r"(?:iscsi|e?nbd|drbd):", r".*", _depr_script),
        (r"tapdisk:", r".*", _deprecated),
        (r"tap2?:", r".*", _deprecated),
        (r"aio:", r".*", _deprecated),
        (r"ioemu:", r".*", _deprecated),
        (r"file:", r".*", _deprecated),
        (r"phy:", r".*", _deprecated),
        (r"[a-z][a-z0-9]*:", r"(?:[^a-z0-9].*)?", _unknown_prefix),
        (r"[^=,]*,", None, _positional),  # one rule in the .l file: "[^=,]*,|[^=,]+,?"
        (r"[^=,]+,?", None, _positional),
    )


def _compiled_rules() -> tuple[tuple[re.Pattern[str], Action], ...]:
    """:func:`_rules` compiled, made again for each spec: a spec is parsed once per
    config, ``re`` caches the patterns, and a made-once table would keep the
    actions of whichever code built it (a mutation test's would never run)."""
    return tuple(
        (re.compile(f"({head})" + (trail or "")), action) for head, trail, action in _rules()
    )


def _scan(d: DiskParse) -> None:
    s, pos = d.spec, 0
    rules = _compiled_rules()
    while pos < len(s) and not d.stop:
        best: tuple[int, int, Action] | None = None  # (whole length, head length, action)
        for rx, action in rules:
            m = rx.match(s, pos)
            if m is not None and m.end() > pos and (best is None or m.end() - pos > best[0]):
                best = (m.end() - pos, m.end(1) - pos, action)
        if best is None:  # ".": BEGIN(LEXERR); yymore() — then <LEXERR>.* eats the line
            end = s.find("\n", pos + 1)
            end = len(s) if end < 0 else end
            if end == pos + 1:  # ".*" cannot match nothing
                if end < len(s):  # a newline, which no LEXERR rule matches
                    d.jammed = True
                return  # at the end of input: the end-of-file rule, no error
            _bad_syntax(d, s[pos:end])
            return
        text = s[pos : pos + best[1]]
        pos += best[1]
        best[2](d, text)


def disk_parse(spec: str, source: str, report: list[str]) -> tuple[dict[str, Any], int]:
    """``xlu_disk_parse`` of one spec: the disk's fields, and xl's exit code (0: accepted).

    A refusal is 1 (``EINVAL``: xl exits ``EXIT_FAILURE``); a bad character
    right before a newline jams the flex scanner, which prints so and exits 2.

    >>> disk, bad = disk_parse("/img/g.raw,raw,xvda,rw", "g.cfg", [])
    >>> disk["pdev_path"], disk["format"], disk["vdev"], disk["readwrite"], bad
    ('/img/g.raw', 'raw', 'xvda', 1, 0)
    """
    d = DiskParse(source, spec, report)
    _scan(d)
    if d.jammed:
        report.append("flex scanner jammed")
        return d.disk, 2
    if d.err:
        return d.disk, 1
    disk = d.disk
    if disk.get("format", "unknown") == "unknown":
        disk["format"] = "raw"
    if disk.get("is_cdrom"):
        disk["removable"] = 1
        disk["readwrite"] = 0
        if not disk.get("pdev_path"):
            disk["format"] = "empty"
    if disk.get("vdev") is None:
        d.error(None, "no vdev specified")
    elif disk.get("pdev_path") is None and not disk.get("removable"):
        d.error(None, "no target specified (and device not removable)")
    return disk, int(d.err)
