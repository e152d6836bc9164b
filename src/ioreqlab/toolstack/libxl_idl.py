"""libxl's domain config as ``libxl_types.idl`` declares it, and its JSON as libxl prints it.

Rules
-----
1. :data:`DOMAIN_CONFIG` is ``libxl_domain_config`` of Xen 4.17
   (``tools/libs/light/libxl_types.idl``, RELEASE-4.17.0): every struct a dry
   run prints, its fields in IDL order with their kind and ``init_val``.
   Scalar fields nothing in ioreqlab's xl can set are left out of the long
   structs (they are never printed: a field at its init value is skipped);
   every aggregate field is kept, because libxl prints aggregates always.
2. A value is a plain tree: a struct is a ``dict`` holding only the fields
   somebody set (absent = the IDL's init value), a keyed union a ``dict``
   with its member's name under ``"type"``, an array a ``list``.
3. :func:`to_json` is ``libxl_domain_config_to_json``: the generator
   ``gentypes.py`` writes (a field is printed unless it equals its init value
   or its builtin's ``check_default_fn`` says default; aggregates always;
   arrays when non-empty), through yajl 2's beautifier (four-space indent, an
   empty map as ``{`` blank line ``}``, a final newline) and yajl's string
   escapes (``"``, ``\\``, ``\\b\\f\\n\\r\\t``, other control bytes as
   ``\\u00XX``; ``/`` and bytes >= 0x7f as they are).
4. The seed patch's ``u.hvm.max_wp_ram_ranges`` (uint64, after
   ``rdm_mem_boundary_memkb``, as the v3 patch puts it) and XenGT's vGPU sizes
   are the model's additions to the IDL, marked :data:`MODEL_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DOMAIN_CONFIG",
    "MEMKB_DEFAULT",
    "MODEL_FIELDS",
    "Array",
    "Enum",
    "Scalar",
    "Struct",
    "Union",
    "to_json",
]

#: ``LIBXL_MEMKB_DEFAULT``: ``~0ULL``.
MEMKB_DEFAULT = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Scalar:
    """A builtin or integer: ``kind`` says how it prints, ``init`` when it is default.

    Kinds: ``int`` (``yajl_gen_integer``), ``uint64`` (printed unsigned),
    ``string``, ``bool`` (C ``bool``), ``defbool`` (``"True"``/``"False"``),
    ``bitmap`` (the set bits), ``uuid``, ``mac``, ``string_list``.
    """

    kind: str
    init: object = None


@dataclass(frozen=True, slots=True)
class Enum:
    """An IDL ``Enumeration``: printed by name (lower case, as ``*_to_string``)."""

    name: str
    init: str | None = None


@dataclass(frozen=True, slots=True)
class Struct:
    """An IDL ``Struct``: fields in order."""

    fields: tuple[tuple[str, IdlType], ...]


@dataclass(frozen=True, slots=True)
class Array:
    """An IDL ``Array`` of ``elem``: printed when it has an element."""

    elem: IdlType


@dataclass(frozen=True, slots=True)
class Union:
    """An IDL ``KeyedUnion`` on ``type``: printed under ``"type.<member>"``."""

    members: tuple[tuple[str, Struct], ...]


IdlType = Scalar | Enum | Struct | Array | Union

INT = Scalar("int", 0)
INT_M1 = Scalar("int", -1)  # sched params' *_DEFAULT, devid
UINT64 = Scalar("uint64", 0)
MEMKB = Scalar("uint64", MEMKB_DEFAULT)
GRANT_DEFAULT = Scalar("int", 0xFFFFFFFF)  # LIBXL_MAX_GRANT_DEFAULT, uint32 ~0
STRING = Scalar("string")
DEFBOOL = Scalar("defbool")
BOOL = Scalar("bool", False)
BITMAP = Scalar("bitmap")
STRINGS = Scalar("string_list")


def _s(*fields: tuple[str, IdlType]) -> Struct:
    return Struct(tuple(fields))


VGA = _s(("kind", Enum("vga_interface_type", "unknown")))
VNC = _s(
    ("enable", DEFBOOL), ("listen", STRING), ("passwd", STRING),
    ("display", INT), ("findunused", DEFBOOL),
)  # fmt: skip
SDL = _s(("enable", DEFBOOL), ("opengl", DEFBOOL), ("display", STRING), ("xauthority", STRING))
SPICE = _s(
    ("enable", DEFBOOL), ("port", INT), ("tls_port", INT), ("host", STRING),
    ("disable_ticketing", DEFBOOL), ("passwd", STRING), ("agent_mouse", DEFBOOL),
    ("vdagent", DEFBOOL), ("clipboard_sharing", DEFBOOL), ("usbredirection", INT),
    ("image_compression", STRING), ("streaming_video", STRING),
)  # fmt: skip
RDM = _s(
    ("strategy", Enum("rdm_reserve_strategy")), ("policy", Enum("rdm_reserve_policy", "invalid"))
)
SCHED = _s(
    ("sched", Enum("scheduler")), ("weight", INT_M1), ("cap", INT_M1), ("period", INT_M1),
    ("budget", INT_M1), ("extratime", INT_M1), ("slice", INT_M1), ("latency", INT_M1),
)  # fmt: skip

#: The model's fields, not in Xen's IDL: the seed's param and XenGT's vGPU sizes.
MODEL_FIELDS = ("max_wp_ram_ranges", "vgt", "vgt_low_gm_sz", "vgt_high_gm_sz", "vgt_fence_sz")

HVM = _s(
    ("firmware", STRING), ("bios", Enum("bios_type")), ("pae", DEFBOOL), ("apic", DEFBOOL),
    ("acpi", DEFBOOL), ("acpi_s3", DEFBOOL), ("acpi_s4", DEFBOOL),
    ("acpi_laptop_slate", DEFBOOL), ("nx", DEFBOOL), ("viridian", DEFBOOL),
    ("viridian_enable", BITMAP), ("viridian_disable", BITMAP), ("timeoffset", STRING),
    ("hpet", DEFBOOL), ("vpt_align", DEFBOOL), ("mmio_hole_memkb", MEMKB),
    ("timer_mode", Enum("timer_mode", "unknown")), ("nested_hvm", DEFBOOL),
    ("altp2m", DEFBOOL), ("system_firmware", STRING), ("smbios_firmware", STRING),
    ("acpi_firmware", STRING), ("hdtype", Enum("hdtype", "ide")), ("nographic", DEFBOOL),
    ("vga", VGA), ("vnc", VNC), ("keymap", STRING), ("sdl", SDL), ("spice", SPICE),
    ("gfx_passthru", DEFBOOL), ("gfx_passthru_kind", Enum("gfx_passthru_kind")),
    ("serial", STRING), ("boot", STRING), ("usb", DEFBOOL), ("usbversion", INT),
    ("usbdevice", STRING), ("vkb_device", DEFBOOL), ("soundhw", STRING),
    ("xen_platform_pci", DEFBOOL), ("usbdevice_list", STRINGS),
    ("vendor_device", Enum("vendor_device")), ("serial_list", STRINGS), ("rdm", RDM),
    ("rdm_mem_boundary_memkb", MEMKB),
    ("max_wp_ram_ranges", UINT64),  # the seed patch (v3), the model's addition
    ("vgt", DEFBOOL), ("vgt_low_gm_sz", INT), ("vgt_high_gm_sz", INT),  # XenGT, the model's
    ("vgt_fence_sz", INT),
    ("mca_caps", UINT64),
)  # fmt: skip
PV = _s(
    ("kernel", STRING),
    ("slack_memkb", MEMKB),
    ("bootloader", STRING),
    ("bootloader_args", STRINGS),
    ("cmdline", STRING),
    ("ramdisk", STRING),
    ("e820_host", DEFBOOL),
)  # fmt: skip  ("features" is const: never printed)
PVH = _s(("pvshim", DEFBOOL), ("pvshim_path", STRING), ("pvshim_cmdline", STRING),
         ("pvshim_extra", STRING))  # fmt: skip

CREATE_INFO = _s(
    ("type", Enum("domain_type", "invalid")), ("hap", DEFBOOL), ("oos", DEFBOOL),
    ("ssidref", INT), ("ssid_label", STRING), ("name", STRING), ("domid", INT),
    ("uuid", Scalar("uuid")), ("xsdata", Scalar("kvl")), ("platformdata", Scalar("kvl")),
    ("poolid", INT), ("pool_name", STRING), ("run_hotplug_scripts", DEFBOOL),
    ("driver_domain", DEFBOOL), ("passthrough", Enum("passthrough")),
    ("xend_suspend_evtchn_compat", DEFBOOL),
)  # fmt: skip
BUILD_INFO = _s(
    ("max_vcpus", INT), ("avail_vcpus", BITMAP), ("cpumap", BITMAP), ("nodemap", BITMAP),
    ("numa_placement", DEFBOOL), ("tsc_mode", Enum("tsc_mode")),
    ("max_memkb", MEMKB), ("target_memkb", MEMKB), ("video_memkb", MEMKB),
    ("shadow_memkb", MEMKB), ("iommu_memkb", MEMKB), ("rtc_timeoffset", INT),
    ("exec_ssidref", INT), ("exec_ssid_label", STRING), ("localtime", DEFBOOL),
    ("disable_migrate", DEFBOOL), ("blkdev_start", STRING),
    ("max_grant_frames", GRANT_DEFAULT), ("max_maptrack_frames", GRANT_DEFAULT),
    ("max_grant_version", GRANT_DEFAULT),
    ("device_model_version", Enum("device_model_version")),
    ("device_model_stubdomain", DEFBOOL), ("stubdomain_memkb", MEMKB),
    ("device_model", STRING), ("extra", STRINGS), ("extra_pv", STRINGS),
    ("extra_hvm", STRINGS), ("sched_params", SCHED), ("claim_mode", DEFBOOL),
    ("event_channels", INT), ("kernel", STRING), ("cmdline", STRING), ("ramdisk", STRING),
    ("device_tree", STRING), ("acpi", DEFBOOL), ("bootloader", STRING),
    ("bootloader_args", STRINGS), ("timer_mode", Enum("timer_mode", "unknown")),
    ("nested_hvm", DEFBOOL), ("apic", DEFBOOL), ("dm_restrict", DEFBOOL),
    ("tee", Enum("tee_type", "none")),
    ("u", Union((("hvm", HVM), ("pv", PV), ("pvh", PVH)))),
    ("arch_arm", _s(("gic_version", Enum("gic_version", "default")),
                    ("vuart", Enum("vuart_type")))),
    ("arch_x86", _s(("msr_relaxed", DEFBOOL))),
    ("altp2m", Enum("altp2m_mode", "disabled")), ("vmtrace_buf_kb", INT), ("vpmu", DEFBOOL),
)  # fmt: skip
DISK = _s(
    ("backend_domid", INT), ("backend_domname", STRING), ("pdev_path", STRING),
    ("vdev", STRING), ("backend", Enum("disk_backend")), ("format", Enum("disk_format")),
    ("script", STRING), ("removable", INT), ("readwrite", INT), ("is_cdrom", INT),
    ("direct_io_safe", BOOL), ("discard_enable", DEFBOOL),
    ("specification", Enum("disk_specification")), ("transport", Enum("disk_transport")),
    ("irq", INT), ("base", UINT64), ("colo_enable", DEFBOOL),
    ("colo_restore_enable", DEFBOOL), ("colo_host", STRING), ("colo_port", INT),
    ("colo_export", STRING), ("active_disk", STRING), ("hidden_disk", STRING),
    ("trusted", DEFBOOL),
)  # fmt: skip
#: ``libxl_device_nic``'s COLO strings, in IDL order (``vif=`` sets each by its name).
NIC_COLO = (
    "coloft_forwarddev", "colo_sock_mirror_id", "colo_sock_mirror_ip", "colo_sock_mirror_port",
    "colo_sock_compare_pri_in_id", "colo_sock_compare_pri_in_ip", "colo_sock_compare_pri_in_port",
    "colo_sock_compare_sec_in_id", "colo_sock_compare_sec_in_ip", "colo_sock_compare_sec_in_port",
    "colo_sock_compare_notify_id", "colo_sock_compare_notify_ip", "colo_sock_compare_notify_port",
    "colo_sock_redirector0_id", "colo_sock_redirector0_ip", "colo_sock_redirector0_port",
    "colo_sock_redirector1_id", "colo_sock_redirector1_ip", "colo_sock_redirector1_port",
    "colo_sock_redirector2_id", "colo_sock_redirector2_ip", "colo_sock_redirector2_port",
    "colo_filter_mirror_queue", "colo_filter_mirror_outdev", "colo_filter_redirector0_queue",
    "colo_filter_redirector0_indev", "colo_filter_redirector0_outdev",
    "colo_filter_redirector1_queue", "colo_filter_redirector1_indev",
    "colo_filter_redirector1_outdev", "colo_compare_pri_in", "colo_compare_sec_in",
    "colo_compare_out", "colo_compare_notify_dev", "colo_sock_sec_redirector0_id",
    "colo_sock_sec_redirector0_ip", "colo_sock_sec_redirector0_port",
    "colo_sock_sec_redirector1_id", "colo_sock_sec_redirector1_ip",
    "colo_sock_sec_redirector1_port", "colo_filter_sec_redirector0_queue",
    "colo_filter_sec_redirector0_indev", "colo_filter_sec_redirector0_outdev",
    "colo_filter_sec_redirector1_queue", "colo_filter_sec_redirector1_indev",
    "colo_filter_sec_redirector1_outdev", "colo_filter_sec_rewriter0_queue",
    "colo_checkpoint_host", "colo_checkpoint_port",
)  # fmt: skip
_NIC_HEAD = (
    ("backend_domid", INT), ("backend_domname", STRING), ("devid", INT_M1), ("mtu", INT),
    ("model", STRING), ("mac", Scalar("mac")), ("ip", STRING), ("bridge", STRING),
    ("ifname", STRING), ("script", STRING), ("nictype", Enum("nic_type")),
    ("rate_bytes_per_interval", UINT64), ("rate_interval_usecs", INT), ("gatewaydev", STRING),
)  # fmt: skip
NIC = Struct((*_NIC_HEAD, *((name, STRING) for name in NIC_COLO), ("trusted", DEFBOOL)))
VFB = _s(("backend_domid", INT), ("backend_domname", STRING), ("devid", INT_M1), ("vnc", VNC),
         ("sdl", SDL), ("keymap", STRING))  # fmt: skip
VKB = _s(("backend_domid", INT), ("backend_domname", STRING), ("devid", INT_M1),
         ("backend_type", Enum("vkb_backend")), ("unique_id", STRING))  # fmt: skip
ACTION = Enum("action_on_shutdown", "destroy")
#: ``libxl_domain_config``: the arrays ioreqlab's xl never fills are left out.
DOMAIN_CONFIG = _s(
    ("c_info", CREATE_INFO), ("b_info", BUILD_INFO), ("disks", Array(DISK)),
    ("nics", Array(NIC)), ("vfbs", Array(VFB)), ("vkbs", Array(VKB)),
    ("on_poweroff", ACTION), ("on_reboot", ACTION), ("on_watchdog", ACTION),
    ("on_crash", ACTION), ("on_soft_reset", ACTION),
)  # fmt: skip


# -- the generator ------------------------------------------------------------------


def _is_default(t: IdlType, v: Any) -> bool:
    """gentypes.py's ``get_default_expr``: True when the field is not printed."""
    if isinstance(t, Struct | Union):
        return False  # "always generate JSON output for aggregate type"
    if v is None:
        return True  # absent: at its init value
    if isinstance(t, Array):
        return not v
    if isinstance(t, Enum):
        return v is None or v == t.init or (t.init is None and _ENUM_ZERO.get(t.name) == v)
    if t.kind in ("bitmap", "string_list", "kvl"):  # libxl_bitmap_is_empty & co
        return not v or (t.kind == "string_list" and v[0] is None)
    if t.kind == "mac":  # libxl__mac_is_default
        return v is None or not any(v)
    if t.kind == "uuid":  # libxl_uuid_is_nil
        return v is None or not any(v)
    if t.kind in ("string", "defbool"):
        return v is None
    return bool(v == t.init)


