"""The tree is the architecture: every import inside ``core`` points down the layers of ARCHITECTURE.md.

Walks every module of the package with ``ast`` (function-level imports included, since a lazy
import is still a dependency) and fails on an import that points upward, a cycle between modules,
or any import of Streamlit or the UI package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"

# Lowest first. A module may import its own layer (its package, or its fellow base / entry modules)
# and anything in a lower layer.
LAYERS = [
    {"core.config", "core.errors", "core.registry", "core.rng"},  # base modules
    {"core.data"},
    {"core.graphs"},
    {"core.models"},
    {"core.training"},
    {"core.analysis"},
    {"core.figures"},
    {"core.cli", "core.bench", "core.__main__"},  # entry points
]
FORBIDDEN_ROOTS = {"streamlit", "ui"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(CORE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _unit(module: str) -> str:
    """The layer unit a module belongs to: ``core.training.runs`` -> ``core.training``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _rank(module: str) -> int:
    unit = _unit(module)
    for rank, units in enumerate(LAYERS):
        if unit in units:
            return rank
    raise AssertionError(f"{module} is in no layer of tests/core/test_layering.py: add its package to LAYERS")


def _resolve(name: str) -> str | None:
    """The module of ``core`` that ``name`` (a module or a module's attribute) refers to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(path: Path, module: str) -> list[tuple[str, int, bool]]:
    """(imported name, line, at module level) for every import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top_level = {id(node) for node in tree.body}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found += [(f"{base}.{alias.name}", node.lineno, id(node) in top_level) for alias in node.names]
            found.append((base, node.lineno, id(node) in top_level))
    return found


def core_edges(module_level_only: bool = False) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for name, _, top in imports(path, module):
            target = _resolve(name) if name.startswith("core") else None
            if target and target != module and (top or not module_level_only):
                edges[module].add(target)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle in the directed graph ``edges`` as a list of nodes, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def _is_upward(src: str, dst: str) -> bool:
    """Each package is a layer of its own; the base and entry modules share theirs (cycles are checked apart)."""
    return _rank(dst) > _rank(src)


def test_every_module_is_in_a_layer():
    for module in MODULES:
        if module != "core":
            _rank(module)


def test_imports_point_downward():
    upward = []
    for module, path in MODULES.items():
        if module == "core":
            continue
        for name, line, _ in imports(path, module):
            target = _resolve(name) if name.startswith("core") else None
            if target and target != "core" and _is_upward(module, target):
                upward.append(f"{path.relative_to(CORE.parent)}:{line} imports {target}")
    assert not upward, "imports that point upward:\n" + "\n".join(sorted(set(upward)))


def test_no_import_cycles():
    cycle = find_cycle(core_edges())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_core_never_imports_streamlit_or_ui():
    bad = []
    for module, path in MODULES.items():
        for name, line, _ in imports(path, module):
            if name.split(".")[0] in FORBIDDEN_ROOTS:
                bad.append(f"{path.relative_to(CORE.parent)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


# --- the checker itself catches what it should -------------------------------------------------


def test_checker_flags_upward_imports_and_cycles():
    assert _is_upward("core.data.datasets", "core.training.store")
    assert _is_upward("core.analysis.results", "core.figures.results")
    assert _is_upward("core.config", "core.data.datasets")
    assert not _is_upward("core.figures.results", "core.analysis.embeddings")
    assert not _is_upward("core.training.runs", "core.training.store")  # same package
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_imports_resolve_relative_and_attribute_imports(tmp_path):
    mod = tmp_path / "mod.py"
    mod.write_text("from core.training.store import RunStore\n\ndef f():\n    from . import sibling\n")
    found = imports(mod, "core.analysis.mod")
    assert ("core.training.store.RunStore", 1, True) in found
    assert ("core.analysis.sibling", 4, False) in found
    assert _resolve("core.training.store.RunStore") == "core.training.store"


@pytest.mark.parametrize("package", ["data", "graphs", "models", "training", "analysis", "figures"])
def test_each_package_says_what_it_holds(package):
    doc = ast.get_docstring(ast.parse((CORE / package / "__init__.py").read_text()))
    assert doc and len(doc.splitlines()) <= 8, f"core/{package}/__init__.py needs a short docstring"
