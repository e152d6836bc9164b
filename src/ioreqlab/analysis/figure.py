"""One reproduced figure of ``docs/findings.md``: a claim, the measured values, the text."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Figure"]


@dataclass(frozen=True)
class Figure:
    """One reproduced figure or answered question."""

    name: str
    title: str
    claim: str
    values: dict[str, object]
    text: str

    @property
    def command(self) -> str:
        """How to reproduce it."""
        return f"ioreqlab findings --only {self.name} --out -"

    def markdown(self) -> str:
        """A section of docs/findings.md."""
        rows = "\n".join(
            f"| {k} | {v:,} |" if isinstance(v, int) else f"| {k} | {v} |"
            for k, v in self.values.items()
        )
        return (
            f"## {self.title}\n\n*The thread:* {self.claim}\n\n"
            f"*Reproduce:* `{self.command}`\n\n| measured | value |\n|---|---:|\n{rows}\n\n"
            f"{self.text}\n"
        )
