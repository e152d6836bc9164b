"""libxl, as far as building an HVM guest for ioreq-server work needs it.

Rules
-----
1. The domain config is declared once, in :data:`SCHEMA`, in the spirit of
   ``libxl_types.idl``: every field with its kind, integer width and default.
   Values from xl.cfg are checked against their width (``uint64`` rejects
   ``-1``; ``uint32`` rejects ``2**32``) — never silently truncated.
2. ``setdefault`` fills what the user left out as libxl does (memory: 32 MiB
   when neither ``memory`` nor ``maxmem`` is given; ``maxmem`` defaults to
   ``memory`` and vice versa).
3. Validation lives here, not in xl (Wei Liu, 2016-02-01: "This check should
   be inside libxl so that all applications [...] have the same behaviour"):
   ``max_wp_ram_ranges`` is HVM only and may not exceed ``nr_pages / 2`` nor
   ``UINT32_MAX`` — both bounds in one function, :func:`max_wp_ram_ranges_bound`
   (Ian Jackson, 2016-02-01: not "two limits to update").  A breach is a
   :class:`LibxlError` naming the option and the bound.
4. With a vGPU (``vgt=1``) and no ``max_wp_ram_ranges``, the limit comes from
   the mediator's GPU generation (:data:`GPU_WP_RANGES`): the thread's "no
   knob in normal operation" (Ian Jackson and Paul Durrant, 2016-02-04).
5. ``domain_create`` creates the domain and sets its HVM params through the
   hypercall path; every failure is logged and reported (libxl 4.7 ignored
   them) and the half-built domain is destroyed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ioreqlab.abi.constants import PAGE_SHIFT, UINT32_MAX, HvmParam
from ioreqlab.devicemodel import DeviceModel
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.toolstack.xlcfg import Atom, XlConfig

__all__ = [
    "ERROR_FAIL",
    "ERROR_INVAL",
    "GPU_WP_RANGES",
    "SCHEMA",
    "DomainConfig",
    "Field",
    "LibxlError",
    "build_config",
    "domain_create",
    "max_wp_ram_ranges_bound",
]

ERROR_FAIL = -3
ERROR_INVAL = -6

#: ``max_wp_ram_ranges`` for a vGPU guest, by the mediator's GPU generation.
#: Broadwell's 8192 is the value the seed patch suggests; Haswell's 2-level
#: PPGTT needs fewer table pages; Skylake keeps Broadwell's 4-level layout.
GPU_WP_RANGES = {"hsw": 4096, "bdw": 8192, "skl": 8192}

#: Guests per GPU that XenGT supports, dom0 included (Paul Durrant, 2016-02-03).
GPU_MAX_VMS = {"hsw": 4, "bdw": 7, "skl": 7}


class LibxlError(Exception):
    """A libxl failure: ``code`` (``ERROR_*``), and for bounds, ``option`` and ``bound``.

    ``by_xl`` marks a refusal of xl's own ``parse_config_data`` (xl_parse.c),
    which prints its message as it is and exits 1, before libxl is asked.
    """

    def __init__(
        self,
        code: int,
        message: str,
        *,
        option: str | None = None,
        bound: int | None = None,
        by_xl: bool = False,
        exit_code: int = 1,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.option = option
        self.bound = bound
        self.by_xl = by_xl
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class Field:
    """One config field: where xl.cfg spells it, its kind, width and default."""

    name: str
    key: str | None
    kind: str  # "string" "uint" "int" "bool" "enum" "list" "strings" (one or a list)
    default: object = None
    bits: int = 0
    choices: tuple[str, ...] = ()
    hvm_only: bool = False
    doc: str = ""


#: The schema: ``libxl_domain_build_info`` and friends, reduced to what ioreqlab models.
SCHEMA: tuple[Field, ...] = (
    Field("name", "name", "string", doc="domain name (required)"),
    Field("type", "type", "enum", "pv", choices=("hvm", "pv", "pvh")),
    Field("max_memkb", "maxmem", "uint", None, 64, doc="MiB in xl.cfg, KiB here"),
    Field("target_memkb", "memory", "uint", None, 64, doc="MiB in xl.cfg, KiB here"),
    Field("avail_vcpus", "vcpus", "uint", 1, 32),
    Field("max_vcpus", "maxvcpus", "uint", None, 32),
    Field("hap", "hap", "bool", True, hvm_only=True),
    Field(
        "device_model_version",
        "device_model_version",
        "enum",
        "qemu-xen",
        choices=("qemu-xen", "qemu-xen-traditional"),
        hvm_only=True,
    ),
    Field(
        "vga", "vga", "enum", "cirrus", choices=("cirrus", "stdvga", "none", "qxl"), hvm_only=True
    ),
    Field("videoram", "videoram", "uint", None, 64, hvm_only=True, doc="MiB"),
    Field("timer_mode", "timer_mode", "uint", 1, 32, hvm_only=True),
    Field("hpet", "hpet", "bool", True, hvm_only=True),
    Field("viridian", "viridian", "bool", False, hvm_only=True),
    Field("nested_hvm", "nestedhvm", "bool", False, hvm_only=True),
    Field("altp2m", "altp2mhvm", "bool", False, hvm_only=True),
    Field("vpt_align", "vpt_align", "bool", True, hvm_only=True),
    Field("max_wp_ram_ranges", "max_wp_ram_ranges", "uint", 0, 64, hvm_only=True),
    Field("vgt", "vgt", "bool", False, hvm_only=True, doc="Intel GVT-g vGPU (XenGT)"),
    Field("vgt_low_gm_sz", "vgt_low_gm_sz", "uint", 64, 32, hvm_only=True, doc="MiB"),
    Field("vgt_high_gm_sz", "vgt_high_gm_sz", "uint", 448, 32, hvm_only=True, doc="MiB"),
    Field("vgt_fence_sz", "vgt_fence_sz", "uint", 4, 32, hvm_only=True),
    Field("disks", "disk", "list", ()),
    Field("nics", "vif", "list", ()),
    Field("serial", "serial", "strings", ()),
)
_BY_NAME = {f.name: f for f in SCHEMA}


@dataclass(frozen=True, slots=True)
class DomainConfig:
    """A resolved domain config (after setdefault and validation), one field per SCHEMA row.

    Typed from :data:`SCHEMA` as libxl's types come from ``libxl_types.idl``:
    ``uint``/``int`` rows are ``int``, ``bool`` rows ``bool``, ``string`` and
    ``enum`` rows ``str``, ``list``/``strings`` rows a tuple of strings.  HVM-only
    fields are None for a PV guest (``tests/test_libxl.py`` checks the two agree).
    """

    name: str
    type: str
    max_memkb: int
    target_memkb: int
    avail_vcpus: int
    max_vcpus: int
    hap: bool | None
    device_model_version: str | None
    vga: str | None
    videoram: int | None
    timer_mode: int | None
    hpet: bool | None
    viridian: bool | None
    nested_hvm: bool | None
    altp2m: bool | None
    vpt_align: bool | None
    max_wp_ram_ranges: int | None
    vgt: bool | None
    vgt_low_gm_sz: int | None
    vgt_high_gm_sz: int | None
    vgt_fence_sz: int | None
    disks: tuple[str, ...]
    nics: tuple[str, ...]
    serial: tuple[str, ...]

    @property
    def hvm(self) -> bool:
        """Whether the guest is HVM."""
        return self.type == "hvm"

    @property
    def nr_pages(self) -> int:
        """Guest RAM in 4 KiB pages (from ``max_memkb``)."""
        return self.max_memkb >> (PAGE_SHIFT - 10)

    def as_dict(self) -> dict[str, object]:
        """Every field by its SCHEMA name."""
        return {f.name: getattr(self, f.name) for f in SCHEMA}

    def to_json(self) -> dict[str, Any]:
        """libxl's JSON shape: ``c_info``, ``b_info`` (with ``type.hvm``), devices."""
        v = self.as_dict()
        b_info: dict[str, Any] = {
            k: v[k] for k in ("max_vcpus", "avail_vcpus", "max_memkb", "target_memkb")
        }
        if self.hvm:
            b_info["type.hvm"] = {
                f.name: v[f.name] for f in SCHEMA if f.hvm_only and not f.name.startswith("vgt")
            }
            if self.vgt:
                b_info["type.hvm"]["vgt"] = {
                    "low_gm_sz": self.vgt_low_gm_sz,
                    "high_gm_sz": self.vgt_high_gm_sz,
                    "fence_sz": self.vgt_fence_sz,
                }
        return {
            "c_info": {"type": self.type, "name": self.name},
            "b_info": b_info,
            "disks": list(self.disks),
            "nics": list(self.nics),
            "serial": list(self.serial),
        }


