"""ioreqlab: an executable, Xen-faithful model of Xen's ioreq-server machinery.

See README.md for what it is and is not.  The public modules are
:mod:`ioreqlab.errors`, :mod:`ioreqlab.abi` and :mod:`ioreqlab.rangeset`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
