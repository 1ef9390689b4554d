"""`rlpipe enjoy`: play a run's trained policy, optionally into a video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rlpipe.commands.common import (
    console,
    err_console,
    shown,
    user_errors,
)


@user_errors
def enjoy(
    run_dir: Annotated[Path, typer.Argument(help="Run folder, e.g. runs/crossq-hopper.")],
    seed: Annotated[
        int | None, typer.Option(help="Whose weights to play; default: the run's first seed.")
    ] = None,
    episodes: Annotated[int, typer.Option(help="Episodes to play.", min=1)] = 1,
    video: Annotated[
        Path | None,
        typer.Option(help="Record every episode into this .mp4 (or .gif, scaled down) file."),
    ] = None,
    deterministic: Annotated[
        bool,
        typer.Option(
            "--deterministic/--stochastic",
            help="The evaluation policy (as rlpipe eval), or actions sampled as in training.",
        ),
    ] = True,
    max_steps: Annotated[
        int | None, typer.Option(help="Cut each episode after this many steps.", min=1)
    ] = None,
    artifacts: Annotated[
        Path | None, typer.Option(help="Folder holding seed-K/model.pt; default: the run folder.")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
) -> None:
    """Play a run's trained policy and print each episode's return; --video records it.

    Episode i starts where `rlpipe eval`'s episode i does; --video needs the video extra.

    Without a display MuJoCo renders through MUJOCO_GL=egl or osmesa (README: Watch and share)."""
    from rlpipe.device import resolve_device
    from rlpipe.rundir import RunFolder
    from rlpipe.watch.enjoy import play_run

    def show(episode: Any) -> None:
        cut = " (cut there by --max-steps)" if episode.cut else ""
        console.print(
            f"episode {episode.index + 1}: return {episode.episode_return:.1f}, "
            f"{episode.length:,} steps{cut}",
            highlight=False,
        )

    from rlpipe.launch import sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():
            replay = play_run(
                RunFolder(run_dir, artifacts), seed, episodes, deterministic, video, max_steps,
                resolve_device(device), show,
            )  # fmt: skip
    except KeyboardInterrupt:
        unwritten = f"; {shown(video)} was not written" if video is not None else ""
        err_console.print(f"interrupted{unwritten}", soft_wrap=True)
        raise typer.Exit(130) from None
    returns = [episode.episode_return for episode in replay.episodes]
    policy = "deterministic" if replay.deterministic else "stochastic"
    console.print(
        f"seed {replay.seed}, {policy} policy: mean return {sum(returns) / len(returns):.1f} "
        f"over {len(returns)} episode{'s' if len(returns) != 1 else ''}",
        highlight=False,
    )
    if replay.video is not None:
        console.print(
            f"wrote {shown(replay.video)} ({replay.frames:,} frames at {replay.fps:g} fps)",
            highlight=False,
            soft_wrap=True,
        )
