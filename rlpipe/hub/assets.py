"""The files `rlpipe publish` adds to a run on the Hub: the learning curve, a replay GIF and
the model card that states the sha256 of every published file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rlpipe.hub.card import card_facts, render_card, sha256_file
from rlpipe.rundir import CARD_FILE, CURVE_FILE, REPLAY_FILE, RunFolder, atomic_write_text


def write_learning_curve(run: RunFolder, path: Path) -> Path:
    """Write the run's training return against frames (mean and 95% CI over seeds) as a PNG."""
    from rlpipe.report.plots import env_figure, save_png

    spec = run.read_spec().spec
    return save_png(env_figure(spec.name, spec.env.id, {spec.family: run.path}), path)


def write_replay(run: RunFolder, path: Path) -> str:
    """Write a short replay GIF of the first seed's deterministic policy; return its caption."""
    from rlpipe.watch.enjoy import play_run
    from rlpipe.watch.video import SHORT_REPLAY_STEPS

    replay = play_run(run, episodes=1, video=path, max_steps=SHORT_REPLAY_STEPS)
    episode = replay.episodes[0]
    length = f"its first {episode.length} steps" if episode.cut else f"{episode.length} steps"
    return (
        f"Seed {replay.seed}, deterministic policy, {length} of `rlpipe eval`'s first episode "
        f"(env seed {episode.env_seed}); return {episode.episode_return:.1f}."
    )


def write_card_files(
    run: RunFolder,
    run_key: str,
    repo_id: str,
    published: Mapping[str, Path],
    folder: Path,
    replay: bool = True,
) -> dict[str, Path]:
    """Write the learning curve, the replay GIF (unless `replay` is False) and the card into
    folder; return them keyed by path in the run. `published` maps each other file published
    with the run (path relative to the run) to the local file, for the card's sha256 list."""
    written = {CURVE_FILE: write_learning_curve(run, folder / CURVE_FILE)}
    caption = None
    if replay:
        caption = write_replay(run, folder / REPLAY_FILE)
        written[REPLAY_FILE] = folder / REPLAY_FILE
    files = {path: sha256_file(local) for path, local in {**published, **written}.items()}
    facts = card_facts(run, run_key, files)
    atomic_write_text(folder / CARD_FILE, render_card(facts, run, repo_id, caption))
    return {**written, CARD_FILE: folder / CARD_FILE}
