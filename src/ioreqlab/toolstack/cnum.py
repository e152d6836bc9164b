"""C number conversion as libxlu uses it: ``strtol(s, &end, 0)`` and friends.

xl.cfg numbers are stored as text and converted on use, so ``memory="512"``
works and ``08`` does not.  :func:`strtol` reproduces glibc's rules: leading
white space, an optional sign, ``0x``/``0X`` for hex, a leading ``0`` for
octal, clamping with ``ERANGE`` outside ``long``, and the index where parsing
stopped (so the caller can reject trailing junk).
"""

from __future__ import annotations

import errno as _errno

__all__ = [
    "LONG_MAX",
    "LONG_MIN",
    "ULONG_MAX",
    "StrtolResult",
    "strtol",
    "strtoul",
    "strtoul_prefix",
]

LONG_MAX = (1 << 63) - 1
LONG_MIN = -(1 << 63)
ULONG_MAX = (1 << 64) - 1
_SPACE = " \t\n\v\f\r"


class StrtolResult:
    """``value``, ``end`` (index after the number; 0 if none) and ``errno`` (0, ERANGE)."""

    __slots__ = ("end", "errno", "value")

    def __init__(self, value: int, end: int, err: int) -> None:
        self.value = value
        self.end = end
        self.errno = err

    def __repr__(self) -> str:
        return f"StrtolResult(value={self.value}, end={self.end}, errno={self.errno})"


def _digits(s: str, i: int, base: int) -> int:
    while i < len(s) and s[i].isascii() and s[i].isalnum() and int(s[i], 36) < base:
        i += 1
    return i


def strtol(s: str, base: int = 0) -> StrtolResult:
    """glibc ``strtol``: the value, where parsing stopped, and ``ERANGE`` on overflow.

    >>> [strtol(x).value for x in ("512", "0x1f", "010", " -7", "08")]
    [512, 31, 8, -7, 0]
    >>> strtol("08").end, strtol("abc").end, strtol("9" * 30).errno == _errno.ERANGE
    (1, 0, True)
    >>> r = strtol("-" + "9" * 5000); (r.value, r.end, r.errno == _errno.ERANGE)
    (-9223372036854775808, 5001, True)
    >>> strtol("0" * 5000 + "7").value
    7
    """
    i = 0
    while i < len(s) and s[i] in _SPACE:
        i += 1
    neg = False
    if i < len(s) and s[i] in "+-":
        neg = s[i] == "-"
        i += 1
    if base in (0, 16) and s[i : i + 2].lower() == "0x" and _digits(s, i + 2, 16) > i + 2:
        base, i = 16, i + 2
    elif base == 0:
        base = 8 if s[i : i + 1] == "0" else 10
    end = _digits(s, i, base)
    if end == i:
        return StrtolResult(0, 0, 0)  # no digits: end is the start of the string
    significant = s[i:end].lstrip("0")
    if len(significant) > 64:  # at least 2**64 in any base: ERANGE, without a huge int()
        return StrtolResult(LONG_MIN if neg else LONG_MAX, end, _errno.ERANGE)
    value = int(significant or "0", base)
    value = -value if neg else value
    if value > LONG_MAX:
        return StrtolResult(LONG_MAX, end, _errno.ERANGE)
    if value < LONG_MIN:
        return StrtolResult(LONG_MIN, end, _errno.ERANGE)
    return StrtolResult(value, end, 0)


def strtoul_prefix(s: str, base: int) -> int:
    """How many characters of ``s`` ``strtoul(s, &ep, base)`` consumes (0 if none)."""
    i = 0
    while i < len(s) and s[i] in _SPACE:
        i += 1
    if i < len(s) and s[i] in "+-":
        i += 1
    if base == 16 and s[i : i + 2].lower() == "0x" and _digits(s, i + 2, 16) > i + 2:
        i += 2
    end = _digits(s, i, base)
    return end if end > i else 0


def strtoul(s: str, base: int) -> tuple[int, int]:
    """glibc ``strtoul``: the value and where parsing stopped (0: no digits).

    A minus sign negates in unsigned arithmetic; overflow gives ``ULONG_MAX``.

    >>> strtoul("ff:1", 16), strtoul("-1", 10), strtoul("x", 16), strtoul("9" * 30, 10)[0]
    ((255, 2), (18446744073709551615, 2), (0, 0), 18446744073709551615)
    """
    end = strtoul_prefix(s, base)
    if end == 0:
        return 0, 0
    text = s[:end].strip(_SPACE)
    neg = text.startswith("-")
    digits = text.lstrip("+-")
    if base == 16 and digits[:2].lower() == "0x":
        digits = digits[2:]
    significant = digits.lstrip("0") or "0"
    if len(significant) > 64:
        return ULONG_MAX, end
    value = int(significant, base)
    if value > ULONG_MAX:
        return ULONG_MAX, end
    return ((-value) & ULONG_MAX if neg else value), end
