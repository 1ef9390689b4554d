"""What every command shares: the consoles, safe printing, the user-error wrapper, tables, and
the option types that several commands take."""

from __future__ import annotations

import functools
import shlex
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rlpipe.errors import RlpipeError

# emoji=False: a ":name:" inside an echoed argument (--device cuda:abc) stays as typed.
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)

F = TypeVar("F", bound=Callable[..., Any])

PipelinesOpt = Annotated[
    Path,
    typer.Option(
        "--pipelines",
        envvar="RLPIPE_PIPELINES",
        help="Folder of pipeline files (<family>.yaml).",
        show_default=True,
    ),
]
OverridesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        help="Override a declared var or a dotted field: -s max_frame=2e5 -s algorithm.lr=1e-3.",
    ),
]


def _family_name(value: str) -> str:
    """A family argument that is a pipeline file's path is named back as the family it is."""
    path = Path(value)
    if path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
        folder = path.parent.as_posix()
        where = "" if folder in (".", "pipelines") else f" --pipelines {shlex.quote(folder)}"
        raise typer.BadParameter(
            f"{value!r} is a path; a family is named by its file's stem: {shlex.quote(path.stem)}"
            f"{where} (files are read from --pipelines, default pipelines/)"
        )
    return value


FamilyArg = Annotated[
    str,
    typer.Argument(help="Pipeline family (file), e.g. crossq.", callback=_family_name),
]
SpecArg = Annotated[str, typer.Argument(help="Spec name in the family, e.g. hopper.")]


def frame_count(text: str | int) -> int:
    """A frame-count option's value: a whole number from 0, written as in specs (2e5, 1_000)."""
    if isinstance(text, int):
        frames = text
    else:
        try:
            number = float(text.strip().replace("_", ""))
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a number of frames") from None
        if not number.is_integer() or abs(number) >= 2**53:
            raise typer.BadParameter(f"{text!r} is not a whole number of frames")
        frames = int(number)
    if frames < 0:
        raise typer.BadParameter(f"{text!r}: a number of frames is not negative")
    return frames


def positive_frames(text: str | int) -> int:
    """`frame_count`, at least 1."""
    frames = frame_count(text)
    if frames < 1:
        raise typer.BadParameter(f"{text!r}: must be at least 1")
    return frames


def shown(text: object) -> str:
    """Text safe to print: rich markup escaped, control characters other than line breaks
    written as escapes (a value from a file or an argument never drives the terminal)."""
    visible = "".join(
        char if char == "\n" or unicodedata.category(char) != "Cc" else ascii(char)[1:-1]
        for char in str(text)
    )
    return escape(visible)


def home_expanded(path: Path, flag: str) -> Path:
    """A path with a leading ~ or ~user the shell left alone (quoted, or from a script) made the
    home folder, as the shell would; an unknown user is an RlpipeError naming the flag."""
    try:
        return path.expanduser()
    except RuntimeError:
        raise RlpipeError(f"{flag} {path}: no home folder for {path.parts[0]}") from None


def shell_word(path: object) -> str:
    """A path or name as one shell word, quoted only where it needs it (shlex.quote), as rich
    text: a printed command pastes back as it was meant."""
    return shown(shlex.quote(str(path)))


def user_errors(command: F) -> F:
    """Print an RlpipeError as one clean message and exit 2; let real bugs raise."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RlpipeError as exc:
            err_console.print(f"[bold red]error:[/] {shown(exc)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def print_table(table: Table) -> None:
    """Print a table; when piped (no terminal), wide enough that cells are not cut."""
    Console(width=None if sys.stdout.isatty() else 160, emoji=False).print(table)


SuiteOpt = Annotated[Path, typer.Option("--suite", help="Suite file.")]
RayOpt = Annotated[
    str | None,
    typer.Option(
        "--ray",
        metavar="[ADDRESS]",
        help="Run on a Ray cluster: --ray ADDRESS (host:port, auto), or --ray alone for the "
        "cluster `ray start` made on this machine (else a new local one). Needs the ray extra.",
    ),
]
RAY_LOCAL = "local"
"""The value `--ray` gets when no address follows it (see ray_without_address)."""


def ray_without_address(argv: list[str]) -> list[str]:
    """`--ray` takes an optional value: the next word is its address only if it looks like
    one (host:port, ray://..., auto); else `--ray` means a local cluster."""
    fixed = []
    for index, word in enumerate(argv):
        fixed.append(word)
        if word == "--ray":
            following = argv[index + 1] if index + 1 < len(argv) else ""
            if not (":" in following or following == "auto"):
                fixed.append(RAY_LOCAL)
    return fixed
