"""The host's Python methods take their arguments as Xen's C prototypes do.

In C a ``domid_t`` is 16 bits, a ``xen_pfn_t`` 64, an ``ioservid_t`` 16:
a float, a string, ``-1`` or ``2**64`` cannot reach Xen at all.  The model's
methods are called from Python, where they can; each such argument is
refused here, once, with ``-EINVAL`` and before any effect, instead of
raising ``TypeError`` deep inside or, worse, being stored (issue 15 #12: a
``set_param(..., -1)`` made every later server creation fail).

:data:`PROTOTYPES` is the table: for each public :class:`~ioreqlab.host.Host`
method, the C type of each integer argument (``hypercall.h``, ``dm_op.h``,
``hvm_op.h`` and ``memory.h`` of Xen 4.17; the model's own vCPU and sizes
as ``unsigned int``).  :func:`check_prototypes` wraps the methods of a class
with it.  Booleans accept any integer (C's ``bool`` conversion).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from ioreqlab.errors import XenEINVAL

__all__ = ["PROTOTYPES", "CType", "check_prototypes"]

CType = tuple[str, int, int]

U8: CType = ("uint8_t", 0, (1 << 8) - 1)
U16: CType = ("uint16_t", 0, (1 << 16) - 1)
U32: CType = ("uint32_t", 0, (1 << 32) - 1)
U64: CType = ("uint64_t", 0, (1 << 64) - 1)
S64: CType = ("int64_t", -(1 << 63), (1 << 63) - 1)
BOOL: CType = ("bool", 0, 1)  # any integer converts (C's bool): only the type is checked
#: A guest handle to an array of frame numbers: a sequence, each a uint64_t.
PFNS: CType = ("xen_pfn_t[]", 0, (1 << 64) - 1)

_DM = {"caller": U16, "domid": U16}
_SRV = {**_DM, "sid": U16}

#: Host method -> {argument: C type}.  Arguments not named are not integers
#: (buffers, callbacks, names) or are checked by the method itself.
PROTOTYPES: dict[str, dict[str, CType]] = {
    "create_domain": {"dm_domid": U16, "ioreq_server_pages": U32, "preallocate_bytes": U64},
    "destroy_domain": {"domid": U16},
    "create_ioreq_server": {**_DM, "bufioreq": U8},
    "get_ioreq_server_info": {**_SRV, "gfns": BOOL},
    "acquire_ioreq_server_frames": {**_SRV, "frame": U64, "nr_frames": U32},
    "ioreq_server_max_frames": {"domid": U16},
    "map_io_range": {**_SRV, "rtype": U32, "start": U64, "end": U64},
    "unmap_io_range": {**_SRV, "rtype": U32, "start": U64, "end": U64},
    "set_ioreq_server_state": {**_SRV, "enabled": BOOL},
    "destroy_ioreq_server": {**_SRV},
    "set_mem_type": {**_DM, "mem": U16, "first_pfn": U64, "nr": U32},
    "get_mem_type": {**_DM, "pfn": U64},
    "map_mem_type_to_ioreq_server": {**_SRV, "mem": U16, "flags": U32, "opaque": U64},
    "set_log_dirty": {"domid": U16, "enable": BOOL},
    "clean_dirty_bitmap": {"domid": U16},
    "set_param": {**_DM, "index": U32, "value": U64},
    "get_param": {**_DM, "index": U32},
    "bind_ioreq_notifier": {**_SRV},
    "bind_default_notifier": {**_DM},
    "ioreq_completed": {**_SRV, "vcpu": U32},
    "evtchn_bind_interdomain": {"caller": U16, "remote_domid": U16, "remote_port": U32},
    "evtchn_send": {"caller": U16, "local_port": U32},
    "evtchn_close": {"caller": U16, "local_port": U32},
    "foreign_page": {**_DM, "gfn": U64},
    "populate_physmap": {**_DM, "gfns": PFNS, "order": U32},
    "guest_access": {
        "domid": U16,
        "vcpu": U32,
        "addr": U64,
        "size": U32,
        "write": BOOL,
        "data": U64,
        "count": U32,
        "df": BOOL,
        "data_is_ptr": BOOL,
    },
    "broadcast_timeoffset": {"domid": U16, "offset": S64},
    "resume_vcpu": {"domid": U16, "vcpu": U32},
    "domain_heap": {"domid": U16},
}

C = TypeVar("C", bound=type)


def _check(method: str, name: str, value: object, ctype: CType) -> None:
    cname, lo, hi = ctype
    if cname.endswith("[]"):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise XenEINVAL(f"{method}: {name}={value!r} is not an array ({cname})")
        for item in value:
            _check(method, f"{name}[]", item, (cname[:-2], lo, hi))
        return
    if not isinstance(value, int):
        raise XenEINVAL(f"{method}: {name}={value!r} is not an integer ({cname})")
    if cname != "bool" and not lo <= value <= hi:
        raise XenEINVAL(f"{method}: {name}={value} is outside {cname}")


def _wrap(fn: Callable[..., Any], types: dict[str, CType]) -> Callable[..., Any]:
    """``fn`` behind its argument checks, as a function with ``fn``'s own signature.

    The wrapper is generated (as :mod:`dataclasses` generates ``__init__``): one
    inline test per typed argument, so a plain int in range costs two
    comparisons and no loop; anything else goes through :func:`_check`, which
    says what is wrong.  Python binds the arguments exactly as ``fn`` would.
    """
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[1:]  # after self
    unknown = set(types) - {p.name for p in params}
    if unknown:
        raise TypeError(f"{fn.__name__} has no argument {sorted(unknown)}")
    env: dict[str, object] = {"_fn": fn, "_check": _check, "_int": int, "_bool": bool}
    head, call, body = ["self"], ["self"], []
    star = False
    for p in params:
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            raise TypeError(f"{fn.__name__}: argument {p.name} is neither positional nor keyword")
        if p.kind == p.KEYWORD_ONLY and not star:
            head.append("*")
            star = True
        if p.default is p.empty:
            head.append(p.name)
        else:
            env[f"_d_{p.name}"] = p.default
            head.append(f"{p.name}=_d_{p.name}")
        call.append(f"{p.name}={p.name}" if star else p.name)
        if p.name not in types:
            continue
        ctype = types[p.name]
        env[f"_t_{p.name}"] = ctype
        slow = f"_check({fn.__name__!r}, {p.name!r}, {p.name}, _t_{p.name})"
        if ctype[0].endswith("[]"):
            body.append(f"    {slow}")
            continue
        cls = f"{p.name}.__class__"
        fast = f"({cls} is _int or {cls} is _bool) and {ctype[1]} <= {p.name} <= {ctype[2]}"
        body.append(f"    if not ({fast}):\n        {slow}")
    src = (
        f"def checked({', '.join(head)}):\n"
        + "".join(line + "\n" for line in body)
        + f"    return _fn({', '.join(call)})\n"
    )
    exec(compile(src, f"<checked {fn.__qualname__}>", "exec"), env)  # the source built above
    return functools.wraps(fn)(env["checked"])  # type: ignore[arg-type]


def check_prototypes(cls: C) -> C:
    """Wrap each method :data:`PROTOTYPES` names with its argument checks."""
    for method, types in PROTOTYPES.items():
        fn = getattr(cls, method, None)
        if fn is None:
            raise TypeError(f"{cls.__name__} has no method {method}")
        setattr(cls, method, _wrap(fn, types))
    return cls
