"""The code's shape, checked: each list of the vocabulary spelled once, no import circle,
nodes independent of the command lines, functions of graph/ and nodes/ that fit on a screen."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("graph", "nodes", "tools", "sandbox")
# Sandbox-side sources are self-contained on purpose (they run where the agent's modules
# are not importable), so they may spell what they need.
SELF_CONTAINED = {"sandbox/worker.py"}


def sources() -> dict[str, str]:
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            template_source = relative.startswith("tools/templates/") and path.name in ("configspace.py", "train.py")
            if relative not in SELF_CONTAINED and not template_source:
                files[relative] = path.read_text()
    return files


def module_name(relative: str) -> str:
    return relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


@pytest.mark.parametrize(
    ("what", "pattern", "home"),
    [
        ("facades", r'"hpo",\s*"multi_fidelity"', "tools/vocabulary.py"),
        ("classification metrics", r'"balanced_accuracy",\s*"f1_macro"', "tools/vocabulary.py"),
        ("regression metrics", r'"r2",\s*"rmse",\s*"mae"', "tools/vocabulary.py"),
        ("tasks", r'"classification",\s*"regression",\s*"forecasting"', "tools/vocabulary.py"),
        ("modalities", r'"tabular",\s*"image",\s*"text"', "tools/vocabulary.py"),
        ("components", r'"configspace",\s*"train",\s*"scenario"', "tools/vocabulary.py"),
        ("objectives", r'"train_seconds",\s*"predict_latency"', "tools/vocabulary.py"),
        ("selection rules", r'"knee",\s*"fastest_within"', "tools/vocabulary.py"),
        ("sandbox backends", r'"docker",\s*"process"', "sandbox/__init__.py"),
        ("tabular families", r'"extra_trees",\s*"linear",\s*"svm"', "tools/templates/tabular/spec.py"),
    ],
)
def test_each_list_is_spelled_once(what, pattern, home):
    where = [name for name, text in sources().items() if re.search(pattern, text)]
    assert where == [home], f"the {what} are spelled in {where}; define them once in {home}"


def imports_of(relative: str, text: str) -> set[str]:
    """Project modules this file imports, at any depth (a function-level import counts)."""
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def project_graph() -> dict[str, set[str]]:
    files = sources()
    modules = {module_name(r) for r in files}
    return {
        module_name(r): {m for m in imports_of(r, t) if m in modules and m != module_name(r)} for r, t in files.items()
    }


def test_no_import_circle():
    graph = project_graph()
    # A package's __init__ importing its own submodules is how a package is assembled, not a circle.
    edges = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    state: dict[str, str] = {}
    circles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dep in sorted(edges.get(module, ())):
            if state.get(dep) == "open":
                circles.append(path[path.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_nodes_and_tools_do_not_import_the_command_lines():
    for module, deps in project_graph().items():
        if module.startswith(("nodes", "tools")):
            bad = {d for d in deps if d.startswith(("graph.run", "graph.predict"))}
            assert not bad, f"{module} imports {bad}"


def test_functions_of_graph_and_nodes_fit_on_a_screen():
    long = []
    for relative, text in sources().items():
        if relative.startswith(("graph/", "nodes/")):
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 50:
                    long.append(f"{relative}:{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, "functions over 50 lines: " + ", ".join(long)
