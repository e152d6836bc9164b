"""``@value``: the value objects of the hot path, frozen to the type checker.

A frozen dataclass sets each field through ``object.__setattr__``, which made
building an ``ioreq_t`` or an access outcome about three times dearer than a
plain slotted one (1.5 µs against 0.5 µs for :class:`~ioreqlab.abi.ioreq.IoReq`,
measured here; every guest access builds two or three: issue 18).  ``@value``
classes are slotted dataclasses whose fields mypy treats as frozen (an
assignment to one is a type error, checked in CI), hashed and compared by
value like a frozen dataclass; at run time nothing stops an assignment, so
only code that mypy checks may build them.  ``dataclasses.replace`` makes the
changed copies, as for any dataclass.

>>> @value
... class Point:
...     x: int
...     y: int = 0
>>> p = Point(1)
>>> p == Point(1, 0), hash(p) == hash(Point(1, 0)), replace(p, y=2)
(True, True, Point(x=1, y=2))
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeVar, dataclass_transform

__all__ = ["replace", "value"]

T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def value(cls: type[T]) -> type[T]:
    """Make ``cls`` a slotted dataclass with value equality and hash (frozen to mypy)."""
    return dataclass(slots=True, unsafe_hash=True)(cls)
