"""Who may import whom (docs/architecture.md, Layers), checked on the source of every module."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("manager", "devices", "web")
#: leaf modules: they import nothing of the project but each other, so everyone may import them
#: (manager.model_ocpp and manager.model_errors are part of the model, re-exported by it)
LEAVES = {"manager.model", "manager.model_ocpp", "manager.model_errors", "manager.files"}


def _imports(path: Path) -> set[str]:
    """Project modules imported by `path`, type-checking-only imports left out."""
    tree = ast.parse(path.read_text("utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in PROJECT)
    return found


def _modules(folder: str) -> dict[str, set[str]]:
    out = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        out[name] = _imports(path)
    return out


def _top(name: str) -> str:
    """`manager.model.Reason` -> `manager.model` (the module part of an imported name)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ROOT.joinpath(*parts[:n])
        if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
            return ".".join(parts[:n])
    return name


def test_devices_see_only_the_model_and_each_other() -> None:
    for module, imports in _modules("devices").items():
        outside = {_top(i) for i in imports if not i.startswith("devices")} - LEAVES
        assert not outside, (module, outside)


def test_web_sees_only_the_facade_and_the_model() -> None:
    for module, imports in _modules("web").items():
        allowed = LEAVES | {"manager.service"}
        outside = {_top(i) for i in imports if not i.startswith("web")} - allowed
        assert not outside, (module, outside)


def test_only_the_composition_root_wires_devices_and_web() -> None:
    for module, imports in _modules("manager").items():
        if module == "manager.app":
            continue
        wired = {i for i in imports if i.startswith(("devices", "web"))}
        assert not wired, (module, wired)


def test_leaves_import_nothing_of_the_project_but_each_other() -> None:
    modules = _modules("manager")
    for leaf in LEAVES:
        assert {_top(i) for i in modules[leaf]} <= LEAVES, leaf
