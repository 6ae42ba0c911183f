"""The package's import graph, read from the source with `ast`: no import cycles among finbench's modules (counting
the imports inside functions too: a deferred import that closes a loop is still a loop in the design) and no private
name (`_x`) of one finbench module used by another, imported or read as an attribute."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from conftest import ROOT

# finbench.tasks ships from tasks/ (pyproject's package-dir); lm-eval imports its glue as top-level `utils`/`knowledge`
PACKAGES = {"finbench": ROOT / "finbench", "finbench.tasks": ROOT / "tasks"}


def _modules() -> dict[str, Path]:
    out = {}
    for package, folder in PACKAGES.items():
        for f in sorted(folder.rglob("*.py")):
            parts = f.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join((package, *parts))
            if package == "finbench" and parts[:1] == ("tasks",):
                continue
            out[name] = f
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the nodes under `if TYPE_CHECKING:` (imports for annotations only: never executed)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def _resolve(name: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".") if _is_package(name) else name.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _module_of(target: str) -> str | None:
    """The finbench module a dotted import target names (its longest known prefix), or None for other packages."""
    if target in ("utils", "knowledge"):  # the glue imported as lm-eval does (sys.path = tasks/)
        target = f"finbench.tasks.{target}"
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in MODULES:
            return ".".join(parts[:i])
    return None


def _imports(name: str) -> tuple[set[str], list[str], dict[str, str]]:
    """(finbench modules `name` imports, private names it imports from them, local name -> finbench module)."""
    tree = ast.parse(MODULES[name].read_text())
    skip = _type_checking_only(tree)
    deps, private, bound = set(), [], {}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                mod = _module_of(alias.name)
                if mod:
                    deps.add(mod)
                    bound[alias.asname or alias.name.split(".")[0]] = mod if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(name, node)
            mod = _module_of(source)
            if mod is None:
                continue
            for alias in node.names:
                sub = _module_of(f"{source}.{alias.name}")
                if sub and sub != mod:  # `from finbench import metrics`: the submodule itself
                    deps.add(sub)
                    bound[alias.asname or alias.name] = sub
                else:
                    deps.add(mod)
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        private.append(f"from {source} import {alias.name}")
    deps.discard(name)
    # a package's own __init__ is imported on the way to any of its submodules: that edge is not a dependency
    deps = {d for d in deps if not (_is_package(d) and name.startswith(d + "."))}
    return deps, private, bound


@functools.cache
def _graph() -> dict[str, tuple[set[str], list[str], dict[str, str]]]:
    """Every module's `_imports`, parsed once per process when a test first asks (not at collection, where every
    xdist worker would pay it)."""
    return {name: _imports(name) for name in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_the_package():
    assert {"finbench.cli", "finbench.registry", "finbench.finetune.train", "finbench.tasks.utils"} <= set(MODULES)
    GRAPH = _graph()
    assert "finbench.registry" in GRAPH["finbench.metrics"][0]  # `from .registry import ...`
    assert "finbench.registry" in GRAPH["finbench.tasks.utils"][0]  # `from finbench import ..., registry`
    assert GRAPH["finbench.tasks.utils"][2]["metrics"] == "finbench.metrics"  # names whose `_x` attributes count
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert _cycles({name: deps for name, (deps, _, _) in _graph().items()}) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_name_crosses_modules(name):
    _, private, bound = _graph()[name]
    private = list(private)  # the cached graph stays as parsed
    tree = ast.parse(MODULES[name].read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            private.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    assert private == []
