"""The rangeset implementations every rangeset test drives."""

from ioreqlab.rangeset import RangeSet, RangeSetBase
from ioreqlab.rangeset_ref import LinkedListRangeSet


class SmallBlockRangeSet(RangeSet):
    """The blocked list with tiny blocks, so splits and block deletions happen."""

    LOAD = 2


IMPLEMENTATIONS: list[type[RangeSetBase]] = [RangeSet, SmallBlockRangeSet, LinkedListRangeSet]
IDS = ["blocked", "blocked-small", "linked-list"]
