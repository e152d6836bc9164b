"""xl's ``parse_config_data``: xl.cfg settings → ``libxl_domain_config``, before libxl.

Rules
-----
1. This is ``tools/xl/xl_parse.c:parse_config_data`` of RELEASE-4.17.0 for the
   keys in :data:`MODELLED_KEYS`, in its order: each getter is called where xl
   calls it, with xl's ``dont_warn``, so libxlu's warnings and xl's own
   messages reach stderr in xl's order (both go to ``XlConfig.warnings``).
   What xl refuses is an :class:`XlError` with xl's exit code.
2. The result is the tree :mod:`libxl_idl` prints: what ``xl -N create``
   shows.  C arithmetic is kept: ``memory * 1024`` wraps in 64 bits, an
   ``int`` field keeps the low 32 bits of a ``long``.
3. Keys xl reads that the model does not (:data:`XL_KEYS` minus
   :data:`MODELLED_KEYS`) are named on stderr and left out — never silently.
4. The uuid is the caller's (xl's ``libxl_uuid_generate`` is random; the
   toolstack takes no global randomness): a ``uuid =`` setting wins, as in xl.
5. ``xl.conf`` is taken to be Debian's, all comments: hotplug scripts and
   claim mode on, no default bridge or vif script.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ioreqlab.toolstack.cnum import strtoul
from ioreqlab.toolstack.libxl_idl import MEMKB_DEFAULT, NIC_COLO
from ioreqlab.toolstack.xlcfg import Atom, XlConfig
from ioreqlab.toolstack.xlu_disk import disk_parse

__all__ = ["MODELLED_KEYS", "XL_KEYS", "XlBuilt", "XlError", "parse_config_data"]

#: Every key Xen 4.17's ``parse_config_data`` reads (``xl_parse.c``).
XL_KEYS = frozenset((
    "acpi", "acpi_firmware", "acpi_laptop_slate", "acpi_s3", "acpi_s4", "altp2m", "altp2mhvm",
    "apic", "bios", "bios_path_override", "boot", "bootloader", "bootloader_args", "builder",
    "cap", "channel", "cmdline", "cpu_weight", "cpuid", "cpus", "cpus_soft", "device_model",
    "device_model_args", "device_model_args_pv", "device_model_args_hvm", "device_model_override",
    "device_model_stubdomain_override", "device_model_stubdomain_seclabel", "device_model_user",
    "device_model_version", "device_tree", "disk", "display", "dm_restrict", "driver_domain",
    "dtdev", "e820_host", "extra", "extratime", "firmware", "firmware_override", "gfx_passthru",
    "gic_version", "hap", "hdtype", "hpet", "init_seclabel", "iomem", "ioports", "irqs", "kernel",
    "keymap", "latency", "localtime", "max_event_channels", "max_grant_frames",
    "max_grant_version", "max_maptrack_frames", "maxmem", "maxvcpus", "mca_caps", "memory",
    "mmio_hole", "ms_vm_genid", "msr_relaxed", "name", "nestedhvm", "nographic", "nomigrate",
    "nx", "on_crash", "on_poweroff", "on_reboot", "on_soft_reset", "on_watchdog", "oos", "opengl",
    "p9", "pae", "passthrough", "pci", "pci_msitranslate", "pci_permissive", "pci_power_mgmt",
    "pci_seize", "period", "pool", "pvcalls", "pvshim", "pvshim_cmdline", "pvshim_extra",
    "pvshim_path", "ramdisk", "rdm", "rdm_mem_boundary", "root", "rtc_timeoffset", "sdl",
    "seclabel", "serial", "shadow_memory", "slice", "smbios_firmware", "soundhw", "spice",
    "spice_clipboard_sharing", "spice_image_compression", "spice_streaming_video",
    "spiceagent_mouse", "spicedisable_ticketing", "spicehost", "spicepasswd", "spiceport",
    "spicetls_port", "spiceusbredirection", "spicevdagent", "stdvga", "stubdomain_cmdline",
    "stubdomain_kernel", "stubdomain_memory", "stubdomain_ramdisk", "tee", "timer_mode",
    "tsc_mode", "type", "usb", "usbctrl", "usbdev", "usbdevice", "usbversion", "uuid", "vcpus",
    "vdispl", "vendor_device", "vfb", "vga", "videoram", "vif", "vif2", "viridian", "vkb",
    "vkb_device", "vmtrace_buf_kb", "vnc", "vncdisplay", "vnclisten", "vncpasswd", "vncunused",
    "vncviewer", "vnuma", "vpmu", "vpt_align", "vsnd", "vtpm", "vuart", "xauthority",
    "xen_platform_pci", "xend_suspend_evtchn_compat",
))  # fmt: skip
#: The keys this module follows xl for; the seed's and XenGT's keys are the model's own.
MODELLED_KEYS = frozenset((
    "name", "type", "builder", "uuid", "hap", "memory", "maxmem", "vcpus", "maxvcpus",
    "on_poweroff", "on_reboot", "on_watchdog", "on_crash", "on_soft_reset", "videoram", "kernel",
    "ramdisk", "cmdline", "root", "extra", "bootloader", "acpi", "timer_mode", "nestedhvm", "pae",
    "acpi_s3", "acpi_s4", "nx", "hpet", "vpt_align", "apic", "viridian", "altp2mhvm", "altp2m",
    "disk", "vif", "device_model_version", "vnc", "vnclisten", "vncpasswd", "vncdisplay",
    "vncunused", "sdl", "opengl", "display", "xauthority", "vga", "stdvga", "keymap", "nographic",
    "serial", "max_wp_ram_ranges", "vgt", "vgt_low_gm_sz", "vgt_high_gm_sz", "vgt_fence_sz",
))  # fmt: skip
_MODEL_ONLY = ("max_wp_ram_ranges", "vgt", "vgt_low_gm_sz", "vgt_high_gm_sz", "vgt_fence_sz")
_ACTIONS = (
    "destroy",
    "restart",
    "rename-restart",
    "preserve",
    "coredump-destroy",
    "coredump-restart",
    "soft-reset",
)  # fmt: skip  (xl_parse.c: action_on_shutdown_names)
_TIMER_MODES = ("delay_for_missed_ticks", "no_delay_for_missed_ticks",
                "no_missed_ticks_pending", "one_missed_tick_pending")  # fmt: skip
_ALTP2M = ("disabled", "mixed", "external", "limited")
_VGA = {"stdvga": "std", "cirrus": "cirrus", "none": "none", "qxl": "qxl"}
ERROR_FAIL = 3  # exit(-ERROR_FAIL)
#: The model's bound on ``vcpus`` (xl would print a bitmap of every one; Xen's HVM cap is 128).
MAX_VCPUS_PRINTED = 4096


class XlError(Exception):
    """xl refused the config: its message (already on the report) and exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(slots=True)
