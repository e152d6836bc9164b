"""libxl: schema, setdefault, max_wp_ram_ranges validation, and domain_create."""

from __future__ import annotations

import dataclasses

import pytest

from ioreqlab.abi import HvmParam
from ioreqlab.host import Host
from ioreqlab.toolstack import (
    ERROR_FAIL,
    ERROR_INVAL,
    GPU_WP_RANGES,
    SCHEMA,
    DomainConfig,
    LibxlError,
    XlError,
    build_config,
    domain_create,
    max_wp_ram_ranges_bound,
    parse_xl_cfg,
)
from ioreqlab.toolstack.libxl import Field, _check_width


def config(text: str, gpu: str = "bdw") -> dict[str, object]:
    return build_config(parse_xl_cfg(text, "t.cfg"), gpu=gpu).as_dict()


def refused(text: str) -> LibxlError:
    with pytest.raises(LibxlError) as info:
        build_config(parse_xl_cfg(text, "t.cfg"))
    assert info.value.code == ERROR_INVAL
    return info.value


def xl_refused(text: str) -> tuple[XlError, list[str]]:
    """A refusal of xl's own parse_config_data: the error and what xl printed."""
    cfg = parse_xl_cfg(text, "t.cfg")
    with pytest.raises(XlError) as info:
        build_config(cfg)
    return info.value, cfg.warnings


@pytest.mark.parametrize(
    ("text", "target", "maxmem"),
    [
        ("name='a'\nkernel='/k'\n", 32 * 1024, 32 * 1024),
        ("name='a'\nkernel='/k'\nmemory=512\n", 512 * 1024, 512 * 1024),
        ("name='a'\nkernel='/k'\nmaxmem=1024\n", 1024 * 1024, 1024 * 1024),
        ("name='a'\nkernel='/k'\nmemory=512\nmaxmem=1024\n", 512 * 1024, 1024 * 1024),
    ],
)
def test_memory_defaults(text: str, target: int, maxmem: int) -> None:
    v = config(text)
    assert (v["target_memkb"], v["max_memkb"]) == (target, maxmem)


def test_vcpu_defaults_and_check() -> None:
    assert config("name='a'\nkernel='/k'\nvcpus=3\n")["max_vcpus"] == 3
    err, said = xl_refused("name='a'\nvcpus=3\nmaxvcpus=2\n")
    assert (str(err), err.exit_code, said) == ("xl: maxvcpus < vcpus", 1, ["xl: maxvcpus < vcpus"])


def test_a_pv_guest_needs_a_kernel_or_a_bootloader() -> None:
    # xl_parse.c (4.17): "Neither kernel nor bootloader specified", exit 1.
    err, _ = xl_refused("name='a'\n")
    assert (str(err), err.exit_code) == ("Neither kernel nor bootloader specified", 1)
    assert config("name='a'\nbootloader='pygrub'\n")["type"] == "pv"


@pytest.mark.parametrize(
    ("spelled", "meant"), [("h", "hvm"), ("hv", "hvm"), ("", "hvm"), ("p", "pv"), ("pvh", "pvh")]
)
def test_type_matches_as_a_prefix_as_xl_does(spelled: str, meant: str) -> None:
    # strncmp(buf, "hvm", strlen(buf)), then "pv", then "pvh": "" is a prefix of "hvm".
    assert config(f"name='a'\nkernel='/k'\ntype='{spelled}'\n")["type"] == meant


def test_builder_is_matched_by_prefix_too() -> None:
    assert config("name='a'\nbuilder='hv'\n")["type"] == "hvm"
    assert config("name='a'\nkernel='/k'\nbuilder='generic'\n")["type"] == "pv"


def test_an_unknown_type_is_refused_in_xls_words() -> None:
    err, said = xl_refused("name='a'\ntype='hvmx'\n")
    assert (str(err), said) == ("Invalid domain type hvmx.", ["Invalid domain type hvmx."])


def test_bound_is_one_function_for_both_limits() -> None:
    assert max_wp_ram_ranges_bound(16384) == (8192, "nr_pages/2")
    assert max_wp_ram_ranges_bound(2**34) == (2**32 - 1, "UINT32_MAX")
    assert max_wp_ram_ranges_bound(2**33 - 2) == (2**32 - 1, "nr_pages/2")