def max_wp_ram_ranges_bound(nr_pages: int) -> tuple[int, str]:
    """The largest ``max_wp_ram_ranges`` a guest of ``nr_pages`` may ask for, and why.

    Contiguous pages coalesce, so more than half the guest's pages can never
    be disjoint ranges; and the hypervisor's limit is 32 bits wide.

    >>> max_wp_ram_ranges_bound(262144)
    (131072, 'nr_pages/2')
    """
    half = nr_pages // 2
    if half <= UINT32_MAX:
        return half, "nr_pages/2"
    return UINT32_MAX, "UINT32_MAX"


#: ``libxl_timer_mode`` by name (libxl_types.idl).
TIMER_MODES = {
    "delay_for_missed_ticks": 0,
    "no_delay_for_missed_ticks": 1,
    "no_missed_ticks_pending": 2,
    "one_missed_tick_pending": 3,
}


def _timer_mode(cfg: XlConfig, hvm: bool) -> int | None:
    """xl's ``timer_mode`` (xl_parse.c, 4.17): a name, or a deprecated integer."""
    n = cfg.get_long("timer_mode", quiet=True)
    text = None if n is not None else cfg.get_string("timer_mode")
    if n is None and text is None:
        return None
    if not hvm:
        raise LibxlError(
            ERROR_INVAL,
            'ERROR: "timer_mode" option is not supported for PV guests.',
            option="timer_mode",
            by_xl=True,
            exit_code=3,
        )  # fmt: skip  (exit(-ERROR_FAIL))
    if n is not None:
        name = next((k for k, v in TIMER_MODES.items() if v == n), None)
        hint = f'e.g. timer_mode="{name}"' if name else ""
        cfg.warnings.append(
            'WARNING: specifying "timer_mode" as an integer is deprecated. '
            f"Please use the named parameter variant. {hint}"
        )
        if name is None:
            raise LibxlError(ERROR_INVAL, f'ERROR: invalid value {n} for "timer_mode"', by_xl=True)
        return n
    assert text is not None
    if text not in TIMER_MODES:
        raise LibxlError(ERROR_INVAL, f'ERROR: invalid value "{text}" for "timer_mode"', by_xl=True)
    return TIMER_MODES[text]