class XlBuilt:
    """What ``parse_config_data`` built: the IDL tree, and the numbers as xl.cfg gave them."""

    config: dict[str, Any]
    numbers: dict[str, int] = field(default_factory=dict)  # key -> the long, unwrapped
    specs: dict[str, list[str]] = field(default_factory=dict)  # disk/vif -> the strings


def _int(v: int) -> int:
    """A ``long`` stored in a C ``int``: the low 32 bits, signed."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _u64(v: int) -> int:
    return v & MEMKB_DEFAULT


class _Parse:
    def __init__(self, cfg: XlConfig, uuid: bytes) -> None:
        self.cfg = cfg
        self.uuid = uuid
        self.c: dict[str, Any] = {}
        self.b: dict[str, Any] = {}
        self.u: dict[str, Any] = {}
        self.d: dict[str, Any] = {"c_info": self.c, "b_info": self.b}
        self.built = XlBuilt(self.d)

    def say(self, text: str) -> None:
        self.cfg.warnings.append(text)

    def fail(self, text: str, code: int = 1) -> XlError:
        self.say(text)
        return XlError(text, code)

    def long(self, key: str, quiet: bool = False) -> int | None:
        v = self.cfg.get_long(key, quiet=quiet)
        if v is not None:
            self.built.numbers[key] = v
        return v

    def defbool(self, target: dict[str, Any], name: str, key: str, quiet: bool = False) -> bool:
        v = self.cfg.get_bool(key, quiet=quiet)
        if v is not None:
            target[name] = v
        return v is not None

    def string(self, target: dict[str, Any], name: str, key: str) -> None:
        """``xlu_cfg_replace_string``."""
        v = self.cfg.get_string(key)
        if v is not None:
            target[name] = v

    def run(self) -> None:
        cfg, c, b = self.cfg, self.c, self.b
        for key in sorted(set(cfg.settings) & (XL_KEYS - MODELLED_KEYS)):
            self.say(f"ioreqlab: note: xl key `{key}' is not modelled: it is left out")
        c["run_hotplug_scripts"] = True
        kind = cfg.get_string("type")
        if kind is not None:
            found = next((t for t in ("hvm", "pv", "pvh") if t.startswith(kind)), None)
            if found is None:
                raise self.fail(f"Invalid domain type {kind}.")
            c["type"] = found
        builder = cfg.get_string("builder")  # deprecated since 4.10
        if builder is not None:
            if "hvm".startswith(builder):
                btype = "hvm"
            elif "generic".startswith(builder):
                btype = "pv"
            else:
                raise self.fail(f"Invalid domain type {builder}.")
            if c.get("type", btype) != btype:
                raise self.fail('Contradicting "builder" and "type" options specified.')
            c["type"] = btype
        c.setdefault("type", "pv")
        self.defbool(c, "hap", "hap")
        name = cfg.get_string("name")
        if name is None:
            raise self.fail("Domain name must be specified.")
        c["name"] = name
        text = cfg.get_string("uuid")
        c["uuid"] = self.uuid if text is None else _uuid(text, self)
        b["type"] = c["type"]
        self.memory_and_vcpus()
        b["claim_mode"] = True
        self.actions()
        self.rest()

    def actions(self) -> None:
        """``on_poweroff`` and friends: a name from xl's table, or the default."""
        cfg = self.cfg
        for key, default in (("on_poweroff", "destroy"), ("on_reboot", "restart"),
                             ("on_watchdog", "destroy"), ("on_crash", "destroy"),
                             ("on_soft_reset", "soft-reset")):  # fmt: skip
            action = cfg.get_string(key)
            action = default if action is None else action
            if action not in _ACTIONS:
                raise self.fail(f'Unknown {key} action "{action}" specified')
            self.d[key] = action.replace("-", "_").replace("rename_restart", "restart_rename")

    def rest(self) -> None:
        """From ``videoram`` to the end of ``parse_config_data``."""
        c, b = self.c, self.b
        v = self.long("videoram")
        if v is not None:
            b["video_memkb"] = _u64(v * 1024)
        self.string(b, "kernel", "kernel")
        self.string(b, "ramdisk", "ramdisk")
        self.cmdline()
        self.defbool(b, "acpi", "acpi")
        self.string(b, "bootloader", "bootloader")
        self.timer_mode()
        self.defbool(b, "nested_hvm", "nestedhvm")
        if c["type"] == "hvm":
            self.hvm()
        elif b.get("bootloader") is None and b.get("kernel") is None:
            raise self.fail("Neither kernel nor bootloader specified")
        self.altp2m()
        self.disks()
        self.nics()
        self.device_model_version()
        self.display()
        if c["type"] == "hvm":
            self.hvm_devices()
        if self.u:
            b["u"] = self.u

    def memory_and_vcpus(self) -> None:
        b = self.b
        v = self.long("memory")
        if v is not None:
            b["target_memkb"] = _u64(v * 1024)
        v = self.long("maxmem")
        if v is not None:
            b["max_memkb"] = _u64(v * 1024)
        vcpus = 0
        v = self.long("vcpus")
        if v is not None:
            vcpus = v
            if v > MAX_VCPUS_PRINTED:
                raise self.fail(f"ioreqlab: xl: vcpus={v}: above {MAX_VCPUS_PRINTED}, not modelled")
            if _int(v) < 0:  # libxl_cpu_bitmap_alloc refuses a negative count
                self.say(
                    "libxl: error: libxl_utils.c:809:libxl_cpu_bitmap_alloc: "
                    "invalid number of cpus provided"
                )
                raise self.fail("Unable to allocate cpumap")
            b["avail_vcpus"] = range(v)
        v = self.long("maxvcpus")
        if v is not None:
            b["max_vcpus"] = _int(v)
        b.setdefault("max_memkb", b.get("target_memkb", MEMKB_DEFAULT))
        if not b.get("max_vcpus"):
            b["max_vcpus"] = _int(vcpus)
        if b["max_vcpus"] < vcpus:
            raise self.fail("xl: maxvcpus < vcpus")

    def cmdline(self) -> None:
        """``parse_cmdline``: ``cmdline``, else ``root=`` and ``extra``."""
        line = self.cfg.get_string("cmdline")
        root = self.cfg.get_string("root")
        extra = self.cfg.get_string("extra")
        if line is not None:
            if root is not None or extra is not None:
                self.say("Warning: ignoring root= and extra= in favour of cmdline=")
        elif root is not None:
            line = f"root={root} {extra}" if extra is not None else f"root={root}"
        else:
            line = extra
        if line is not None:
            self.b["cmdline"] = line

    def timer_mode(self) -> None:
        pv = self.c["type"] == "pv"
        n = self.long("timer_mode", quiet=True)
        text = None if n is not None else self.cfg.get_string("timer_mode")
        if n is None and text is None:
            return
        if pv:
            raise self.fail(
                'ERROR: "timer_mode" option is not supported for PV guests.', ERROR_FAIL
            )
        if n is not None:
            name = _TIMER_MODES[n] if 0 <= n < len(_TIMER_MODES) else None
            known = "unknown" if n == -1 else name  # libxl_timer_mode_to_string
            hint = f'e.g. timer_mode="{known}"' if known else ""
            self.say(
                'WARNING: specifying "timer_mode" as an integer is deprecated. '
                f"Please use the named parameter variant. {hint}"
            )
            if name is None:
                raise self.fail(f'ERROR: invalid value {n} for "timer_mode"')
            self.b["timer_mode"] = name
            return
        assert text is not None
        found = next((m for m in _TIMER_MODES if m == text.lower()), None)
        if found is None:  # libxl_timer_mode_from_string: strcasecmp
            raise self.fail(f'ERROR: invalid value "{text}" for "timer_mode"')
        self.b["timer_mode"] = found

    def hvm(self) -> None:
        b, u = self.b, self.u
        kernel = b.get("kernel")
        if kernel is not None and kernel.rsplit("/", 1)[-1] == "hvmloader":
            self.say(
                'WARNING: you seem to be using "kernel" directive to override HVM guest '
                'firmware. Ignore that. Use "firmware_override" instead if you really '
                "want a non-default firmware"
            )
            del b["kernel"]
        for key in ("pae", "acpi_s3", "acpi_s4", "nx", "hpet", "vpt_align"):
            self.defbool(u, key, key)
        self.defbool(b, "apic", "apic")
        if self.cfg.get_list("viridian", quiet=True) is not None:
            raise self.fail("ioreqlab: xl: viridian enlightenment lists are not modelled")
        if "viridian" in self.cfg:
            self.defbool(u, "viridian", "viridian", quiet=True)
        if self.defbool(u, "altp2m", "altp2mhvm"):
            self.say('WARNING: Specifying "altp2mhvm" is deprecated. Please use "altp2m" instead.')
        # The seed patch reads its key here (v3, after rdm_mem_boundary); XenGT's beside it.
        v = self.long("max_wp_ram_ranges")
        if v is not None:
            u["max_wp_ram_ranges"] = _u64(v)
        self.defbool(u, "vgt", "vgt")
        for key in _MODEL_ONLY[2:]:
            v = self.long(key)
            if v is not None:
                u[key] = _int(v)

    def altp2m(self) -> None:
        n = self.long("altp2m", quiet=True)
        if n is not None:
            if not 0 <= n < len(_ALTP2M):
                raise self.fail(f'ERROR: invalid value {n} for "altp2m"')
            self.b["altp2m"] = _ALTP2M[n]
            return
        text = self.cfg.get_string("altp2m")
        if text is not None:
            if text.lower() not in _ALTP2M:
                raise self.fail(f'ERROR: invalid value "{text}" for "altp2m"')
            self.b["altp2m"] = text.lower()

    def disks(self) -> None:
        specs = self.cfg.get_string_list("disk")  # stops at a nested list, as xl does
        if specs is None:
            return
        disks = []
        for spec in specs:
            disk, code = disk_parse(spec, self.cfg.source, self.cfg.warnings)
            if code:
                raise XlError(f"disk spec `{spec}' refused", code)
            disks.append(disk)
        self.d["disks"] = disks
        self.built.specs["disk"] = specs

    def nics(self) -> None:
        specs = self.cfg.get_string_list("vif")
        if specs is None:
            return
        nics = []
        for i, spec in enumerate(specs):
            nic: dict[str, Any] = {"devid": i}
            _parse_nic(self, nic, spec)
            nics.append(nic)
        self.d["nics"] = nics
        self.built.specs["vif"] = specs

    def device_model_version(self) -> None:
        text = self.cfg.get_string("device_model_version")
        if text is None:
            return
        if text not in ("qemu-xen-traditional", "qemu-xen"):
            raise self.fail(f'Unknown device_model_version "{text}" specified')
        self.b["device_model_version"] = text.replace("-", "_")

    def display(self) -> None:
        """Top-level vnc and sdl: the HVM guest's; a PVH guest's land nowhere printed."""
        pv = self.c["type"] == "pv"
        if pv and not self.long("vnc"):
            return  # vnc = 0 or absent: no framebuffer, and sdl is not read
        hvm = self.c["type"] == "hvm"
        vnc: dict[str, Any] = {}
        self.defbool(vnc, "enable", "vnc")
        self.string(vnc, "listen", "vnclisten")
        self.string(vnc, "passwd", "vncpasswd")
        v = self.long("vncdisplay")
        if v is not None:
            vnc["display"] = _int(v)
        self.defbool(vnc, "findunused", "vncunused")
        sdl: dict[str, Any] = {}
        self.defbool(sdl, "enable", "sdl")
        self.defbool(sdl, "opengl", "opengl")
        self.string(sdl, "display", "display")
        self.string(sdl, "xauthority", "xauthority")
        if hvm:
            self.u["vnc"], self.u["sdl"] = vnc, sdl
        if pv:  # a vfb and a vkb, each devid 0 (ARRAY_EXTEND_INIT)
            vfb = {"devid": 0, "vnc": vnc, "sdl": sdl}
            self.string(vfb, "keymap", "keymap")
            self.d["vfbs"], self.d["vkbs"] = [vfb], [{"devid": 0}]

    def hvm_devices(self) -> None:
        u = self.u
        text = self.cfg.get_string("vga")
        if text is not None:
            if text not in _VGA:
                raise self.fail(f'Unknown vga "{text}" specified')
            u["vga"] = {"kind": _VGA[text]}
        else:
            v = self.long("stdvga")
            if v is not None:
                u["vga"] = {"kind": "std" if v else "cirrus"}
        self.string(u, "keymap", "keymap")
        self.defbool(u, "nographic", "nographic")
        items = self.cfg.get_list("serial", quiet=True)
        if items is not None:  # xlu_cfg_get_list_as_string_list: a nested list is NULL
            u["serial_list"] = [i.text if isinstance(i, Atom) else None for i in items]
        elif "serial" in self.cfg:
            self.string(u, "serial", "serial")
        vnc = u.get("vnc", {})
        if vnc.get("listen") and vnc.get("display") and ":" in vnc["listen"]:
            raise self.fail("ERROR: Display specified both in vnclisten and vncdisplay!")