def test_max_wp_ram_ranges_at_and_above_half_the_pages() -> None:
    base = "name='a'\ntype='hvm'\nmemory=64\n"
    assert config(base + "max_wp_ram_ranges=8192\n")["max_wp_ram_ranges"] == 8192
    err = refused(base + "max_wp_ram_ranges=8193\n")
    assert (err.option, err.bound) == ("max_wp_ram_ranges", 8192)
    assert "nr_pages/2" in str(err)


def test_max_wp_ram_ranges_at_and_above_u32() -> None:
    base = "name='a'\ntype='hvm'\nmemory=40000000\n"
    assert config(base + "max_wp_ram_ranges=4294967295\n")["max_wp_ram_ranges"] == 2**32 - 1
    err = refused(base + "max_wp_ram_ranges=4294967296\n")
    assert (err.option, err.bound) == ("max_wp_ram_ranges", 2**32 - 1)
    assert "UINT32_MAX" in str(err)


def test_negative_values_do_not_fit_unsigned_fields() -> None:
    err = refused("name='a'\ntype='hvm'\nmax_wp_ram_ranges='-1'\n")
    assert err.option == "max_wp_ram_ranges"


def test_hvm_only_options_are_refused_for_pv() -> None:
    assert refused("name='a'\nkernel='/k'\nmax_wp_ram_ranges=10\n").option == "max_wp_ram_ranges"
    assert refused("name='a'\nkernel='/k'\nvgt=1\n").option == "vgt"


@pytest.mark.parametrize("gpu", sorted(GPU_WP_RANGES))
def test_vgt_guest_gets_the_limit_of_its_gpu(gpu: str) -> None:
    v = config("name='a'\ntype='hvm'\nmemory=4096\nvgt=1\n", gpu=gpu)
    assert v["max_wp_ram_ranges"] == GPU_WP_RANGES[gpu]
    # An explicit value wins; no vGPU, no limit set.
    assert (
        config("name='a'\ntype='hvm'\nmemory=4096\nvgt=1\nmax_wp_ram_ranges=99\n")[
            "max_wp_ram_ranges"
        ]
        == 99
    )
    assert config("name='a'\ntype='hvm'\nmemory=4096\n")["max_wp_ram_ranges"] == 0


def test_enum_values_are_checked() -> None:
    err, _ = xl_refused("name='a'\ntype='hvm'\nvga='vesa'\n")  # xl_parse.c's words
    assert str(err) == 'Unknown vga "vesa" specified'
    err, _ = xl_refused("name='a'\ntype='hvm'\ndevice_model_version='x'\n")
    assert str(err) == 'Unknown device_model_version "x" specified'
    assert config("name='a'\nbuilder='hvm'\n")["type"] == "hvm"


def test_nestedhvm_with_altp2m_is_refused() -> None:
    refused("name='a'\ntype='hvm'\nnestedhvm=1\naltp2mhvm=1\n")


def test_domain_create_sets_params_through_the_hypercall_path() -> None:
    host = Host(design="rangeset", xen_heap_bytes=4 << 20)
    cfg = build_config(
        parse_xl_cfg("name='g'\ntype='hvm'\nmemory=4096\nvcpus=2\nvgt=1\nviridian=1\n")
    )
    domid = domain_create(host, cfg)
    d = host.domains[domid]
    assert (d.name, d.vcpus, d.nr_pages, d.hvm) == ("g", 2, 1 << 20, True)
    assert d.params[HvmParam.MAX_WP_RAM_RANGES] == 8192
    assert d.params[HvmParam.TIMER_MODE] == 1
    assert d.params[HvmParam.VIRIDIAN] == 1


def test_a_refused_hypercall_is_logged_and_leaves_no_domain() -> None:
    host = Host(xen_heap_bytes=4 << 20, wp_ram_ranges_cap=4096)
    cfg = build_config(parse_xl_cfg("name='g'\ntype='hvm'\nmemory=4096\nvgt=1\n"))
    log: list[str] = []
    with pytest.raises(LibxlError) as info:
        domain_create(host, cfg, log=log)
    assert info.value.code == ERROR_FAIL
    assert log == [
        "libxl: error: libxl_dom.c:hvm_set_conf_params: setting "
        "HVM_PARAM_MAX_WP_RAM_RANGES=8192 failed: Invalid argument",
        "ioreqlab: why: max_wp_ram_ranges 8192 exceeds the host cap 4096 (raise it with"
        " Host(wp_ram_ranges_cap=...), or wp_ram_ranges_cap in a scenario's [host])",
    ]
    assert list(host.domains) == [0]
    assert host.heap_statistics().in_use == 0