def _vga(cfg: XlConfig) -> str | None:
    """xl's ``vga`` (a name), else ``stdvga`` (a number: 0 cirrus, else std)."""
    name = cfg.get_string("vga")
    if name is not None:
        if name not in ("stdvga", "cirrus", "none", "qxl"):
            raise LibxlError(ERROR_INVAL, f'Unknown vga "{name}" specified', by_xl=True)
        return name
    std = cfg.get_long("stdvga")
    return None if std is None else ("stdvga" if std else "cirrus")


def _read(cfg: XlConfig, f: Field) -> Any:
    """One field from xl.cfg (None if absent or unreadable: xl warns and moves on)."""
    if f.name == "vga":
        return _vga(cfg)
    if f.key is None or f.key not in cfg:
        return None
    if f.kind in {"string", "enum"}:
        return cfg.get_string(f.key)
    if f.kind == "bool":
        return cfg.get_bool(f.key)
    if f.kind == "list":
        return cfg.get_string_list(f.key)
    if f.kind == "strings":  # one string or a list of them (xl's serial=)
        one = cfg.settings[f.key].value
        return [one.text] if isinstance(one, Atom) else cfg.get_string_list(f.key)
    return cfg.get_long(f.key)


def _check_width(f: Field, value: int) -> int:
    top = (1 << f.bits) - 1 if f.kind == "uint" else (1 << (f.bits - 1)) - 1
    low = 0 if f.kind == "uint" else -(1 << (f.bits - 1))
    if not low <= value <= top:
        raise LibxlError(
            ERROR_INVAL,
            f"{f.key}={value} does not fit its {f.bits}-bit {'un' if f.kind == 'uint' else ''}"
            f"signed field",
            option=f.key,
            bound=top,
        )
    return value


