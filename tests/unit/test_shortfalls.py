"""The report's Below target section: each own row under its target, read off its curves."""

from __future__ import annotations

from pathlib import Path

from rlpipe.report.shortfalls import HEADING, reading, shortfall_lines, shortfall_rows


def write_curves(run_dir: Path, curves: dict[int, list[float | None]], step: int = 1000) -> None:
    """A finished run whose seed s logged return_ma curves[s] every `step` frames."""
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text("{}\n")
    for seed, values in curves.items():
        lines = ["frame,return_ma"]
        lines += [f"{step * (i + 1)},{'' if v is None else v}" for i, v in enumerate(values)]
        (run_dir / f"seed-{seed}").mkdir()
        (run_dir / f"seed-{seed}" / "metrics.csv").write_text("\n".join(lines) + "\n")


def row(run: str, score: float, status: str = "fail", **extra) -> dict:
    return {"run": run, "env": "LunarLander-v3", "family": run.split("-")[0], "score": score,
            "target": 200.0, "frames": 10_000, "status": status, "peer": None, "parity": None,
            "rl_zoo": None, "slm_lab_frames": None, **extra}  # fmt: skip


def test_rising_and_fallen_rows_are_told_apart_and_passing_or_peer_rows_left_out(tmp_path):
    runs = tmp_path / "runs"
    # Rising: both seeds gain 60 over the last fifth (frames 8k-10k), 60 >= 5% of 392.
    write_curves(runs / "sac-lunarlander", {0: [None, 0, 10, 20, 30, 40, 50, 60, 70, 120],
                                            1: [0, 10, 20, 30, 40, 50, 60, 70, 80, 130]})  # fmt: skip
    # Seed 1 peaks at 190 (5k frames) and ends at 90: a fall of 100 >= 20% of 392.
    write_curves(runs / "dqn-lunarlander", {0: [100] * 10,
                                            1: [0, 50, 100, 150, 190, 150, 120, 100, 90, 90]})  # fmt: skip
    write_curves(runs / "ppo-lunarlander", {0: [250] * 10})
    twin = row("dqn-lunarlander-sb3", 80.0, peer="stable-baselines3 2.9.2")
    twin["parity"] = {"rlpipe_run": "dqn-lunarlander", "verdict": "not distinguishable ..."}
    rows = [
        row("sac-lunarlander", 125.0, rl_zoo={"timesteps": 500_000}, slm_lab_frames=10_000),
        row("dqn-lunarlander", 95.0),
        row("ppo-lunarlander", 250.0, status="pass"),
        twin,
        row("a2c-lunarlander", 0.0),  # no run folder: left out
    ]
    entries = shortfall_rows(rows, runs, {"LunarLander-v3": -192.0})
    assert [e["run"] for e in entries] == ["sac-lunarlander", "dqn-lunarlander"]
    sac, dqn = entries
    assert sac["last_part_gain"] == 60.0 and sac["seeds_at_target"] == 0
    assert sac["references"] == {"RL Zoo": 500_000, "SLM-Lab": 10_000}
    assert dqn["fall"] == {"seed": 1, "value": 100.0, "peak": 190.0, "peak_frame": 5000.0}
    assert reading(sac) == "still rising at the end; fewer frames than RL Zoo"
    assert reading(dqn) == (
        "seed 1 fell back from its peak; not distinguishable from its stable-baselines3 twin"
    )
    lines = shortfall_lines(entries)
    assert lines[0] == HEADING
    assert lines[-1] == (
        "| LunarLander-v3 | DQN | runs/dqn-lunarlander | 95.0 / 200 | 0/2 | -5.0 "
        "| 100.0 (seed 1: 190.0 at 5k) | 10k | seed 1 fell back from its peak; not "
        "distinguishable from its stable-baselines3 twin |"
    )
    assert shortfall_lines([]) == []


def test_a_flat_curve_reads_flat_and_an_env_without_a_random_score_says_so(tmp_path):
    runs = tmp_path / "runs"
    write_curves(runs / "ppo-lunarlander", {0: [150, 151, 152, 153, 154, 155, 156, 157, 158, 159]})
    [entry] = shortfall_rows([row("ppo-lunarlander", 159.0)], runs, {"LunarLander-v3": -192.0})
    assert entry["last_part_gain"] == 2.0
    assert reading(entry) == "flat in its last fifth"
    [unknown] = shortfall_rows([row("ppo-lunarlander", 159.0)], runs, {})
    assert reading(unknown) == "no random-policy score for this env to judge the curve by"


def test_every_seed_that_fell_back_is_named_beside_a_rising_mean(tmp_path):
    runs = tmp_path / "runs"
    # Seeds 0 and 2 peak at 190 and end at 80; seed 1 climbs 300 over the last fifth, so the
    # mean still rises: (300 - 20 - 20) / 3 = 86.7 over the last fifth.
    falling = [0, 50, 100, 150, 190, 150, 120, 100, 90, 80]
    write_curves(runs / "dqn-lunarlander", {0: falling, 1: [0] * 7 + [0, 100, 300], 2: falling})
    [entry] = shortfall_rows([row("dqn-lunarlander", 146.7)], runs, {"LunarLander-v3": -192.0})
    assert entry["falls"] == {0: 110.0, 1: 0.0, 2: 110.0}
    assert reading(entry) == "still rising at the end; seeds 0 and 2 fell back from their peaks"
