"""The tree is the architecture: every import inside ``core`` points down the layers of ARCHITECTURE.md.

The rule itself is linter configuration now: ruff's banned-api (flake8-tidy-imports), one ``ruff.toml`` per folder,
reported by ``bash run.sh lint``. Moved there from this file:

- a package of core importing a layer above its own, or an entry point (``core/<package>/ruff.toml``);
- core importing Streamlit, ``ui``, the pages, ``app``, ``benchmarks`` or ``tests`` (``core/ruff.toml``);
- relative imports, which banned-api could not see (``ban-relative-imports`` in ``pyproject.toml``).

Kept here, because configuration cannot say it or because the configuration itself needs checking:

- ``LAYERS`` is the order, and each package's ``ruff.toml`` bans exactly the layers above it, so a new package or a
  reordering cannot leave a layer unbanned (ruff reads only the nearest ``ruff.toml``: a package without one would
  fall back to ``core/ruff.toml`` and its layer rule would silently vanish);
- the base modules (``core/config.py``, ``errors.py``, ``registry.py``, ``rng.py``) import no package of core: they
  share the ``core/`` folder with the entry points, and ruff configures folders, not files;
- no cycle between modules of core (ruff has no cycle check);
- the configuration flags what it should, on a probe and on the tree (this runs ruff, so ``bash run.sh test``
  holds the layers even where the lint step is not run).
"""

from __future__ import annotations

import ast
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"

# Lowest first. A module may import its own layer (its package, or its fellow base / entry modules)
# and anything in a lower layer.
LAYERS = [
    {"core.config", "core.errors", "core.registry", "core.rng"},  # base modules
    {"core.data"},
    {"core.graphs"},
    {"core.models"},
    {"core.training"},
    {"core.analysis"},
    {"core.export"},
    {"core.figures"},
    {"core.cli", "core.bench", "core.__main__"},  # entry points
]
BASE, PACKAGES, ENTRY = LAYERS[0], [next(iter(layer)) for layer in LAYERS[1:-1]], LAYERS[-1]
OUTSIDE = {"streamlit", "ui", "app_pages", "app", "benchmarks", "tests"}  # what no module of core imports


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
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def banned(folder: Path) -> set[str]:
    """The names a folder's ruff.toml bans, after checking that it extends the project's settings."""
    config = tomllib.loads((folder / "ruff.toml").read_text())
    assert (folder / config.get("extend", "")).resolve() == ROOT / "pyproject.toml", f"{folder}/ruff.toml: extend"
    return set(config["lint"]["flake8-tidy-imports"]["banned-api"])


def ruff(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run the project's ruff (requirements-dev.txt) from the repository root, with its configuration."""
    from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]  # ruff's package ships no types

    return subprocess.run(
        [find_ruff_bin(), "check", "--no-cache", "--output-format", "concise", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- what configuration cannot say -----------------------------------------------------------------


def test_every_module_is_in_a_layer():
    for module in MODULES:
        if module != "core":
            _rank(module)


def test_the_base_modules_import_no_package_of_core():
    upward = []
    for module in sorted(BASE):
        path = MODULES[module]
        for name, line, _ in imports(path, module):
            target = _resolve(name) if name.startswith("core") else None
            if target and target != "core" and _unit(target) not in BASE:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not upward, "a base module imports a package of core:\n" + "\n".join(sorted(set(upward)))


def test_no_import_cycles():
    """Lazy imports (inside functions) count too: a store entity reads its config through core.training.run_config,
    which never reaches the store, so no allowance is needed."""
    cycle = find_cycle(core_edges())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("package", ["data", "graphs", "models", "training", "analysis", "export", "figures"])
def test_each_package_says_what_it_holds(package):
    doc = ast.get_docstring(ast.parse((CORE / package / "__init__.py").read_text()))
    assert doc and len(doc.splitlines()) <= 8, f"core/{package}/__init__.py needs a short docstring"


# --- the linter's configuration follows LAYERS -----------------------------------------------------


def test_each_package_bans_the_layers_above_it_and_everything_outside_core():
    assert banned(CORE) == OUTSIDE
    for rank, package in enumerate(PACKAGES, start=1):
        above = {unit for layer in LAYERS[rank + 1 :] for unit in layer}
        assert banned(CORE / package.split(".")[1]) == above | OUTSIDE, f"core/{package.split('.')[1]}/ruff.toml"


def test_every_package_of_core_is_a_layer_or_an_entry_point():
    folders = {f"core.{p.parent.name}" for p in CORE.glob("*/__init__.py")}
    assert folders <= set(PACKAGES) | ENTRY, f"add {sorted(folders - set(PACKAGES) - ENTRY)} to LAYERS"


def test_the_linter_flags_upward_imports_outside_imports_and_relative_imports():
    probe = (
        "import streamlit as st\n"
        "from core.training.store import RunStore\n"
        "from core.models import MODELS\n"
        "from core.graphs.grid import grid_graph\n"
        "def later():\n"
        "    from core.figures import common\n"
        "    from ui import links\n"
        "from . import sibling\n"
    )
    found = ruff("--select", "TID251,TID252", "--stdin-filename", "core/graphs/probe.py", "-", stdin=probe).stdout
    flagged = {line.split(":")[1] for line in found.splitlines() if line.startswith("core/graphs/probe.py:")}
    assert flagged == {"1", "2", "3", "6", "7", "8"}, found  # not line 4: a package may import its own layer


def test_the_linter_finds_no_layering_breach_in_the_tree():
    done = ruff("--select", "TID251,TID252", "core", "ui", "app_pages", "app.py")
    assert done.returncode == 0, done.stdout + done.stderr


# --- the checker itself catches what it should -------------------------------------------------


def test_checker_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_imports_resolve_relative_and_attribute_imports(tmp_path):
    mod = tmp_path / "mod.py"
    mod.write_text("from core.training.store import RunStore\n\ndef f():\n    from . import sibling\n")
    found = imports(mod, "core.analysis.mod")
    assert ("core.training.store.RunStore", 1, True) in found
    assert ("core.analysis.sibling", 4, False) in found
    assert _resolve("core.training.store.RunStore") == "core.training.store"