def test_pv_domain_create() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    domid = domain_create(host, build_config(parse_xl_cfg("name='p'\nkernel='/k'\nmemory=256\n")))
    assert not host.domains[domid].hvm


def test_domain_config_is_typed_from_the_schema() -> None:
    # One typed field per SCHEMA row, in order, of the row's kind (libxl_types.idl's
    # role); HVM-only rows may be None (a PV guest has none of them).
    kinds = {"uint": "int", "int": "int", "bool": "bool", "string": "str", "enum": "str"}
    fields = [f for f in dataclasses.fields(DomainConfig) if f.name != "idl"]  # + xl's tree
    assert [f.name for f in fields] == [row.name for row in SCHEMA]
    for f, row in zip(fields, SCHEMA, strict=True):
        want = "tuple[str, ...]" if row.kind in ("list", "strings") else kinds[row.kind]
        if row.hvm_only:
            want += " | None"
        assert f.type == want, row.name
    pv = build_config(parse_xl_cfg("name='p'\nkernel='/k'\nmemory=256\n"))
    assert all(getattr(pv, row.name) is None for row in SCHEMA if row.hvm_only)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pv.name = "q"  # type: ignore[misc]  # the assignment is what is tested


@pytest.mark.parametrize("field", [f for f in SCHEMA if f.kind == "uint"], ids=lambda f: f.name)
def test_a_number_fits_its_unsigned_field_from_0_to_its_top(field: Field) -> None:
    # Each end of the field's width, and one past each: ERROR_INVAL naming the key and top.
    top = (1 << field.bits) - 1
    assert _check_width(field, 0) == 0
    assert _check_width(field, top) == top
    for bad in (-1, top + 1):
        with pytest.raises(LibxlError) as info:
            _check_width(field, bad)
        assert info.value.code == ERROR_INVAL
        assert (info.value.option, info.value.bound) == (field.key, top)
        assert f"{field.key}={bad} does not fit its {field.bits}-bit unsigned field" in str(
            info.value
        )


#: A setting, and every field of the model's domain config it changes from the defaults
#: of the same HVM guest (libxl's setdefault values: timer_mode 1 is no_delay_for_missed_ticks).
FIELD_SOURCES = [
    ("hap = 0", {"hap": False}),
    ("videoram = 32", {"videoram": 32}),
    ('timer_mode = "one_missed_tick_pending"', {"timer_mode": 3}),
    ("hpet = 0", {"hpet": False}),
    ("vpt_align = 0", {"vpt_align": False}),
    ("vgt = 1\nvgt_fence_sz = 8", {"vgt": True, "vgt_fence_sz": 8, "max_wp_ram_ranges": 8192}),
    ('disk = ["/img/a.raw,raw,xvda,rw"]', {"disks": ("/img/a.raw,raw,xvda,rw",)}),
    ('vif = ["bridge=xenbr0"]', {"nics": ("bridge=xenbr0",)}),
    ('serial = ["pty", "vc"]', {"serial": ("pty", "vc")}),
    ('serial = "pty"', {"serial": ("pty",)}),
    ('serial = ["a", ["b"], "c"]', {"serial": ("a",)}),  # xl's list walk stops at a list
    (
        'device_model_version = "qemu-xen-traditional"',
        {"device_model_version": "qemu-xen-traditional"},
    ),
    ('altp2m = "mixed"', {"altp2m": True}),
    ('altp2m = "external"', {"altp2m": True}),
    ('altp2m = "disabled"', {}),
    ("altp2mhvm = 1", {"altp2m": True}),
    ("nestedhvm = 1", {"nested_hvm": True}),
    ('maxmem = "-1"', {"max_memkb": (1 << 64) - 1024}),  # xl's l * 1024 in a uint64_t: wraps
]


@pytest.mark.parametrize(("line", "changed"), FIELD_SOURCES, ids=[s[0] for s in FIELD_SOURCES])
def test_each_setting_reaches_its_field_and_no_other(line: str, changed: dict[str, object]) -> None:
    base = 'name = "g"\ntype = "hvm"\nmemory = 1024\n'
    before, after = config(base), config(base + line + "\n")
    assert {k: v for k, v in after.items() if v != before[k]} == changed


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("stdvga = 1", "vga"),
        ('vga = "stdvga"', "vga"),
        ("hpet = 1", "hpet"),
        ("videoram = 8", "videoram"),
    ],
)
def test_an_hvm_only_setting_refuses_a_pv_guest(line: str, key: str) -> None:
    err = refused(f'name = "g"\ntype = "pv"\nkernel = "/k"\n{line}\n')
    assert (err.code, err.option) == (ERROR_INVAL, key)
    assert str(err) == f"{key} is only valid for HVM guests"