def _uuid(text: str, p: _Parse) -> bytes:
    """``libxl_uuid_from_string`` (libuuid's ``uuid_parse``): 8-4-4-4-12 hex digits."""
    parts = text.split("-")
    ok = len(text) == 36 and [len(x) for x in parts] == [8, 4, 4, 4, 12]
    if ok and all(ch in "0123456789abcdefABCDEF" for ch in text.replace("-", "")):
        return bytes.fromhex(text.replace("-", ""))
    raise p.fail(f"Failed to parse UUID: {text}")


def _parse_nic(p: _Parse, nic: dict[str, Any], spec: str) -> None:
    """xl's vif loop: ``strtok`` on commas, leading spaces skipped, ``parse_nic_config``.

    ``mac=`` is read with ``strtoul`` six times in the same buffer xl has (the
    commas strtok has not reached yet still in it); a read past the buffer's
    end is undefined in C and refused here.
    """
    buf = spec
    pos = 0
    while True:
        while pos < len(buf) and buf[pos] == ",":
            pos += 1
        if pos >= len(buf):
            return
        end = buf.find(",", pos)
        end = len(buf) if end < 0 else end
        token = buf[pos:end]
        rest = buf[end + 1 :] if end < len(buf) else None  # bytes after strtok's NUL
        _nic_option(p, nic, token.lstrip(" "), rest)
        pos = end + 1


