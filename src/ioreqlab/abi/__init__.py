"""Xen's ABI as Python values: numbers, enums, and byte-exact struct codecs.

Layer 0 (vocabulary): nothing here depends on any other ioreqlab module but
:mod:`ioreqlab.errors`.  Headers cited per item; xen-facts §2.2, §3–§5.
"""

from ioreqlab.abi.constants import *  # noqa: F403  (the submodules curate __all__)
from ioreqlab.abi.constants import __all__ as _constants_all
from ioreqlab.abi.ioreq import *  # noqa: F403
from ioreqlab.abi.ioreq import __all__ as _ioreq_all
from ioreqlab.abi.structs import *  # noqa: F403
from ioreqlab.abi.structs import __all__ as _structs_all

__all__ = [*_constants_all, *_ioreq_all, *_structs_all]  # noqa: PLE0604  (lists of str)
