"""The layer rules that import-linter cannot see: private names stay in their module, and the
EM engine imports without pandas, matplotlib, Dask or scikit-learn (import-linter checks the
declared layers and contracts in `make lint`)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mixfit"


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def private_imports(path: Path) -> list[str]:
    """``from mixfit.x import _name`` of another module (a private module's own package may)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mixfit"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{node.module}.{alias.name}")
    return found


def private_attribute_access(path: Path) -> list[str]:
    """``obj._x`` for any object but ``self``/``cls``: modules use each other's public names (the
    estimator reads its own private attributes only in ``model.py``, where it is defined)."""
    own = {"model.py": {"model"}}.get(path.name, set())
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id not in {"self", "cls", *own}
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_private_name_of_another(path):
    allowed = {"mixfit._numba_kernel"}  # imported by kernels.py when numba is installed
    assert [name for name in private_imports(path) if name not in allowed] == []


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_reads_private_attributes_of_another_object(path):
    assert private_attribute_access(path) == []


def test_the_engine_imports_without_pandas_matplotlib_dask_or_sklearn():
    code = (
        "import sys, mixfit.em, mixfit.accel, mixfit.families, mixfit.sources;"
        "print(sorted(m for m in ('pandas', 'matplotlib', 'dask', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_module_shares_a_public_functions_name():
    import importlib
    from pathlib import Path

    import mixfit

    modules = {p.stem for p in Path(mixfit.__file__).parent.glob("*.py")}
    assert not modules & {name for name in mixfit.__all__ if name[0].islower()}
    importlib.import_module("mixfit.selection")
    assert callable(mixfit.select) and mixfit.select.__module__ == "mixfit.selection"
