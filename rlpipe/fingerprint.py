"""Code fingerprints: a digest of what a source file does, blind to what only a reader or a type
checker sees.

A train stage that depended on its source files directly went stale on any edit, so typing a
module, fixing a docstring or a comment re-trained every row (tens of CPU core-hours). Instead,
each group of stages depends on a small fingerprint file, itself the output of a cheap DVC stage
that depends on the source files. When the sources change, DVC re-runs the fingerprint stage; if
the new fingerprint is identical, the stages downstream are unchanged (DVC compares their
dependency's hash) and nothing re-trains. A change to what the code does changes the fingerprint
and makes those stages stale, as before.

The digest is taken over the file's syntax tree with these parts removed, each of which Python
never executes or whose result no code in rlpipe's training reads:
- comments and layout (the tree has none), docstrings and other bare constant statements;
- annotations of function arguments and return values, and of assignments outside class bodies
  (class bodies keep theirs: pydantic models and dataclasses build fields from them); a function
  with a decorator outside SAFE_DECORATORS keeps its annotations, as such a decorator may read them;
- `if TYPE_CHECKING:` blocks (their `else:` stays), imports from the typing modules
  (TYPING_MODULES), and `cast(T, value)` from typing, which returns `value` unchanged.
Anything else, a renamed variable or a moved function included, changes the digest: the rule
errs towards re-training. The tree is written out field by field without positions and without
empty fields, so that a Python version adding an empty field to a node gives the same digest.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import cast

from rlpipe.rundir.atomic import atomic_write_text

FORMAT = "rlpipe-code-fingerprint/1"
"""Names the rule above in every fingerprint file: a new rule must change it."""
TYPING_MODULES = frozenset({"typing", "typing_extensions", "collections.abc", "numpy.typing"})
SAFE_DECORATORS = frozenset(
    {
        "abstractmethod",
        "cache",
        "cached_property",
        "classmethod",
        "inference_mode",
        "lru_cache",
        "no_grad",
        "override",
        "property",
        "setter",
        "staticmethod",
    }
)
"""Decorators known not to read the annotations of the function they wrap."""


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


class _Strip(ast.NodeTransformer):
    """Removes what the module docstring lists, in place."""

    def __init__(self, cast_names: set[str]) -> None:
        self.cast_names = cast_names
        self.class_depth = 0

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
        if isinstance(node.value, ast.Constant):
            return None
        return self.generic_visit(node)

    def visit_If(self, node: ast.If) -> ast.AST | list[ast.stmt] | None:
        if _is_type_checking(node.test):
            kept: list[ast.stmt] = []
            for stmt in node.orelse:
                result = self.visit(stmt)
                kept += result if isinstance(result, list) else [result] if result else []
            return kept or None
        return self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST | None:
        if node.module in TYPING_MODULES or node.module == "__future__":
            return None
        return node

    def visit_Import(self, node: ast.Import) -> ast.AST | None:
        kept = [alias for alias in node.names if alias.name not in TYPING_MODULES]
        if not kept:
            return None
        node.names = kept
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.class_depth += 1
        try:
            return self.generic_visit(node)
        finally:
            self.class_depth -= 1

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        if all(_decorator_name(d) in SAFE_DECORATORS for d in node.decorator_list):
            node.returns = None
            arguments = node.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                arg.annotation = None
            for arg in (arguments.vararg, arguments.kwarg):
                if arg is not None:
                    arg.annotation = None
        depth, self.class_depth = self.class_depth, 0  # a function's body is not a class body
        try:
            return self.generic_visit(node)
        finally:
            self.class_depth = depth

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
        if self.class_depth:
            return self.generic_visit(node)
        if node.value is None:
            return None
        return self.generic_visit(ast.Assign(targets=[node.target], value=node.value))

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        is_cast = (isinstance(func, ast.Name) and func.id in self.cast_names) or (
            isinstance(func, ast.Attribute)
            and func.attr == "cast"
            and isinstance(func.value, ast.Name)
            and func.value.id == "typing"
        )
        if is_cast and len(node.args) == 2 and not node.keywords:
            return cast("ast.AST", self.visit(node.args[1]))
        return self.generic_visit(node)


def _cast_names(tree: ast.Module) -> set[str]:
    """The local names bound to typing.cast by `from typing import cast [as name]`."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module in ("typing", "typing_extensions")
        for alias in node.names
        if alias.name == "cast"
    }


def _canonical(node: object) -> object:
    """A node as nested lists, without positions or empty fields."""
    if isinstance(node, ast.AST):
        fields = [
            [name, _canonical(value)]
            for name, value in ast.iter_fields(node)
            if value is not None and value != []
        ]
        return [type(node).__name__, fields]
    if isinstance(node, list):
        return [_canonical(item) for item in node]
    if isinstance(node, (bytes, complex)):
        return repr(node)
    if isinstance(node, float) and node != node:
        return "nan"
    return node


def digest(source: str, filename: str = "<source>") -> str:
    """The sha256 of a module's source after the removals in the module docstring."""
    tree = ast.parse(source, filename=filename)
    tree = _Strip(_cast_names(tree)).visit(tree)
    text = json.dumps(_canonical(tree), separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digests(files: Iterable[str], root: Path = Path(".")) -> dict[str, str]:
    """{file: digest} of source files (paths relative to root, sorted)."""
    return {
        name: digest((root / name).read_text(encoding="utf-8"), filename=name)
        for name in sorted(set(files))
    }


def fingerprint(files: Iterable[str], root: Path = Path(".")) -> dict[str, object]:
    """The fingerprint document of source files: the rule's name and every file's digest."""
    return {"format": FORMAT, "files": digests(files, root)}


def write_fingerprint(files: Iterable[str], out: Path, root: Path = Path(".")) -> dict[str, object]:
    """Writes the fingerprint of files to out (atomically) and returns it."""
    document = fingerprint(files, root)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(document, indent=1, sort_keys=True) + "\n")
    return document
