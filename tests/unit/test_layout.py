"""The package layout keeps its promises: no import cycles, layers that import only downward,
one place that names algorithms, one place that knows the run folder's file names."""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "rlpipe"
ALGORITHM_NAMES = ("crossq", "sac", "ppo", "a2c", "dqn")
RUN_FILE_NAMES = ("spec.json", "summary.json", "provenance.json", "result.json", "model.pt",
                  "state.pt", "metrics.csv")  # fmt: skip


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
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


# --------------------------------------------------------------------------- layers

LAYERS: tuple[tuple[str, ...], ...] = (
    # typer wiring; render.py is the CLI's rich rendering (it imports loops.seedloop, so it
    # cannot sit with the small helpers at the bottom; only the CLI uses it)
    ("cli.py", "__main__.py", "commands/", "render.py"),
    ("hub/",),  # publish, pull, model cards, online link and card checks
    ("report/",),  # rows, BENCHMARKS.md, plots, aggregates, offline audit, reports/hub.json
    (
        "stages.py",
        "suite_run.py",
        "suite_git.py",
        "suite_sources.py",
        "suite_progress.py",
        "suite_plan.py",
        "suite_deadline.py",
        "codedeps.py",
        "fingerprint.py",
        "train_command.py",
        "search/",
    ),
    ("bench/", "watch/"),
    # views/ are the metric sinks launch.py plugs into a run (they import only errors.py)
    (
        "launch.py",
        "group_summary.py",
        "peers/",
        "evaluation.py",
        "eval_output.py",
        "group_eval.py",
        "policy.py",
        "comparison.py",
        "views/",
    ),
    ("loops/", "fast.py", "profiling.py"),  # profiling.py: imported by loops, imports rundir
    ("algos/",),
    ("spec/", "rundir/", "envs.py"),  # envs.py builds envs from spec.schema's EnvSpec
    ("buffers.py", "scale.py", "device.py", "die_with_parent.py"),
    ("errors.py", "stats.py", "__init__.py"),
)
"""rlpipe's layers, top to bottom, as paths relative to rlpipe/ ("x.py" one module, "x/" a
package and everything in it). A module may import modules of its own layer and the layers
below it, never above, function-level and TYPE_CHECKING imports included."""

ALLOWED_UPWARD_IMPORTS: Mapping[tuple[str, str], str] = {
    # (importing file relative to rlpipe/, imported module): why it stays for now. Only for an
    # upward import that can be fixed only inside a training module (rlpipe/spec, rundir,
    # algos, loops, peers, buffers.py, envs.py, fast.py, stats.py, evaluation.py, policy.py:
    # their source feeds the benchmark's DVC stages). None today.
}


def layer_of(relative: str, layers: Sequence[Sequence[str]] = LAYERS) -> int | None:
    """The index in `layers` (0 = top) of a file given relative to the package, None if none."""
    for index, layer in enumerate(layers):
        for entry in layer:
            if relative == entry or (entry.endswith("/") and relative.startswith(entry)):
                return index
    return None


def module_path(module: str, package: Path) -> str | None:
    """The file of a dotted rlpipe module, relative to the package folder; None for a name
    that is not a module (`from rlpipe.rundir import RunFolder` names RunFolder)."""
    parts = module.split(".")[1:]
    for candidate in (
        Path(*parts, "__init__.py"),
        Path(*parts).with_suffix(".py") if parts else None,
    ):
        if candidate is not None and (package / candidate).is_file():
            return candidate.as_posix()
    return None


