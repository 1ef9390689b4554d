"""Which of rlpipe's own source files a module imports, read from the source (no import runs).

A train stage depends on the code that determines its numbers. Rather than a hand-kept list,
`imported_files` follows every `import` and `from ... import` statement (function-level ones
included: they run when the function does) from a set of root modules to the files they reach
inside the package. A module named by a string and imported with importlib (the registry's
agent classes) is invisible to it, so callers add such modules as roots themselves. Imports
inside `if TYPE_CHECKING:` never run (only a type checker reads them) and are left out; their
`else:` runs and counts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

PACKAGE = "rlpipe"


def module_file(module: str, root: Path) -> Path | None:
    """The source file of a dotted rlpipe module under root (a package's __init__.py), if any."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _parents(module: str) -> list[str]:
    """A module's enclosing packages, outermost first: importing a.b.c runs a and a.b too."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imports(path: Path, module: str) -> tuple[str, ...]:
    """The dotted rlpipe modules that the file of `module` imports anywhere in its body."""
    return _parsed_imports(path, path.stat().st_mtime_ns, module)


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of tree, less the bodies of `if TYPE_CHECKING:` blocks (their else stays)."""
    found: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending += node.orelse
        else:
            pending += ast.iter_child_nodes(node)
    return found


@cache
def _parsed_imports(path: Path, mtime_ns: int, module: str) -> tuple[str, ...]:
    """_imports, parsed once per file version: dvc.yaml's ~60 stages share most of their files."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[str] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from ..a import b
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            found.append(base)
            # `from pkg import name` imports pkg.name when name is a submodule
            found += [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return tuple(name for name in found if name.split(".")[0] == PACKAGE)


def imported_modules(roots: Iterable[str], root: Path) -> set[str]:
    """Every rlpipe module that importing the root modules can run, roots included."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        path = module_file(module, root)
        if path is None:  # a name imported from a module, not a module itself
            continue
        seen.add(module)
        pending += _parents(module)
        pending += _imports(path, module)
    return seen


def imported_files(roots: Iterable[str], root: Path = Path(".")) -> list[str]:
    """The source files (posix paths relative to root, sorted) of `imported_modules`."""
    files = {module_file(module, root) for module in imported_modules(roots, root)}
    return sorted(path.relative_to(root).as_posix() for path in files if path is not None)
