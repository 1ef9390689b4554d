"""The package layout keeps its promises: no import cycles, one place that names algorithms,
one place that knows the run folder's file names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "rlpipe"
ALGORITHM_NAMES = ("crossq", "sac", "ppo", "a2c", "dqn")
RUN_FILE_NAMES = ("spec.json", "summary.json", "provenance.json", "result.json", "model.pt",
                  "state.pt", "metrics.csv")  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """rlpipe modules a module imports, at module level or inside functions."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rlpipe"):
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names if a.name.startswith("rlpipe"))
    return imported


def test_no_import_cycles():
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {
        name: {m for m in imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    # A package imports its submodules only through its __init__; that is not a cycle.
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    visiting, done, cycles = set(), set(), []

    def visit(node: str, stack: list[str]) -> None:
        visiting.add(node)
        for nxt in sorted(graph[node]):
            if nxt in visiting:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in done:
                visit(nxt, [*stack, nxt])
        visiting.discard(node)
        done.add(node)

    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    assert cycles == []


def test_only_the_registry_schema_and_algorithm_files_name_algorithms():
    allowed = {"algos/registry.py", "spec/schema.py"}
    literal = re.compile("[\"'](" + "|".join(ALGORITHM_NAMES) + ")[\"']")
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        own_file = relative.startswith("algos/") and path.stem in ALGORITHM_NAMES
        if relative in allowed or own_file:
            continue
        offenders += [f"{relative}: {m.group(0)}" for m in literal.finditer(path.read_text())]
    assert offenders == []


def test_only_the_run_folder_module_spells_run_file_names():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("rundir/"):
            continue
        text = path.read_text()
        offenders += [f"{relative}: {n}" for n in RUN_FILE_NAMES if f'"{n}"' in text]
    assert offenders == []
