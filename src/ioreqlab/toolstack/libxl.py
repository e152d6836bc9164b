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

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ioreqlab.abi.constants import PAGE_SHIFT, UINT32_MAX, HvmParam
from ioreqlab.devicemodel import DeviceModel
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.toolstack.xl_parse import XlBuilt, parse_config_data
from ioreqlab.toolstack.xlcfg import XlConfig

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


class LibxlError(Exception):
    """A libxl failure: ``code`` (``ERROR_*``), and for bounds, ``option`` and ``bound``.

    xl's own refusals, before libxl is asked, are :class:`~ioreqlab.toolstack.xl_parse.XlError`.
    """

    def __init__(
        self, code: int, message: str, *, option: str | None = None, bound: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.option = option
        self.bound = bound


@dataclass(frozen=True, slots=True)
class Field:
    """One config field: where xl.cfg spells it, its kind, width and default."""

    name: str
    key: str | None
    kind: str  # "string" "uint" "bool" "enum" "list" "strings" (one or a list)
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
    #: The config as xl built it (``libxl_idl``'s tree), before libxl's defaults.
    idl: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def hvm(self) -> bool:
        """Whether the guest is HVM."""
        return self.type == "hvm"

    @property
    def nr_pages(self) -> int:
        """Guest RAM in 4 KiB pages (from ``max_memkb``)."""
        return self.max_memkb >> (PAGE_SHIFT - 10)

    def as_dict(self) -> dict[str, object]:
        """Every SCHEMA field by its name."""
        return {f.name: getattr(self, f.name) for f in SCHEMA}

    def to_json(self) -> dict[str, Any]:
        """The config after the model's ``setdefault``, as a ``libxl_idl`` tree.

        xl's tree with every field the model resolves filled in (memory, vCPUs,
        HAP, the HVM flags, VGA, video RAM, timer mode, the seed's limit); the
        rest of libxl's defaults are not modelled and stay as xl left them.
        """
        tree = copy.deepcopy(self.idl)
        c, b = tree.setdefault("c_info", {}), tree.setdefault("b_info", {})
        b.update(
            max_vcpus=self.max_vcpus, avail_vcpus=range(self.avail_vcpus),
            max_memkb=self.max_memkb, target_memkb=self.target_memkb,
        )  # fmt: skip
        if not self.hvm:
            return tree
        c["hap"] = bool(self.hap)
        b.update(
            video_memkb=(self.videoram or 0) * 1024,
            device_model_version=str(self.device_model_version).replace("-", "_"),
            timer_mode=next(k for k, n in TIMER_MODES.items() if n == self.timer_mode),
            nested_hvm=bool(self.nested_hvm),
        )  # fmt: skip
        u = b.setdefault("u", {})
        u.update(
            hpet=bool(self.hpet), vpt_align=bool(self.vpt_align), viridian=bool(self.viridian),
            altp2m=bool(self.altp2m), max_wp_ram_ranges=self.max_wp_ram_ranges,
            vga={"kind": next(k for k, n in _VGA_NAMES.items() if n == self.vga)},
        )  # fmt: skip
        if self.vgt:
            u.update(
                vgt=True, vgt_low_gm_sz=self.vgt_low_gm_sz, vgt_high_gm_sz=self.vgt_high_gm_sz,
                vgt_fence_sz=self.vgt_fence_sz,
            )  # fmt: skip
        return tree


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
_VGA_NAMES = {"std": "stdvga", "cirrus": "cirrus", "none": "none", "qxl": "qxl"}


def _raw(built: XlBuilt) -> dict[str, Any]:
    """The SCHEMA fields as xl built them (None where xl.cfg left them out)."""
    d = built.config
    c, b = d["c_info"], d["b_info"]
    u = b.get("u", {})
    n = built.numbers
    serial = u.get("serial_list")
    if serial is not None:
        serial = serial[: serial.index(None)] if None in serial else serial
    elif "serial" in u:
        serial = [u["serial"]]
    dmv = b.get("device_model_version")
    altp2m = u.get("altp2m")
    if altp2m is None and b.get("altp2m") is not None:
        altp2m = b["altp2m"] != "disabled"
    return {
        "name": c["name"], "type": c["type"], "max_memkb": n.get("maxmem"),
        "target_memkb": n.get("memory"), "avail_vcpus": n.get("vcpus"),
        "max_vcpus": n.get("maxvcpus"), "hap": c.get("hap"),
        "device_model_version": None if dmv is None else dmv.replace("_", "-"),
        "vga": _VGA_NAMES[u["vga"]["kind"]] if "vga" in u else None,
        "videoram": n.get("videoram"),
        "timer_mode": TIMER_MODES[b["timer_mode"]] if "timer_mode" in b else None,
        "hpet": u.get("hpet"), "viridian": u.get("viridian"),
        "nested_hvm": b.get("nested_hvm"), "altp2m": altp2m, "vpt_align": u.get("vpt_align"),
        "max_wp_ram_ranges": n.get("max_wp_ram_ranges"), "vgt": u.get("vgt"),
        "vgt_low_gm_sz": n.get("vgt_low_gm_sz"), "vgt_high_gm_sz": n.get("vgt_high_gm_sz"),
        "vgt_fence_sz": n.get("vgt_fence_sz"), "disks": built.specs.get("disk"),
        "nics": built.specs.get("vif"), "serial": serial,
    }  # fmt: skip


def _check_width(f: Field, value: int) -> int:
    """``value`` if it fits ``f``'s unsigned width, else ``ERROR_INVAL`` naming the top."""
    top = (1 << f.bits) - 1
    if not 0 <= value <= top:
        raise LibxlError(
            ERROR_INVAL,
            f"{f.key}={value} does not fit its {f.bits}-bit unsigned field",
            option=f.key,
            bound=top,
        )
    return value


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


def build_config(cfg: XlConfig, *, gpu: str = "bdw", uuid: bytes = bytes(16)) -> DomainConfig:
    """xl.cfg → xl's ``parse_config_data`` → a validated libxl domain config.

    xl's refusals raise :class:`XlError` (its words already in ``cfg.warnings``);
    libxl's (``setdefault`` and the model's checks) :class:`LibxlError`.
    """
    built = parse_config_data(cfg, uuid=uuid)
    raw = _raw(built)
    v: dict[str, Any] = {}
    for f in SCHEMA:
        value = raw[f.name]
        if value is None:
            value = f.default
        elif f.name in ("target_memkb", "max_memkb"):
            pass  # xl stores l * 1024 into a uint64_t: it wraps (below), never refused
        elif f.kind == "uint":
            value = _check_width(f, value)
        v[f.name] = tuple(value) if f.kind in ("list", "strings") else value
    v["target_memkb"], v["max_memkb"] = _memory(raw["target_memkb"], raw["max_memkb"])
    if not v["max_vcpus"]:  # xl made it vcpus, and refused maxvcpus < vcpus
        v["max_vcpus"] = v["avail_vcpus"]
    if v["type"] != "hvm":
        for f in SCHEMA:
            keys = ("vga", "stdvga") if f.name == "vga" else (f.key,)
            if f.hvm_only and any(k is not None and k in cfg for k in keys):
                raise LibxlError(ERROR_INVAL, f"{f.key} is only valid for HVM guests", option=f.key)
            if f.hvm_only:
                v[f.name] = None
        return DomainConfig(**v, idl=built.config)
    if v["videoram"] is None:
        v["videoram"] = 16 if v["vga"] == "stdvga" else 8
    if v["nested_hvm"] and v["altp2m"]:
        raise LibxlError(ERROR_INVAL, "nestedhvm and altp2mhvm cannot be used together")
    if v["vgt"] and raw["max_wp_ram_ranges"] is None:
        if gpu not in GPU_WP_RANGES:
            raise LibxlError(ERROR_INVAL, f"unknown GPU generation {gpu!r}")
        v["max_wp_ram_ranges"] = GPU_WP_RANGES[gpu]
    config = DomainConfig(**v, idl=built.config)
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
    """The model's own words for a refusal: the error's message (OSError keeps it as
    ``filename``), or the errno's text when it has none."""
    return str(err.filename) if err.filename else str(err)


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