#: An enum without ``init_val`` is default at its 0 value (the C test is ``if (x)``).
_ENUM_ZERO = {
    "rdm_reserve_strategy": "ignore", "device_model_version": "unknown",
    "disk_format": "unknown", "disk_backend": "unknown", "disk_specification": "unknown",
    "disk_transport": "unknown", "nic_type": "unknown", "tsc_mode": "default",
    "gfx_passthru_kind": "default", "bios_type": "unknown", "scheduler": "unknown",
    "vendor_device": "none", "vkb_backend": "unknown", "passthrough": "default",
    "vuart_type": "unknown",
}  # fmt: skip


class _Yajl:
    """yajl 2's generator with ``yajl_gen_beautify``: the bytes libxl's JSON has."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.depth = 0
        self.state = ["start"]  # per depth: start, map_start, map_key, map_val, array...

    def _sep(self) -> None:
        st = self.state[self.depth]
        if st in ("map_key", "in_array"):
            self.out.append(",\n")
        elif st == "map_val":
            self.out.append(": ")

    def _ws(self) -> None:
        if self.state[self.depth] != "map_val":
            self.out.append("    " * self.depth)

    def _appended(self) -> None:
        st = self.state[self.depth]
        self.state[self.depth] = {
            "start": "complete", "map_start": "map_val", "map_key": "map_val",
            "map_val": "map_key", "array_start": "in_array",
        }.get(st, st)  # fmt: skip

    def _final(self) -> None:
        if self.depth == 0:
            self.out.append("\n")

    def atom(self, text: str) -> None:
        self._sep()
        self._ws()
        self.out.append(text)
        self._appended()
        self._final()

    def string(self, s: str) -> None:
        self.atom('"' + "".join(_ESCAPE.get(c, c) for c in s) + '"')

    def open(self, kind: str) -> None:
        self._sep()
        self._ws()
        self.depth += 1
        self.state.append("map_start" if kind == "{" else "array_start")
        self.out.append(kind + "\n")

    def close(self, kind: str) -> None:
        self.depth -= 1
        self.state.pop()
        self.out.append("\n")
        self._appended()
        self._ws()
        self.out.append(kind)
        self._final()


_ESCAPE = {chr(i): f"\\u00{i:02X}" for i in range(32)} | {
    "\r": "\\r", "\n": "\\n", "\\": "\\\\", '"': '\\"', "\f": "\\f", "\b": "\\b", "\t": "\\t",
}  # fmt: skip


def _gen(g: _Yajl, t: IdlType, v: Any) -> None:
    if isinstance(t, Struct):
        _gen_struct(g, t, v if isinstance(v, Mapping) else {})
    elif isinstance(t, Array):
        g.open("[")
        for item in v:
            _gen(g, t.elem, item)
        g.close("]")
    elif isinstance(t, Enum):
        g.string(str(v if v is not None else t.init))
    elif isinstance(t, Union):
        raise ValueError("a keyed union prints only as a struct's field")
    elif t.kind == "int":
        g.atom(str(int(v)))
    elif t.kind == "uint64":
        g.atom(str(int(v) & MEMKB_DEFAULT))
    elif t.kind == "string":
        g.string(str(v))
    elif t.kind == "bool":
        g.atom("true" if v else "false")
    elif t.kind == "defbool":
        g.string("True" if v else "False")
    elif t.kind == "uuid":
        h = bytes(v).hex()
        g.string(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    elif t.kind == "mac":
        g.string(":".join(f"{b:02x}" for b in v))
    elif t.kind == "bitmap":
        g.open("[")
        for bit in sorted(v):
            g.atom(str(bit))
        g.close("]")
    elif t.kind == "string_list":
        g.open("[")
        for s in v:
            if s is None:
                break
            g.string(s)
        g.close("]")
    else:  # kvl: never set by ioreqlab's xl
        raise ValueError(f"cannot print a {t.kind}")


def _gen_struct(g: _Yajl, t: Struct, v: Mapping[str, Any]) -> None:
    g.open("{")
    for name, ft in t.fields:
        fv = v.get(name)
        if _is_default(ft, fv):
            continue
        if isinstance(ft, Union):
            member = str(v.get("type", "invalid"))
            g.string(f"type.{member}")
            _gen(g, dict(ft.members).get(member, _s()), fv)  # "invalid": an empty map
            continue
        g.string(name)
        _gen(g, ft, fv)
    g.close("}")


def to_json(config: Mapping[str, Any], struct: Struct = DOMAIN_CONFIG) -> str:
    """``libxl_domain_config_to_json``: the document, as ``xl -N create`` prints it.

    >>> print(to_json({"c_info": {"type": "pv", "name": "g"}}), end="")
    {
        "c_info": {
            "type": "pv",
            "name": "g"
        },
        "b_info": {
            "sched_params": {
    <BLANKLINE>
            },
            "type.invalid": {
    <BLANKLINE>
            },
            "arch_arm": {
    <BLANKLINE>
            },
            "arch_x86": {
    <BLANKLINE>
            }
        }
    }
    """
    g = _Yajl()
    _gen(g, struct, config)
    return "".join(g.out)
