"""No module imports another module's private names: what a module shares it names without a leading underscore.

Kept as a test rather than linter configuration: ruff's import-private-name (PLC2701) is a preview rule, allows a
private import from a module of the same package (this rule does not), and is about third-party names too (escnn's
``_numerical`` in core/models/escnn_net/patch.py is a deliberate patch of escnn)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for folder in ("core", "ui", "app_pages") for p in (ROOT / folder).rglob("*.py")] + [ROOT / "app.py"]


def private_imports(path: Path) -> list[str]:
    """``module:name`` for each ``from core... import _name`` (or ui...) in ``path``, lazy imports included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("core", "ui"):
            found += [
                f"{node.module}:{a.name}" for a in node.names if a.name.startswith("_") and not a.name.startswith("__")
            ]
    return found


def test_the_checker_finds_a_private_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from core.data.datasets import _raw_5k, load_dataset\n")
    assert private_imports(sample) == ["core.data.datasets:_raw_5k"]


def test_no_module_imports_another_modules_private_names():
    offenders = {str(p.relative_to(ROOT)): names for p in SOURCES if (names := private_imports(p))}
    assert not offenders, offenders