def _nic_option(p: _Parse, nic: dict[str, Any], token: str, rest: str | None) -> None:
    key, eq, arg = token.partition("=")  # without "=", key is the whole token
    if eq and key == "type":
        if arg in ("vif", "ioemu"):
            nic["nictype"] = "vif" if arg == "vif" else "vif_ioemu"
        else:
            p.say("Invalid parameter `type'.")
    elif eq and key == "mac":
        _mac(p, nic, arg, rest)
    elif eq and key in ("bridge", "gatewaydev", "ip", "script", "model", *NIC_COLO[1:]):
        nic[key] = arg
    elif eq and key in ("netdev", "forwarddev", "backend", "vifname"):
        if key == "netdev":
            p.say("the netdev parameter is deprecated, please use gatewaydev instead")
        field_ = {"netdev": "gatewaydev", "forwarddev": "coloft_forwarddev",
                  "backend": "backend_domname", "vifname": "ifname"}[key]  # fmt: skip
        nic[field_] = arg
    elif eq and key == "accel":
        p.say("the accel parameter for vifs is currently not supported")
    elif eq and key in ("devid", "mtu"):
        value, stop = strtoul(arg, 10)
        if stop == 0 or value == (1 << 64) - 1:
            raise p.fail(f'xl: failed to convert "{arg}" to number')
        nic[key] = _int(value)
    elif eq and key == "rate":
        raise p.fail("ioreqlab: xl: a vif's rate= is not modelled")
    elif token in ("trusted", "untrusted"):
        nic["trusted"] = token == "trusted"
    else:
        p.say(f"unrecognized argument `{token}'")


