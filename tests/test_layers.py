"""The architecture of STYLE.md, enforced: each module imports only lower layers.

Layer numbers: 0 vocabulary, 1 data structures, 2 hypervisor, 3 toolstack and
device models, 4 assembly and execution, 5 analysis, 6 CLI.  A module may
import its own layer and those below it.  Modules not listed fail the test, so
a new module has to be placed deliberately.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ioreqlab

PACKAGE = Path(ioreqlab.__file__).parent

LAYERS: dict[str, int] = {
    "ioreqlab": 2,  # the package root is the facade that also offers ioreqlab.Host
    "ioreqlab.errors": 0,
    "ioreqlab.abi": 0,
    "ioreqlab.abi.constants": 0,
    "ioreqlab.abi.ioreq": 0,
    "ioreqlab.abi.structs": 0,
    "ioreqlab.abi.value": 0,
    "ioreqlab.profiles": 0,
    "ioreqlab.alloc": 1,
    "ioreqlab.rangeset": 1,
    "ioreqlab.rangeset_ref": 1,
    "ioreqlab.p2m": 1,
    "ioreqlab.p2t": 1,
    "ioreqlab.hv": 2,
    "ioreqlab.host": 2,
    "ioreqlab.devicemodel": 3,
    "ioreqlab.wpclient": 3,
    "ioreqlab.toolstack": 3,
    "ioreqlab.dm": 3,
    "ioreqlab.workload": 4,
    "ioreqlab.scenario": 4,
    "ioreqlab.analysis": 5,
    "ioreqlab.realdm": 5,  # the process boundary: real device models, sockets, a C compiler
    "ioreqlab.cli": 6,
    "ioreqlab.cli_files": 6,
    "ioreqlab.cli_xl": 6,
    "ioreqlab.cli_plots": 6,
    "ioreqlab.cli_dm": 6,
    "ioreqlab.cli_sweep": 6,
    "ioreqlab.__main__": 6,
}

# Core layers never do I/O, read the clock or use global randomness (STYLE.md).
# (``os`` is allowed for ``os.strerror`` only; calls to open/print are checked below.)
# ``random`` is allowed for ``random.Random(seed)`` only: global randomness is checked below.
FORBIDDEN_IN_CORE = {"sys", "time", "subprocess", "pathlib", "io", "socket", "shutil"}
FORBIDDEN_CALLS = {"open", "print", "input"}
CORE_MAX_LAYER = 4


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FORBIDDEN_CALLS
        ):
            found.add(f"<call {node.func.id}>")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "random"
            and node.attr != "Random"
        ):
            found.add(f"<call random.{node.attr}>")
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module != "ioreqlab":
                found.add(node.module)
                continue
            for alias in node.names:  # from ioreqlab import X: a module, or the facade
                sub = f"ioreqlab.{alias.name}"
                is_module = (PACKAGE / alias.name).is_dir() or (
                    PACKAGE / f"{alias.name}.py"
                ).exists()
                found.add(sub if is_module else "ioreqlab")
    return found


def layer_of(name: str) -> int:
    probe = name
    while probe not in LAYERS:
        assert "." in probe, f"module {name} has no layer: place it in tests/test_layers.py"
        probe = probe.rsplit(".", 1)[0]
    return LAYERS[probe]


def test_every_module_is_placed_and_imports_downwards() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        mine = layer_of(name)  # a package's layer covers its submodules
        for imported in imports_of(path):
            if imported.split(".")[0] == "ioreqlab":
                assert layer_of(imported) <= mine, f"{name} (layer {mine}) imports {imported}"
            elif mine <= CORE_MAX_LAYER:
                root = imported.split(".")[0]
                assert root not in FORBIDDEN_IN_CORE, f"{name} is core but imports {imported}"
                assert not imported.startswith("<call"), f"{name} is core but does {imported}"


def test_from_ioreqlab_import_is_resolved(tmp_path: Path) -> None:
    # A name from the facade counts as the facade's layer, a module as its own.
    scratch = tmp_path / "probe.py"
    scratch.write_text("from ioreqlab import Host\nfrom ioreqlab import devicemodel\n")
    assert imports_of(scratch) == {"ioreqlab", "ioreqlab.devicemodel"}
    assert layer_of("ioreqlab") == 2
    assert layer_of("ioreqlab.devicemodel") == 3


def test_host_is_importable_from_the_package() -> None:
    from ioreqlab import Host  # noqa: PLC0415  (the import is what is tested)
    from ioreqlab.host import Host as Direct  # noqa: PLC0415

    assert Host is Direct
    with pytest.raises(AttributeError):
        getattr(ioreqlab, "NoSuchThing")  # noqa: B009  (a missing name must stay missing)


def _import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    names = {module_name(p) for p in PACKAGE.rglob("*.py")}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        deps = set()
        for imported in imports_of(path):  # TYPE_CHECKING and function-local ones too
            while imported not in names and "." in imported:
                imported = imported.rsplit(".", 1)[0]
            if imported in names and imported != name:
                deps.add(imported)
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    # Packages import their own submodules in __init__ (a package is not a cycle
    # with what it re-exports), so those edges are left out.
    graph = _import_graph()
    for name, deps in graph.items():
        if name != "ioreqlab":
            graph[name] = {d for d in deps if not d.startswith(name + ".")}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_property_runs_ignore_literals_in_the_source() -> None:
    # tests/conftest.py stops Hypothesis seeding draws from the project's constants.
    from hypothesis.internal.conjecture import providers  # noqa: PLC0415

    constants = providers._get_local_constants()
    assert len(constants) == 0


#: Modules allowed past STYLE.md's ~600-line ceiling, with the reason.
LONG_MODULES = {
    # One data structure: its node operations, their complexity notes and the
    # invariant check belong together (sortedcontainers' own modules are longer).
    "ioreqlab.rangeset": 760,
}


def test_modules_stay_under_the_size_ceiling() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        lines = len(path.read_text().splitlines())
        assert lines <= LONG_MODULES.get(name, 600), f"{name} has {lines} lines"


def test_every_core_module_is_in_a_mutation_stage() -> None:
    # Issue 17's core: rangeset, hv/*, p2m, p2t, toolstack/*, dm/gvtg.
    from tests.mutation import STAGES  # noqa: PLC0415  (the stage table is what is tested)

    staged = {m for modules, _ in STAGES.values() for m in modules}
    core = [p for p in (PACKAGE / "hv").glob("*.py") if p.name != "__init__.py"]
    core += list((PACKAGE / "toolstack").glob("*.py"))
    for path in core:
        name = f"{path.parent.name}/{path.name}"
        assert name in staged, f"{name} is in no mutation stage"
    for name in ("rangeset.py", "p2m.py", "p2t.py", "dm/gvtg.py",
                 "dm/gvt_shipped.py", "dm/gvt_gpu.py"):  # fmt: skip
        assert name in staged
    for _, tests in STAGES.values():
        for t in tests:
            assert (Path(__file__).parent / f"{t}.py").exists(), t