def test_a_pv_guest_keeps_what_xl_built_and_no_hvm_field() -> None:
    cfg = build_config(parse_xl_cfg('name = "g"\ntype = "pv"\nkernel = "/k"\n', "t.cfg"))
    assert cfg.idl["c_info"]["type"] == "pv"
    assert cfg.idl["c_info"]["name"] == "g"
    hvm_only = [f.name for f in SCHEMA if f.hvm_only]
    assert hvm_only
    assert all(getattr(cfg, name) is None for name in hvm_only)


@pytest.mark.parametrize(
    "lines",
    ['type = "hvm"', 'type = "hvm"\nvga = "stdvga"', 'type = "hvm"\nstdvga = 1',
     'type = "hvm"\nvga = "none"', 'type = "hvm"\nvga = "qxl"',
     'type = "hvm"\ndevice_model_version = "qemu-xen-traditional"',
     'type = "pv"\nkernel = "/k"', 'type = "pvh"\nkernel = "/k"'],
)  # fmt: skip
def test_every_enum_field_holds_one_of_its_choices(lines: str) -> None:
    # xl refuses any other name (Unknown vga "x" specified, ...), so the model's
    # config only ever holds the names its schema lists.
    cfg = build_config(parse_xl_cfg(f'name = "g"\n{lines}\n', "t.cfg"))
    for f in SCHEMA:
        value = getattr(cfg, f.name)
        if f.kind == "enum" and value is not None:
            assert value in f.choices, (f.name, value)


def _hvm(extra: str = "") -> DomainConfig:
    return build_config(parse_xl_cfg(f'name = "g"\ntype = "hvm"\nmemory = 64\n{extra}', "t.cfg"))


def test_domain_create_passes_hap_and_the_preallocation_on() -> None:
    host = Host(xen="4.17", xen_heap_bytes=8 << 20)
    on, off = domain_create(host, _hvm()), domain_create(host, _hvm("hap = 0\n"))
    assert (host.domains[on].hap, host.domains[off].hap) == (True, False)
    pv = build_config(parse_xl_cfg('name = "p"\ntype = "pv"\nkernel = "/k"\n', "t.cfg"))
    assert host.domains[domain_create(host, pv)].hap is True  # no HAP setting for PV: on
    assert host.heap.account(on).reserved == 0  # nothing set aside unless asked
    asked = domain_create(host, _hvm(), preallocate_bytes=4096)
    assert host.heap.account(asked).reserved == 4096


def test_a_creation_xen_refuses_is_logged_with_the_models_reason() -> None:
    host = Host(xen="4.17", xen_heap_bytes=1 << 16)
    log: list[str] = []
    with pytest.raises(LibxlError) as info:
        domain_create(host, _hvm(), preallocate_bytes=1 << 20, log=log)
    assert info.value.code == ERROR_FAIL
    assert log == [
        "libxl: error: libxl_create.c:libxl__domain_make: domain creation fail: "
        "Cannot allocate memory",
        "ioreqlab: why: cannot reserve 1048576 bytes of Xen heap",
    ]
    with pytest.raises(LibxlError):  # no log asked for: the same refusal
        domain_create(host, _hvm(), preallocate_bytes=1 << 20)


def test_a_param_xen_refuses_names_its_option_and_destroys_the_domain() -> None:
    # A config xl would not build (timer_mode 7), handed to libxl directly.
    host = Host(xen="4.17")
    log: list[str] = []
    with pytest.raises(LibxlError) as info:
        domain_create(host, dataclasses.replace(_hvm(), timer_mode=7), log=log)
    assert (info.value.code, info.value.option) == (ERROR_FAIL, "timer_mode")
    assert str(info.value).startswith("setting HVM_PARAM_TIMER_MODE=7 failed: [Errno 22]")
    assert log[0] == (
        "libxl: error: libxl_dom.c:hvm_set_conf_params: setting HVM_PARAM_TIMER_MODE=7 "
        "failed: Invalid argument"
    )
    assert log[1] == "ioreqlab: why: timer mode 7 is not 0..3"
    assert list(host.domains) == [0]