def _mac(p: _Parse, nic: dict[str, Any], arg: str, rest: str | None) -> None:
    memory = arg + "\0" + (rest + "\0" if rest is not None else "")  # ends at strdup's NUL
    mac = list(nic.get("mac", [0] * 6))
    at = 0
    for i in range(6):
        if at >= len(memory):
            raise p.fail("ioreqlab: xl: this mac= makes xl read past its buffer (undefined)")
        text = memory[at:].split("\0", 1)[0]
        value, stop = strtoul(text, 16)
        if stop == 0 or value > 255:
            p.say("Invalid parameter `mac'.")
            break
        mac[i] = value
        at += stop + 1
    nic["mac"] = mac


def parse_config_data(cfg: XlConfig, *, uuid: bytes = bytes(16)) -> XlBuilt:
    """xl's ``parse_config_data`` on a parsed file: the config as xl built it.

    Messages go to ``cfg.warnings`` in xl's order; a refusal raises
    :class:`XlError` (its message is already there).

    >>> from ioreqlab.toolstack.xlcfg import parse_xl_cfg
    >>> built = parse_config_data(parse_xl_cfg("name='g'\\ntype='h'\\nvcpus=2\\n"))
    >>> built.config["c_info"]["type"], list(built.config["b_info"]["avail_vcpus"])
    ('hvm', [0, 1])
    """
    p = _Parse(cfg, uuid)
    p.run()
    return p.built