def _domain_type(text: str) -> str:
    """xl's ``type=``: matched as a prefix (``strncmp(buf, "hvm", strlen(buf))``),
    hvm first, then pv, then pvh — so "h" is hvm, "p" (and "") pv."""
    for name in ("hvm", "pv", "pvh"):
        if name.startswith(text):
            return name
    raise LibxlError(ERROR_INVAL, f"Invalid domain type {text}.", option="type", by_xl=True)


def _memory(mem: int | None, maxmem: int | None) -> tuple[int, int]:
    """Memory, as xl and libxl's build_info_setdefault do it: MiB in, KiB stored,
    ``l * 1024`` into a ``uint64_t`` (so ``memory = "-1"`` wraps, as in xl)."""
    if mem is None and maxmem is None:
        mem = maxmem = 32
    elif maxmem is None:
        maxmem = mem
    elif mem is None:
        mem = maxmem
    assert mem is not None
    assert maxmem is not None
    wrap = (1 << 64) - 1
    return (mem * 1024) & wrap, (maxmem * 1024) & wrap


def build_config(cfg: XlConfig, *, gpu: str = "bdw") -> DomainConfig:
    """xl.cfg → a validated libxl domain config (``setdefault`` + checks)."""
    raw = {f.name: _read(cfg, f) for f in SCHEMA if f.name != "timer_mode"}
    if raw["type"] is not None:
        raw["type"] = _domain_type(raw["type"])
    raw["timer_mode"] = _timer_mode(cfg, raw["type"] == "hvm")
    builder = cfg.get_string("builder")  # deprecated since 4.10; 4.7's only way to HVM
    if raw["type"] is None and builder is not None and "hvm".startswith(builder):
        raw["type"] = "hvm"  # matched by prefix, as xl does (strncmp with strlen(buf))
    v: dict[str, Any] = {}
    for f in SCHEMA:
        value = raw[f.name]
        if value is None:
            value = f.default
        elif f.kind == "enum" and value not in f.choices:
            raise LibxlError(
                ERROR_INVAL,
                f"invalid {f.key} {value!r}: expected one of {', '.join(f.choices)}",
                option=f.key,
            )
        elif f.name in ("target_memkb", "max_memkb"):
            pass  # xl stores l * 1024 into a uint64_t: it wraps (below), never refused
        elif f.kind in ("uint", "int"):
            value = _check_width(f, value)
        v[f.name] = tuple(value) if f.kind in ("list", "strings") else value
    v["target_memkb"], v["max_memkb"] = _memory(raw["target_memkb"], raw["max_memkb"])
    if v["max_vcpus"] is None:
        v["max_vcpus"] = v["avail_vcpus"]
    if v["max_vcpus"] < v["avail_vcpus"]:  # xl_parse.c, 4.17
        raise LibxlError(ERROR_INVAL, "xl: maxvcpus < vcpus", option="maxvcpus", by_xl=True)
    if v["type"] != "hvm":
        for f in SCHEMA:
            if f.hvm_only and raw[f.name] is not None:
                raise LibxlError(ERROR_INVAL, f"{f.key} is only valid for HVM guests", option=f.key)
            if f.hvm_only:
                v[f.name] = None
        if v["type"] == "pv" and not (cfg.get_string("kernel") or cfg.get_string("bootloader")):
            raise LibxlError(ERROR_INVAL, "Neither kernel nor bootloader specified", by_xl=True)
        return DomainConfig(**v)
    if v["videoram"] is None:
        v["videoram"] = 16 if v["vga"] == "stdvga" else 8
    if v["nested_hvm"] and v["altp2m"]:
        raise LibxlError(ERROR_INVAL, "nestedhvm and altp2mhvm cannot be used together")
    if v["vgt"] and raw["max_wp_ram_ranges"] is None:
        if gpu not in GPU_WP_RANGES:
            raise LibxlError(ERROR_INVAL, f"unknown GPU generation {gpu!r}")
        v["max_wp_ram_ranges"] = GPU_WP_RANGES[gpu]
    config = DomainConfig(**v)
    bound, why = max_wp_ram_ranges_bound(config.nr_pages)
    if v["max_wp_ram_ranges"] > bound:
        raise LibxlError(
            ERROR_INVAL,
            f"max_wp_ram_ranges={v['max_wp_ram_ranges']} exceeds {why} ({bound}) "
            f"for a guest of {config.nr_pages} pages",
            option="max_wp_ram_ranges",
            bound=bound,
        )
    return config


