"""ioreqlab: an executable, Xen-faithful model of Xen's ioreq-server machinery.

See README.md for what it is and is not.  The public modules are
:mod:`ioreqlab.errors`, :mod:`ioreqlab.abi`, :mod:`ioreqlab.rangeset`,
:mod:`ioreqlab.profiles`, :mod:`ioreqlab.devicemodel` and
:mod:`ioreqlab.toolstack`; the hypervisor itself is :class:`ioreqlab.Host`
(SPEC.md's public contract), loaded on first use so that the light modules
stay light.

>>> from ioreqlab import Host
>>> Host(xen="4.17").xen.max_servers
8
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ioreqlab.host import Host

__version__ = "0.1.0"

__all__ = ["Host", "__version__"]


def __getattr__(name: str) -> Any:
    """``ioreqlab.Host`` on first use (PEP 562)."""
    if name == "Host":
        from ioreqlab.host import Host  # noqa: PLC0415  (lazy: the facade's one heavy name)

        return Host
    raise AttributeError(f"module 'ioreqlab' has no attribute {name!r}")