def imported_modules(path: Path, package: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every rlpipe module a file imports, anywhere in it."""
    own = module_name(path, package)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package, up level - 1
                package_parts = own.split(".")[: None if path.name == "__init__.py" else -1]
                anchor = package_parts[: len(package_parts) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if name.split(".")[0] == package.name:
                yield node.lineno, name


def unassigned_modules(package: Path, layers: Sequence[Sequence[str]] = LAYERS) -> list[str]:
    return [
        f"{package.name}/{relative} is in no layer: assign it to one in LAYERS "
        "(tests/unit/test_layout.py)"
        for relative in sorted(p.relative_to(package).as_posix() for p in package.rglob("*.py"))
        if layer_of(relative, layers) is None
    ]


def upward_imports(
    package: Path,
    layers: Sequence[Sequence[str]] = LAYERS,
    allowed: Mapping[tuple[str, str], str] = ALLOWED_UPWARD_IMPORTS,
) -> tuple[list[str], set[tuple[str, str]]]:
    """Every import of a module from a higher layer, named with its line, except the allowed
    ones; and the allowances that were used."""
    found, used = [], set()
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        own = layer_of(relative, layers)
        if own is None:
            continue  # unassigned_modules names it
        for line, module in imported_modules(path, package):
            target = module_path(module, package)
            theirs = None if target is None else layer_of(target, layers)
            if theirs is None or theirs >= own:
                continue
            if (relative, module) in allowed:
                used.add((relative, module))
                continue
            found.append(
                f"{package.name}/{relative}:{line} imports {module}, from the higher layer "
                f"{' '.join(layers[theirs])} (its own layer: {' '.join(layers[own])})"
            )
    return sorted(set(found)), used


def test_every_module_is_in_a_layer():
    assert unassigned_modules(PACKAGE) == []


def test_no_module_imports_from_a_higher_layer():
    found, used = upward_imports(PACKAGE)
    assert found == []
    unused = set(ALLOWED_UPWARD_IMPORTS) - used
    assert not unused, f"allowances no longer needed, remove them: {sorted(unused)}"


def test_every_layer_entry_names_a_module_or_a_package_to_come():
    to_come = {"commands/"}  # cli.py is to be split into rlpipe/commands/
    for entry in (entry for layer in LAYERS for entry in layer if entry not in to_come):
        assert (PACKAGE / entry).exists(), entry


def write_package(root: Path, files: Mapping[str, str]) -> Path:
    """A package `rlpipe` under root with the given files (relative path -> source)."""
    for relative, source in files.items():
        path = root / "rlpipe" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root / "rlpipe"


SMALL_LAYERS = (("cli.py",), ("hub/",), ("report/",), ("errors.py", "__init__.py"))


def test_a_planted_upward_import_inside_a_function_is_named(tmp_path):
    package = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "",
            "cli.py": "import rlpipe.hub.card\nfrom rlpipe.report import audit\n",
            "hub/__init__.py": "",
            "hub/card.py": "from rlpipe.report.audit import check\nfrom rlpipe import errors\n",
            "report/__init__.py": "",
            "report/audit.py": (
                "from rlpipe.errors import RlpipeError\n\n\n"
                "def check():\n"
                "    from rlpipe.hub.card import read_card\n"
            ),
        },
    )
    assert unassigned_modules(package, SMALL_LAYERS) == []
    found, _ = upward_imports(package, SMALL_LAYERS, {})
    assert found == [
        "rlpipe/report/audit.py:5 imports rlpipe.hub.card, from the higher layer hub/ "
        "(its own layer: report/)"
    ]
    allowance = {("report/audit.py", "rlpipe.hub.card"): "planted"}
    assert upward_imports(package, SMALL_LAYERS, allowance) == ([], set(allowance))


def test_a_planted_relative_upward_import_is_named(tmp_path):
    package = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "from . import cli\n",
            "cli.py": "",
            "report/__init__.py": "from .audit import x\n",
            "report/audit.py": "from ..hub import card\n",
            "hub/__init__.py": "",
            "hub/card.py": "",
        },
    )
    found, _ = upward_imports(package, SMALL_LAYERS, {})
    assert [line.split(" from ")[0] for line in found] == [
        "rlpipe/errors.py:1 imports rlpipe.cli,",
        "rlpipe/report/audit.py:1 imports rlpipe.hub,",
        "rlpipe/report/audit.py:1 imports rlpipe.hub.card,",
    ]


def test_a_new_module_in_no_layer_is_named(tmp_path):
    package = write_package(tmp_path, {"__init__.py": "", "errors.py": "", "gadget.py": ""})
    assert unassigned_modules(package, SMALL_LAYERS) == [
        "rlpipe/gadget.py is in no layer: assign it to one in LAYERS (tests/unit/test_layout.py)"
    ]


def test_the_real_layers_catch_the_report_importing_the_hub_again(tmp_path):
    """A copy of rlpipe with the old loop planted back: the report reading hub links from
    rlpipe.hub inside a function."""
    package = tmp_path / "rlpipe"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    benchmarks = package / "report" / "benchmarks.py"
    source = benchmarks.read_text()
    benchmarks.write_text(
        source + "\n\ndef planted():\n    from rlpipe.hub.client import fetch_card\n"
    )
    line = len(benchmarks.read_text().splitlines())
    found, _ = upward_imports(package)
    assert found == [
        f"rlpipe/report/benchmarks.py:{line} imports rlpipe.hub.client, from the higher layer "
        "hub/ (its own layer: report/)"
    ]


def test_test_modules_have_unique_basenames():
    # pytest's default import mode imports test modules by basename: two folders holding the same
    # file name fail collection on whichever process meets the second one.
    tests = PACKAGE.parent / "tests"
    seen: dict[str, list[str]] = {}
    for path in sorted(tests.rglob("test_*.py")):
        seen.setdefault(path.name, []).append(str(path.relative_to(tests)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
