"""rlpipe publish and rlpipe pull: runs to and from the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlpipe.commands.common import (
    PipelinesOpt,
    SuiteOpt,
    console,
    err_console,
    home_expanded,
    shell_word,
    shown,
    user_errors,
)
from rlpipe.errors import RlpipeError
from rlpipe.spec import DEFAULT_SUITE


@user_errors
def publish(
    run_keys: Annotated[
        list[str] | None, typer.Argument(help="Run folder names; default: every suite run.")
    ] = None,
    suite: SuiteOpt = DEFAULT_SUITE,
    repo: Annotated[
        str | None, typer.Option(help="Hub dataset repo id; default: the suite's hub_repo.")
    ] = None,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay/--no-replay",
            help="Put a replay GIF on each run's model card (renders the env: MuJoCo needs an "
            "offscreen GL, see the README).",
        ),
    ] = True,
    pipelines: PipelinesOpt = Path("pipelines"),
    folder: Annotated[
        Path | None,
        typer.Option(
            help="Publish into this local folder instead of the Hub, in the Hub repo's layout "
            "(FOLDER/runs/<run>/, with the same cards), offline; `rlpipe pull FOLDER <run>` "
            "reads it back. The report's links are left as they are.",
        ),
    ] = None,
) -> None:
    """Upload runs (weights, no optimizer state) with generated model cards; relink the report.

    With --folder, write them into a local folder instead (a shared drive, a disk to carry)."""
    from rlpipe.hub.publish import left_out_files, publish_runs
    from rlpipe.report.benchmarks import write_report
    from rlpipe.spec import load_suite

    if folder is not None and repo is not None:
        raise RlpipeError("give --repo (the Hub) or --folder (a local folder), not both")
    folder = home_expanded(folder, "--folder") if folder is not None else None
    loaded = load_suite(suite)
    with console.status("checking the runs and making their model cards", spinner="dots"):
        urls = publish_runs(
            run_keys or list(loaded.runs),
            repo or loaded.hub_repo,
            replay=replay,
            pipelines=pipelines,
            folder=folder,
        )
    for key, url in urls.items():
        console.print(f"{key}: {url}")
        if left_out := left_out_files(Path("runs") / key):
            err_console.print(
                f"[yellow]note:[/] {shown(key)}: left out files that are not run files (rlpipe "
                f"pull would refuse them): {shown(', '.join(left_out))}",
                highlight=False,
                soft_wrap=True,
            )
    if folder is not None:
        source = shell_word(_as_source(folder))
        console.print(f"pull one back with: rlpipe pull {source} <run>", soft_wrap=True)
        return
    write_report(loaded, suite)
    console.print("report links now point at the Hub")


def _as_source(folder: Path) -> str:
    """The folder as `rlpipe pull` reads a local source: a path that starts like one (~
    expanded, as publish wrote there)."""
    from rlpipe.hub.folder_target import is_folder_source

    text = home_expanded(folder, "--folder").as_posix()
    return text if is_folder_source(text) else f"./{text}"


@user_errors
def pull(
    repo_id: Annotated[
        str,
        typer.Argument(
            help="Hub dataset repo id, e.g. rlpipe/benchmarks; or a folder written by `rlpipe "
            "publish --folder`, as a path that starts with /, ./, ../ or ~ (a repo id that "
            "names a folder here is refused as ambiguous)."
        ),
    ],
    run_key: Annotated[str, typer.Argument(help="Run name in the repo, e.g. crossq-hopper.")],
    out: Annotated[
        Path | None,
        typer.Option(help="Run folder; default runs/RUN_KEY. A leading ~ is the home folder."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing folder at --out.")
    ] = False,
) -> None:
    """Download a published run (weights, spec, summary, card), checked against its card.

    Nothing is written when a file's sha256, the spec hash or a number differs from the card.

    HF_ENDPOINT and HF_TOKEN choose the Hub and the token, as for publish."""
    from rlpipe.hub.pull import pull_run

    if repo_id.startswith("~"):
        repo_id = home_expanded(Path(repo_id), "REPO_ID").as_posix()
    out = home_expanded(out, "--out") if out is not None else None
    pulled = pull_run(repo_id, run_key, out, overwrite)
    facts = pulled.facts
    where = shell_word(pulled.path)
    console.print(
        f"pulled {shown(run_key)} into [bold]{shown(pulled.path)}[/]: spec hash "
        f"[cyan]{facts.spec_hash[:12]}[/], {len(facts.files)} files checked against the card"
    )
    # soft_wrap: a printed command is never broken by an inserted newline.
    console.print(
        f"next: rlpipe eval {where}   # the card says eval return {facts.eval_return}",
        soft_wrap=True,
    )
    video = shell_word(f"{run_key}.mp4")
    console.print(f"      rlpipe enjoy {where} --video {video}", soft_wrap=True)
