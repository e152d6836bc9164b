"""Interdomain event channels between an ioreq server and its emulator.

Xen allocates each ioreq server's ports in the guest as *unbound* channels
whose remote end may be bound only by the emulating domain
(``alloc_unbound_xen_event_channel(d, vcpu, s->emulator->domain_id)``,
``common/ioreq.c``).  The emulator binds them with
``EVTCHNOP_bind_interdomain`` (``common/event_channel.c:evtchn_bind_interdomain``):
the remote domain must exist (``-ESRCH``), the remote port must be a valid
port (``-EINVAL``), unbound, and offered to the caller (``-EINVAL``
otherwise).  The caller gets a fresh local port.  ``EVTCHNOP_send`` on the
local port signals the remote end; ``EVTCHNOP_close`` returns the remote end
to unbound, offered to the same domain, so it can be bound again.

This module keeps the bindings only.  Which guest ports exist, and what a
signal on them means (a vCPU's ioreq completion), is the host's business.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ioreqlab.abi.constants import DOMID_SELF
from ioreqlab.errors import XenEINVAL, XenESRCH
from ioreqlab.hv.domain import Domain
from ioreqlab.hv.server import IoreqServer

__all__ = ["Binding", "EventChannels", "bind_interdomain", "port_owner", "send_target"]


def port_owner(d: Domain, port: int) -> tuple[IoreqServer, int] | None:
    """The server owning guest port ``port``, and the vCPU a signal on it wakes.

    That is the port's ``notify_vcpu_id``: each vCPU's own port names the
    vCPU, and the buffered port was allocated on vCPU 0
    (``alloc_unbound_xen_event_channel(d, 0, ...)``, ``common/ioreq.c``, 4.17).
    """
    for s in d.all_servers():
        if port in s.vcpu_ports:
            return s, s.vcpu_ports.index(port)
        if s.has_bufioreq and port == s.bufioreq_port:
            return s, 0
    return None


@dataclass(frozen=True, slots=True)
class Binding:
    """One bound interdomain channel: the emulator's local port and the guest's port."""

    local_domid: int
    local_port: int
    remote_domid: int
    remote_port: int
    #: Runs when the guest side (Xen) signals the channel.
    notify: Callable[[], None]


class EventChannels:
    """Every interdomain binding of a host, both ways round."""

    def __init__(self) -> None:
        self._by_local: dict[tuple[int, int], Binding] = {}
        self._by_remote: dict[tuple[int, int], Binding] = {}
        #: Local ports whose guest end was freed: ECS_UNBOUND, a send on them is dropped.
        self._dangling: set[tuple[int, int]] = set()

    def bound(self, remote_domid: int, remote_port: int) -> Binding | None:
        """The binding of a guest port, if its emulator bound it."""
        return self._by_remote.get((remote_domid, remote_port))

    def bind(
        self, local_domid: int, remote_domid: int, remote_port: int, notify: Callable[[], None]
    ) -> Binding:
        """Bind ``remote_port`` (already checked to be offered to ``local_domid``).

        The local port is the caller's lowest free one (``get_free_port``,
        ``common/event_channel.c``, 4.7 and 4.17; port 0 is reserved): a
        closed port is free again, one whose guest end went away is still
        ``ECS_UNBOUND`` and is not.
        """
        if (remote_domid, remote_port) in self._by_remote:
            raise XenEINVAL(f"port {remote_port} of domain {remote_domid} is already bound")
        port = 1
        while (local_domid, port) in self._by_local or (local_domid, port) in self._dangling:
            port += 1
        b = Binding(local_domid, port, remote_domid, remote_port, notify)
        self._by_local[(local_domid, port)] = b
        self._by_remote[(remote_domid, remote_port)] = b
        return b

    def local(self, local_domid: int, local_port: int) -> Binding | None:
        """The binding of the caller's local port; None for one whose guest end is gone.

        ``-EINVAL`` for a port the caller does not have.
        """
        b = self._by_local.get((local_domid, local_port))
        if b is None and (local_domid, local_port) not in self._dangling:
            raise XenEINVAL(f"domain {local_domid} has no port {local_port}")
        return b

    def close(self, local_domid: int, local_port: int) -> Binding | None:
        """``EVTCHNOP_close`` of the local port; the guest's port is unbound again."""
        b = self.local(local_domid, local_port)
        self._dangling.discard((local_domid, local_port))
        if b is not None:
            del self._by_local[(local_domid, local_port)]
            del self._by_remote[(b.remote_domid, b.remote_port)]
        return b

    def drop_remote(self, remote_domid: int, remote_ports: list[int]) -> None:
        """The guest's ports were freed (server destroyed): the local ends stay, unbound."""
        for port in remote_ports:
            b = self._by_remote.pop((remote_domid, port), None)
            if b is not None:
                del self._by_local[(b.local_domid, b.local_port)]
                self._dangling.add((b.local_domid, b.local_port))

    def forget_domain(self, domid: int) -> None:
        """A domain went away: its ports go; its peers' ends stay, unbound."""
        for b in [b for b in self._by_local.values() if domid in (b.local_domid, b.remote_domid)]:
            del self._by_local[(b.local_domid, b.local_port)]
            del self._by_remote[(b.remote_domid, b.remote_port)]
            if b.local_domid != domid:
                self._dangling.add((b.local_domid, b.local_port))
        self._dangling = {k for k in self._dangling if k[0] != domid}


def bind_interdomain(
    channels: EventChannels,
    domains: Mapping[int, Domain],
    caller: int,
    remote_domid: int,
    remote_port: int,
    notify: Callable[[], None],
) -> int:
    """``evtchn_bind_interdomain`` (``common/event_channel.c``, 4.17) for an ioreq port.

    The remote domain must exist (``-ESRCH``, DOMID_SELF naming the caller);
    the port must be one Xen allocated for an ioreq server of that domain,
    offered to ``caller`` (the server's emulator) and not bound yet
    (``-EINVAL``).  Xen then sets the new local port pending, "we may have
    lost notifications": ``notify`` runs once at once.
    """
    d = domains.get(caller if remote_domid == DOMID_SELF else remote_domid)
    if d is None or not d.alive:
        raise XenESRCH(f"domain {remote_domid} does not exist")
    owner = port_owner(d, remote_port)
    if owner is None or owner[0].emulator != caller:
        raise XenEINVAL(f"port {remote_port} of domain {d.domid} is not offered to {caller}")
    local = channels.bind(caller, d.domid, remote_port, notify).local_port
    notify()
    return local


def send_target(
    channels: EventChannels, domains: Mapping[int, Domain], caller: int, local_port: int
) -> tuple[Domain, int] | None:
    """Whose vCPU a send on ``local_port`` wakes: (domain, vcpu), or None.

    ``evtchn_send`` to a Xen-consumed port runs ``default_xen_notification_fn``
    on the port's ``notify_vcpu_id`` (``common/event_channel.c``, 4.17): a
    vCPU's port wakes that vCPU, the buffered port wakes vCPU 0.  None for a
    port whose guest end is gone (the signal is dropped); ``-EINVAL`` for a
    port the caller has not.
    """
    b = channels.local(caller, local_port)
    if b is None:
        return None
    d = domains[b.remote_domid]
    owner = port_owner(d, b.remote_port)
    assert owner is not None, "a bound guest port belongs to a live server"
    return d, owner[1]
