"""Finding the domains of a hypercall, and the privilege checks on them.

``rcu_lock_domain_by_any_id``, ``rcu_lock_remote_domain_by_id`` and the XSM
checks Xen makes before an operation, over the host's domain table.  A
domain that is shut down (crashed included) is still found — only
``domain_kill`` makes it go away — but its vCPUs do not run, so it can neither
make a hypercall nor a guest access.
"""

from __future__ import annotations

from collections.abc import Mapping

from ioreqlab.abi.constants import DOMID_SELF
from ioreqlab.errors import XenEINVAL, XenEPERM, XenESRCH
from ioreqlab.hv.domain import Domain

__all__ = ["Lookup"]


class Lookup:
    """The host's domain table, seen the way each kind of hypercall sees it."""

    __slots__ = ("domains",)

    def __init__(self, domains: Mapping[int, Domain]) -> None:
        self.domains = domains

    def live(self, domid: int) -> Domain:
        """A domain whose vCPUs run: not destroyed, not shut down (crashed included)."""
        d = self.domains.get(domid)
        if d is None or not d.alive or d.shut_down:
            raise XenESRCH(f"no running domain {domid}")
        return d

    def caller(self, caller: int) -> Domain:
        """The domain making a hypercall: its vCPUs must run."""
        c = self.domains.get(caller)
        if c is None or not c.alive or c.shut_down:
            raise XenESRCH(f"calling domain {caller} does not exist or does not run")
        return c

    def remote(self, caller: int, domid: int) -> tuple[Domain, Domain]:
        """``rcu_lock_remote_domain_by_id``: the caller itself is ``-EPERM``.

        ``DOMID_SELF`` is not resolved here (``-ESRCH``), and a domain that is
        shut down — crashed included — is still found: only destruction
        (``domain_kill``) makes it go away.
        """
        c = self.caller(caller)
        if domid == caller:
            raise XenEPERM(f"domain {caller} may not target itself")
        d = self.domains.get(domid)
        if d is None or not d.alive:
            raise XenESRCH(f"no domain {domid}")
        return c, d

    def dm_target(self, caller: int, domid: int) -> tuple[Domain, Domain]:
        """``rcu_lock_remote_domain_by_id`` + HVM check + ``XSM_DM_PRIV``."""
        c, d = self.remote(caller, domid)
        if not d.hvm:
            raise XenEINVAL(f"domain {domid} is not an HVM guest")
        self.dm_priv(c, d)
        return c, d

    @staticmethod
    def dm_priv(c: Domain, d: Domain) -> None:
        """``XSM_DM_PRIV``: dom0, or the target's device-model domain."""
        if not (c.privileged or c.domid == d.dm_domid):
            raise XenEPERM(f"domain {c.domid} is not a device model of domain {d.domid}")

    def any(self, caller: int, domid: int) -> tuple[Domain, Domain]:
        """``rcu_lock_domain_by_any_id``: DOMID_SELF and oneself are allowed."""
        c = self.caller(caller)
        d = c if domid in (caller, DOMID_SELF) else self.domains.get(domid)
        if d is None or not d.alive:
            raise XenESRCH(f"no domain {domid}")
        return c, d
