"""docs/DESIGN.md's module tree names every module of the package and of tasks/ (one line each) and nothing that is
not there, so the map a newcomer reads first stays the layout."""

from __future__ import annotations

import re

from conftest import ROOT


def _tree_paths() -> dict[str, str]:
    """path -> its line, from the first fenced block of DESIGN.md (two spaces of indent per folder level)."""
    text = (ROOT / "docs" / "DESIGN.md").read_text()
    block = text.split("```\n", 2)[1]
    stack: list[str] = []
    out = {}
    for line in block.splitlines():
        m = re.match(r"( *)(\S+)", line)
        if not m or (len(m.group(1)) % 2):
            continue
        depth = len(m.group(1)) // 2
        stack[depth:] = [m.group(2)]
        out["/".join(s.rstrip("/") for s in stack)] = line
    return out


def _modules() -> set[str]:
    """Every .py file of finbench/ and tasks/ with something in it (an empty __init__.py is no module to describe)."""
    files = [*(ROOT / "finbench").rglob("*.py"), *(ROOT / "tasks").glob("*.py")]
    return {f.relative_to(ROOT).as_posix() for f in files if f.read_text().strip()}


def test_every_module_has_its_line_and_every_line_a_module():
    listed = {p for p in _tree_paths() if p.endswith(".py")}
    assert sorted(_modules() - listed) == [], "add a line to docs/DESIGN.md's module tree"
    assert sorted(listed - _modules()) == [], "docs/DESIGN.md names modules that do not exist"


def test_every_line_says_what_the_module_does():
    for path, line in _tree_paths().items():
        if path.endswith(".py"):
            assert len(line.split()) > 2, line