#: What libxl sets each HVM param to; which it sets, in which order, is the
#: host's profile's (``libxl_hvm_params``).
_HVM_PARAMS: dict[int, Callable[[DomainConfig], int]] = {
    HvmParam.PAE_ENABLED: lambda c: 1,
    HvmParam.HPET_ENABLED: lambda c: int(bool(c.hpet)),
    HvmParam.TIMER_MODE: lambda c: int(c.timer_mode or 0),
    HvmParam.VPT_ALIGN: lambda c: int(bool(c.vpt_align)),
    HvmParam.NESTEDHVM: lambda c: int(bool(c.nested_hvm)),
    HvmParam.ALTP2M: lambda c: int(bool(c.altp2m)),
}


def _reason(err: XenError) -> str:
    """The model's own words for a refusal (what follows the errno's text)."""
    text = str(err)
    return text.split(": ", 1)[1] if text.startswith("[Errno") and ": " in text else text


def domain_create(
    host: Host,
    config: DomainConfig,
    *,
    log: list[str] | None = None,
    preallocate_bytes: int = 0,
) -> int:
    """Create the domain on ``host`` and set its HVM params; return its id.

    Every hypercall failure is logged (``libxl: error: ...``) and raised as a
    :class:`LibxlError`; the half-built domain is destroyed first.
    """
    lines = log if log is not None else []
    try:
        domid = host.create_domain(
            memory_mib=config.max_memkb // 1024,
            vcpus=config.max_vcpus,
            hvm=config.hvm,
            hap=bool(config.hap) if config.hvm else True,
            name=config.name,
            preallocate_bytes=preallocate_bytes,
        )
    except XenError as err:
        lines.append(
            f"libxl: error: libxl_create.c:libxl__domain_make: "
            f"domain creation fail: {os.strerror(err.errno or 0)}"
        )
        lines.append(f"ioreqlab: why: {_reason(err)}")  # the model knows what Xen refused
        raise LibxlError(ERROR_FAIL, f"domain creation failed: {err}") from err
    if not config.hvm:
        return domid
    dm = DeviceModel(host, 0)
    params = [(HvmParam(i).name, i, _HVM_PARAMS[i]) for i in host.xen.libxl_hvm_params]
    if config.viridian:
        params.append(("VIRIDIAN", HvmParam.VIRIDIAN, lambda c: 1))
    if config.max_wp_ram_ranges:
        wp = host.xen.params.max_wp_ram_ranges  # where the seed's param sits in this Xen
        params.append(("MAX_WP_RAM_RANGES", wp, lambda c: int(c.max_wp_ram_ranges or 0)))
    for name, param, value_of in params:
        value = value_of(config)
        try:
            dm.set_param(domid, param, value)
        except XenError as err:
            lines.append(
                f"libxl: error: libxl_dom.c:hvm_set_conf_params: setting "
                f"HVM_PARAM_{name}={value} failed: {os.strerror(err.errno or 0)}"
            )
            try:  # the ABI carries only the errno: ask the host itself (it refuses again)
                host.set_param(0, domid, param, value)
            except XenError as why:
                err = why
            lines.append(f"ioreqlab: why: {_reason(err)}")
            host.destroy_domain(domid)
            raise LibxlError(
                ERROR_FAIL,
                f"setting HVM_PARAM_{name}={value} failed: {err}",
                option=name.lower(),
            ) from err
    return domid