def test_a_mac_that_would_make_xl_read_past_its_copy_is_refused() -> None:
    # Five octets and nothing after them: xl's sixth strtoul reads past the strdup'd
    # spec (undefined behaviour); the model refuses instead (docs/deviations.md).
    for spec in ("bridge=br0,mac=0:1:2:3:4", "mac=0:1:2:3,4"):  # (the second runs out in
        text = f'name = "g"\ntype = "hvm"\nvif = [ "{spec}" ]\n'  # the rest of the spec)
        with pytest.raises(XlError, match="read past its buffer"):
            build_config(parse_xl_cfg(text, "t.cfg"))


def test_the_resolved_tree_fills_what_the_model_resolves_and_leaves_xls_alone() -> None:
    cfg = _hvm("nestedhvm = 1\nviridian = 1\nvideoram = 0\n")
    before = dataclasses.replace(cfg).idl.__repr__()
    tree = cfg.to_json()
    assert repr(cfg.idl) == before  # a deep copy: xl's own tree is not touched
    b, u = tree["b_info"], tree["b_info"]["u"]
    assert (b["nested_hvm"], u["viridian"], u["altp2m"]) == (True, True, False)
    assert b["video_memkb"] == 0  # videoram = 0 stays 0
    assert tree["c_info"]["hap"] is True
    alt = _hvm("altp2mhvm = 1\n").to_json()["b_info"]["u"]
    assert alt["altp2m"] is True
    vgt = build_config(
        parse_xl_cfg('name = "g"\ntype = "hvm"\nmemory = 1024\nvgt = 1\n', "t.cfg")
    ).to_json()["b_info"]["u"]
    assert (vgt["vgt"], vgt["vgt_fence_sz"]) == (True, 4)
    # A config made without xl's tree (idl empty) resolves all the same.
    bare = dataclasses.replace(cfg, idl={}).to_json()
    assert bare["c_info"]["hap"] is True
    assert bare["b_info"]["u"]["viridian"] is True


def test_a_viridian_enlightenment_list_is_refused_as_not_modelled() -> None:
    text = 'name = "g"\ntype = "hvm"\nviridian = [ "base", "freq" ]\n'
    with pytest.raises(XlError, match="viridian enlightenment lists are not modelled"):
        build_config(parse_xl_cfg(text, "t.cfg"))


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        ('vif = [ "bridge=br0,rate=10Mb/s" ]', "a vif's rate= is not modelled"),
        ("vcpus = 4097", "vcpus=4097: above 4096, not modelled"),
    ],
)
def test_what_the_model_does_not_model_is_refused_by_name(setting: str, why: str) -> None:
    # xl's own refusal, exit 1; the model's words say what is missing.
    cfg = parse_xl_cfg(f'name = "g"\ntype = "hvm"\n{setting}\n', "t.cfg")
    with pytest.raises(XlError, match=why) as err:
        build_config(cfg)
    assert err.value.exit_code == 1
    assert cfg.warnings[-1].endswith(why)


def test_a_uuid_setting_is_read_in_either_case_and_wins_over_the_generated_one() -> None:
    from ioreqlab.toolstack.xl_parse import parse_config_data  # noqa: PLC0415

    text = 'name = "g"\ntype = "hvm"\nuuid = "01234567-89AB-cdef-0123-456789ABCDEF"\n'
    built = parse_config_data(parse_xl_cfg(text, "t.cfg"), uuid=bytes(range(16)))
    assert built.config["c_info"]["uuid"] == bytes.fromhex("0123456789abcdef0123456789abcdef")
    plain = parse_config_data(
        parse_xl_cfg('name = "g"\ntype = "hvm"\n', "t.cfg"), uuid=bytes(range(16))
    )
    assert plain.config["c_info"]["uuid"] == bytes(range(16))


def test_each_xl_key_the_model_leaves_out_is_named_first_in_sorted_order() -> None:
    text = 'name = "g"\ntype = "hvm"\nusb = 1\ncpuid = "host"\n'
    cfg = parse_xl_cfg(text, "t.cfg")
    build_config(cfg)
    notes = [w for w in cfg.warnings if "not modelled" in w]
    assert notes == [
        "ioreqlab: note: xl key `cpuid' is not modelled: it is left out",
        "ioreqlab: note: xl key `usb' is not modelled: it is left out",
    ]
    assert cfg.warnings[:2] == notes


def test_a_refusals_reason_is_its_message_or_else_the_errnos_text() -> None:
    from ioreqlab.errors import XenEINVAL  # noqa: PLC0415
    from ioreqlab.toolstack.libxl import _reason  # noqa: PLC0415

    assert _reason(XenEINVAL("no room for the ioreq pages")) == "no room for the ioreq pages"
    assert _reason(XenEINVAL()) == "[Errno 22] Invalid argument"
