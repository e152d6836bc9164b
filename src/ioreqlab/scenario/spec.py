"""Scenario files: what to build and run, checked before anything runs.

A scenario is TOML (layout in ``docs/scenarios.md``)::

    name = "xengt-bdw"
    seed = 2016
    rounds = 40

    [host]
    designs = ["rangeset", "p2m", "p2t"]
    xen_heap_mib = 64

    [[domain]]
    xl_cfg = '''
    name = "vm1"
    type = "hvm"
    memory = 4096
    vgt = 1
    '''
    count = 2                       # vm1-1, vm1-2
    [domain.workload]
    kind = "gpu"
    processes = 8

Every key is known, typed and bounded; anything else is a
:class:`ScenarioError` with one line saying where.  xl.cfg text is parsed by
the toolstack here, so a bad guest config fails the scenario before a run.
The loader takes text and a ``read`` callable for ``xl_cfg_file`` (the CLI
supplies one that reads relative to the scenario file): no I/O of its own.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from ioreqlab.dm.gvt_gpu import GENERATIONS, VGPU_TYPES, CostModel
from ioreqlab.dm.gvt_shipped import POLICIES as GVT_POLICIES
from ioreqlab.hv.wp import DESIGN_NAMES
from ioreqlab.profiles import DEFAULT_XEN, XEN_VERSIONS
from ioreqlab.toolstack import XlCfgError, XlConfig, parse_xl_cfg

__all__ = ["DomainSpec", "HostSpec", "Scenario", "ScenarioError", "WorkloadSpec", "load_scenario"]

WORKLOAD_KINDS = ("gpu", "hostile", "devices", "idle")
SHAPES = ("full-4level", "aliasing-3level")
POLICIES = ("scattered", "chunked", "mixed")


class ScenarioError(ValueError):
    """A scenario that cannot run; the message is one line naming the place."""


@dataclass(frozen=True)
class HostSpec:
    """The physical host."""

    designs: tuple[str, ...] = DESIGN_NAMES
    #: The Xen release the host behaves as (:mod:`ioreqlab.profiles`).
    xen: str = DEFAULT_XEN
    xen_heap_mib: int = 64
    wp_ram_ranges_cap: int = 8192
    gpu: str = "bdw"
    node_layout: str = "list"
    p2t_types: int = 4
    preallocate_mib: int = 0
    #: How the GVT-g mediator shadows (:data:`ioreqlab.dm.gvt_shipped.POLICIES`).
    gvt_policy: str = "shipped"
    #: The physical GPU's out-of-sync pool; None: 2016 XenGT's default for the
    #: generation (4096 BDW/SKL, 2048 HSW); 0 switches out-of-sync off (upstream).
    oos_pages: int | None = None
    #: Shadow pages the GPU may hold before LRU reclaim; 0: no budget.
    shadow_pages: int = 0
    #: The vGPU type the capacity answer counts slots for (vgpu.c's table).
    vgpu_type: str = "8"
    #: The GPU's mappable aperture (low graphics memory), MiB.
    aperture_mib: int = 256


@dataclass(frozen=True)
class WorkloadSpec:
    """What one guest does each round."""

    kind: str = "gpu"
    processes: int = 6
    leaves: int = 40
    ptes_per_table: int = 4
    churn: int = 10
    grow: int = 2
    policy: str = "scattered"
    destroy_every: int = 10
    submit_every: int = 1
    #: ``full-4level`` (a PPGTT per context) or ``aliasing-3level`` (one per guest).
    shape: str = "full-4level"
    buffer_pages_min: int = 1
    buffer_pages_max: int = 16
    #: GPU time one submission's work takes (µs): the denominator of the
    #: mediator's CPU cost per second of GPU work.
    gpu_us_per_submission: int = 2000
    #: Share (%) of new leaf slots bound as 2 MiB pages (full PPGTT, bdw/skl).
    huge_2m_percent: int = 0


@dataclass(frozen=True)
class DomainSpec:
    """One guest (or ``count`` identical ones)."""

    name: str
    xl: XlConfig
    count: int = 1
    workload: WorkloadSpec = field(default_factory=WorkloadSpec)


@dataclass(frozen=True)
class Scenario:
    """A whole scenario."""

    name: str
    description: str
    seed: int
    rounds: int
    host: HostSpec
    domains: tuple[DomainSpec, ...]
    costs: CostModel = field(default_factory=CostModel)


def _take(table: dict[str, Any], where: str, spec: dict[str, tuple[type, Any]]) -> dict[str, Any]:
    """Typed, bounded values of ``table``; unknown keys refused."""
    for key in table:
        if key not in spec:
            known = ", ".join(sorted(spec))
            raise ScenarioError(f"{where}: unknown key {key!r} (known: {known})")
    out: dict[str, Any] = {}
    for key, (kind, check) in spec.items():
        if key not in table:
            continue
        value = table[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is tuple:
            ok = isinstance(value, list) and all(isinstance(x, str) for x in value)
        if not ok:
            want = (
                "a list of strings"
                if kind is tuple
                else f"{'an' if kind is int else 'a'} {kind.__name__}"
            )
            raise ScenarioError(f"{where}: {key} must be {want}, not {type(value).__name__}")
        if check is not None:
            error = check(value)
            if error:
                raise ScenarioError(f"{where}: {key} {error}")
        out[key] = tuple(value) if kind is tuple else value
    return out


@dataclass(frozen=True)
class _Check:
    """A key's check: ``check(v)`` is None or why ``v`` is refused; ``allowed`` says
    what passes (docs/scenarios.md's reference table is made from it)."""

    test: Callable[[Any], str | None]
    allowed: str

    def __call__(self, v: Any) -> str | None:
        return self.test(v)


def _range(lo: int, hi: int) -> _Check:
    return _Check(
        lambda v: None if lo <= v <= hi else f"must be {lo}..{hi}, not {v}", f"{lo:,}..{hi:,}"
    )


def _one_of(choices: tuple[str, ...]) -> _Check:
    return _Check(
        lambda v: None if v in choices else f"must be one of {', '.join(choices)}, not {v!r}",
        " \\| ".join(choices),
    )


def _check_designs(v: tuple[str, ...]) -> str | None:
    bad = [d for d in v if d not in DESIGN_NAMES]
    if bad or not v:
        return f"must name designs among {', '.join(DESIGN_NAMES)} (got {', '.join(bad) or 'none'})"
    return None


_designs = _Check(_check_designs, "a non-empty list of " + ", ".join(DESIGN_NAMES))


_TOP = {
    "name": (str, None),
    "description": (str, None),
    "seed": (int, _range(0, 2**63)),
    "rounds": (int, _range(1, 100_000)),
    "host": (dict, None),
    "domain": (list, None),
    "costs": (dict, None),
}
_HOST = {
    "designs": (tuple, _designs),
    "xen": (str, _one_of(XEN_VERSIONS)),
    "xen_heap_mib": (int, _range(1, 1 << 20)),
    "wp_ram_ranges_cap": (int, _range(0, 2**32 - 1)),
    "gpu": (str, _one_of(("hsw", "bdw", "skl"))),
    "node_layout": (str, _one_of(("list", "rbtree"))),
    "p2t_types": (int, _range(1, 8)),
    "preallocate_mib": (int, _range(0, 1 << 20)),
    "gvt_policy": (str, _one_of(tuple(GVT_POLICIES))),
    "oos_pages": (int, _range(0, 1 << 20)),
    "shadow_pages": (int, _range(0, 1 << 30)),
    "vgpu_type": (str, _one_of(tuple(VGPU_TYPES))),
    "aperture_mib": (int, _range(128, 4096)),
}
_DOMAIN = {
    "xl_cfg": (str, None),
    "xl_cfg_file": (str, None),
    "count": (int, _range(1, 64)),
    "workload": (dict, None),
}
_WORKLOAD = {
    "kind": (str, _one_of(WORKLOAD_KINDS)),
    "processes": (int, _range(0, 1000)),
    "leaves": (int, _range(0, 100_000)),
    "ptes_per_table": (int, _range(1, 512)),
    "churn": (int, _range(0, 100_000)),
    "grow": (int, _range(0, 10_000)),
    "policy": (str, _one_of(POLICIES)),
    "destroy_every": (int, _range(0, 100_000)),
    "submit_every": (int, _range(1, 100_000)),
    "shape": (str, _one_of(SHAPES)),
    "buffer_pages_min": (int, _range(1, 512)),
    "buffer_pages_max": (int, _range(1, 512)),
    "gpu_us_per_submission": (int, _range(1, 10_000_000)),
    "huge_2m_percent": (int, _range(0, 100)),
}
_COSTS: dict[str, tuple[type, Any]] = {n: (int, _range(0, 10**9)) for n in CostModel().names()}


_FREE = {
    "xl_cfg": "xl.cfg text (exactly one of xl_cfg and xl_cfg_file)",
    "xl_cfg_file": "a file in the scenario's folder or below it",
}
_TYPE_NAMES = {"str": "string", "int": "integer", "tuple": "list of strings"}


def reference() -> list[tuple[str, str, str, str, str]]:
    """Every key a scenario may have: ``(table, key, type, default, allowed)``."""
    defaults: dict[str, dict[str, object]] = {
        "": {"name": "the file's name", "description": "", "seed": 0, "rounds": 30},
        "[host]": {f.name: f.default for f in fields(HostSpec)},
        "[[domain]]": {"count": 1},
        "[domain.workload]": {f.name: f.default for f in fields(WorkloadSpec)},
        "[costs]": {f.name: f.default for f in fields(CostModel)},
    }
    defaults["[host]"]["oos_pages"] = "2016 XenGT's for the GPU (4096; 2048 on hsw)"
    rows = []
    for table, keys in (("", _TOP), ("[host]", _HOST), ("[[domain]]", _DOMAIN),
                        ("[domain.workload]", _WORKLOAD), ("[costs]", _COSTS)):  # fmt: skip
        for key, (kind, check) in keys.items():
            if kind in (dict, list) and key in ("host", "domain", "workload", "costs"):
                continue  # the tables themselves
            default = defaults[table].get(key, "—")
            if isinstance(default, tuple):
                default = ", ".join(default)
            allowed = check.allowed if isinstance(check, _Check) else _FREE.get(key, "any text")
            kind_name = _TYPE_NAMES.get(kind.__name__, kind.__name__)
            rows.append((table or "(top)", key, kind_name, str(default), allowed))
    return rows


#: A scenario is a page of TOML: 1 MiB is far more than any needs.
SCENARIO_MAX_BYTES = 1 << 20
#: Arrays, inline tables and dotted keys nest a few levels in a scenario; 64 is
#: plenty.  (tomllib's time grows with the square of a dotted key's parts: one
#: key of 10,000 parts takes most of a second, a 1 MiB one half an hour.)
SCENARIO_MAX_NESTING = 64
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_- \t")


def _check_bounds(text: str, source: str) -> None:
    """Refuse a text too long, or nested too deeply, before the TOML parser sees it."""
    if len(text) > SCENARIO_MAX_BYTES:
        raise ScenarioError(f"{source}: {len(text):,} characters, more than a scenario may have")
    depth, dots, quote, i = 0, 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch in (quote, "\n"):
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            dots += 1  # a dotted key's parts are tables nested in one another
            if dots >= SCENARIO_MAX_NESTING:
                raise ScenarioError(
                    f"{source}: a dotted key of over {SCENARIO_MAX_NESTING} parts"
                    f" (line {text.count(chr(10), 0, i) + 1})"
                )
        elif ch not in _KEY_CHARS:
            dots = 0
        if not quote and ch == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
            dots = 0
        elif not quote and ch in "[{":
            depth += 1
            if depth > SCENARIO_MAX_NESTING:
                raise ScenarioError(
                    f"{source}: arrays or tables nested over {SCENARIO_MAX_NESTING} levels deep"
                )
        elif not quote and ch in "]}":
            depth = max(depth - 1, 0)
        i += 1


def load_scenario(
    text: str, source: str = "scenario", *, read: Callable[[str], str] | None = None
) -> Scenario:
    """Parse and check a scenario; :class:`ScenarioError` on anything wrong.

    Before parsing, the text is bounded: at most :data:`SCENARIO_MAX_BYTES`
    characters and :data:`SCENARIO_MAX_NESTING` levels of arrays and inline
    tables, so no input can exhaust the parser's stack, time or memory.
    """
    _check_bounds(text, source)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{source}: not valid TOML: {err}") from None
    except RecursionError:  # pragma: no cover - the nesting bound comes first
        raise ScenarioError(f"{source}: nested too deeply") from None
    top = _take(doc, source, _TOP)
    host = HostSpec(**_take(top.get("host", {}), f"{source} [host]", _HOST))
    raw_domains = top.get("domain", [])
    if not raw_domains:
        raise ScenarioError(f"{source}: no [[domain]] to run")
    domains = []
    for i, raw in enumerate(raw_domains, 1):
        where = f"{source} [[domain]] #{i}"
        if not isinstance(raw, dict):
            raise ScenarioError(f"{where}: must be a table")
        d = _take(raw, where, _DOMAIN)
        xl = _xl(d, where, read)
        name = xl.get_string("name")
        if name is None:
            raise ScenarioError(f"{where}: the xl.cfg has no name")
        workload = WorkloadSpec(**_take(d.get("workload", {}), f"{where} workload", _WORKLOAD))
        if workload.huge_2m_percent and (workload.shape != "full-4level" or host.gpu == "hsw"):
            raise ScenarioError(
                f"{where} workload: huge_2m_percent needs shape full-4level on bdw or skl"
                " (i915 maps 2 MiB pages only in a 48-bit PPGTT)"
            )
        if workload.buffer_pages_min > workload.buffer_pages_max:
            raise ScenarioError(
                f"{where} workload: buffer_pages_min {workload.buffer_pages_min} is above"
                f" buffer_pages_max {workload.buffer_pages_max}"
            )
        domains.append(DomainSpec(name, xl, d.get("count", 1), workload))
    names = [
        f"{d.name}-{k}" if d.count > 1 else d.name for d in domains for k in range(1, d.count + 1)
    ]
    if len(set(names)) != len(names):
        raise ScenarioError(f"{source}: domain names are not unique: {', '.join(sorted(names))}")
    vgpus = sum(d.count for d in domains if d.xl.get_long("vgt", quiet=True))
    most = GENERATIONS[host.gpu].max_vgpus
    if vgpus > most:
        raise ScenarioError(
            f"{source}: {vgpus} vGPU guests on one {_GPU_NAMES[host.gpu]} GPU, which GVT-g"
            f" shares among at most {most}"
        )
    return Scenario(
        name=top.get("name", source),
        description=top.get("description", ""),
        seed=top.get("seed", 0),
        rounds=top.get("rounds", 30),
        host=host,
        domains=tuple(domains),
        costs=CostModel(**_take(top.get("costs", {}), f"{source} [costs]", _COSTS)),
    )


_GPU_NAMES = {"hsw": "Haswell", "bdw": "Broadwell", "skl": "Skylake"}


def _xl(d: dict[str, Any], where: str, read: Callable[[str], str] | None) -> XlConfig:
    if ("xl_cfg" in d) == ("xl_cfg_file" in d):
        raise ScenarioError(f"{where}: give exactly one of xl_cfg and xl_cfg_file")
    if "xl_cfg" in d:
        text, src = d["xl_cfg"], f"{where} xl_cfg"
    else:
        path = d["xl_cfg_file"]
        if read is None:
            raise ScenarioError(f"{where}: xl_cfg_file {path!r} cannot be read here")
        try:
            text = read(path)
        except OSError as err:
            raise ScenarioError(
                f"{where}: cannot read xl_cfg_file {path!r}: {err.strerror}"
            ) from None
        src = path
    try:
        return parse_xl_cfg(text, src)
    except XlCfgError as err:
        raise ScenarioError(err.messages[0]) from None
