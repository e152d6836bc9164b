"""Playing a trace's guest accesses against a device model, and logging each outcome.

The same trace (``docs/trace-format.md``) replays on the model's Python device
models and on a real one; the log gives, per access, its ``route``,
``server_id``, ``status`` and ``result`` (the value read), so two runs can be
compared line by line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ioreqlab.errors import XenError
from ioreqlab.hv.vcpu_io import Access, Status
from ioreqlab.workload.guest import TraceRecord

__all__ = ["AccessFailed", "Played", "outcome", "play_trace"]

#: An access is complete when the guest has its answer (or, buffered, needs none).
_COMPLETE = (Status.DONE, Status.BUFFERED)


class AccessFailed(Exception):
    """An access did not complete: which one (1-based line number) and why."""

    def __init__(self, line: int, rec: TraceRecord, why: str) -> None:
        kind = "write" if rec.write else "read"
        super().__init__(
            f"access on line {line} ({rec.space} {kind} {rec.addr:#x} size {rec.size}): {why}"
        )
        self.line = line


@dataclass(frozen=True, slots=True)
class Played:
    """One access and what came of it."""

    line: int
    record: TraceRecord
    access: Access

    def to_json(self) -> str:
        """The log line: the trace record's fields plus the outcome."""
        return json.dumps({**self.record.as_dict(), **outcome(self.access)}, separators=(",", ":"))


def outcome(acc: Access) -> dict[str, object]:
    """The log's outcome fields of an access."""
    return {
        "route": str(acc.route),
        "server_id": acc.server_id,
        "status": str(acc.status),
        "result": acc.data,
    }


Issue = Callable[[TraceRecord], Access]


def play_trace(lines: Iterable[str], dom: str, issue: Issue) -> Iterable[Played]:
    """Issue each record of ``lines`` (for the guest named ``dom``); yield each outcome.

    A malformed line or one for another guest is ``ValueError`` (with its line
    number); an access that does not complete raises :class:`AccessFailed`
    after its outcome was yielded.
    """
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = TraceRecord.from_json(line)
        except ValueError as err:
            raise ValueError(f"trace line {n}: {err}") from None
        if rec.dom != dom:
            raise ValueError(f"trace line {n}: no guest named {rec.dom!r} (the guest is {dom!r})")
        try:
            acc = issue(rec)
        except XenError as err:
            raise AccessFailed(n, rec, f"refused: {err}") from None
        yield Played(n, rec, acc)
        if acc.status not in _COMPLETE:
            raise AccessFailed(n, rec, f"status {acc.status}")
