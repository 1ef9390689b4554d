"""The Notes section of BENCHMARKS.md: what each number means, and the suite's compute in all.

Generated from the suite, the report rows and the aggregate, so `rlpipe audit` can re-render it
and compare; the definitions here are the ones the code computes (rlpipe.rundir.summary for the
score, rlpipe.report.efficiency, rlpipe.report.aggregate, rlpipe.evaluation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlpipe.algos.registry import display_name
from rlpipe.report.aggregate import (
    BOOTSTRAP_SEED,
    CONFIDENCE,
    RANDOM_SCORES,
    RESAMPLES,
    Aggregate,
)
from rlpipe.rundir import METRICS_FILE, SPEC_FILE, SUMMARY_FILE
from rlpipe.spec.schema import DQNSpec, MetaSpec, SACSpec
from rlpipe.spec.suite import CATEGORIES, Suite, SuiteRun

NOTES_HEADING = "## Notes"
DEFAULT_SCORE_WINDOW: int = MetaSpec.model_fields["return_window"].default
DEFAULT_ENTROPY_SCALE: float = SACSpec.model_fields["target_entropy_scale"].default
DEFAULT_EVAL_EPSILON: float = DQNSpec.model_fields["eval_epsilon"].default
BUDGETS_BULLET = "- **Frame budgets**"


def _trainer(run: SuiteRun) -> str:
    """The algorithm a suite run trains, and the peer library that trains it for a parity row."""
    return display_name(run.family) + (f" ({run.peer} peer)" if run.peer else "")


def _budget_lines(suite: Suite) -> list[str]:
    """Return one bullet per env: the frames each of its runs trains for, and its budget."""
    lines = []
    for category in CATEGORIES:
        for spec_name, env in suite.envs.items():
            runs = [run for run in suite.runs.values() if run.spec == spec_name]
            if env.category != category or not runs:
                continue
            trained = ", ".join(f"{_trainer(run)} {run.frames:,}" for run in runs)
            lines.append(
                f"  - {env.id} (`{spec_name}`): trained for {trained} frames per seed; "
                f"suite budget {env.budget:,} frames."
            )
    return lines


def compute_total(rows: Sequence[Mapping[str, Any]]) -> tuple[float, float, list[str]]:
    """Return the suite's CPU core-minutes and GPU-minutes in all, and the runs not counted
    (finished runs whose summaries predate compute accounting)."""
    cpu_core_s = gpu_s = 0.0
    not_counted = []
    for row in rows:
        if row.get("frames") is None:  # no finished run
            continue
        if row.get("cpu_core_s") is None and row.get("gpu_s") is None:
            not_counted.append(row["run"])
            continue
        cpu_core_s += row.get("cpu_core_s") or 0.0
        gpu_s += row.get("gpu_s") or 0.0
    return cpu_core_s / 60, gpu_s / 60, not_counted


def _compute_note(rows: Sequence[Mapping[str, Any]]) -> str:
    """Return the Compute bullet with the suite's total."""
    cpu_min, gpu_min, not_counted = compute_total(rows)
    finished = [row for row in rows if row.get("frames") is not None]
    if finished and len(not_counted) == len(finished):
        total = "**No run of the suite recorded its compute** (all summaries predate it)."
    else:
        total = (
            f"**The suite's runs used {cpu_min:,.1f} CPU core-minutes and {gpu_min:,.1f} "
            "GPU-minutes in all.**"
        )
        if not_counted:
            total += (
                f" Not counted (their summaries predate compute accounting): "
                f"{', '.join(not_counted)}."
            )
    return (
        "- **Compute** of a run: for seeds trained on a CPU, wall time x torch threads, in CPU "
        "core-minutes; for seeds trained on a GPU, wall time, in GPU-minutes; summed over the "
        f"run's seeds ({SUMMARY_FILE} `cpu_core_s`, `gpu_s`). It counts the torch threads each "
        f"seed process was given, not how busy the cores were. {total}"
    )


def _aggregate_note(aggregate: Aggregate) -> str:
    """Return the Aggregate bullet: normalisation, statistic, interval, profile, left-out envs."""
    random = ", ".join(f"{env} {score:g}" for env, score in aggregate.random_scores.items())
    left_out = (
        f" Left out (no random-policy score in `{RANDOM_SCORES.as_posix()}`): "
        f"{', '.join(aggregate.left_out)}."
        if aggregate.left_out
        else ""
    )
    return (
        "- **Aggregate** (after rliable, Agarwal et al., 2021): each seed's score is normalised "
        "per env as (score - random) / (target - random), where random is the return of a "
        "uniform-random policy (measured with `tools/random_scores.py`, listed with its command "
        f"in `{RANDOM_SCORES.as_posix()}`), so 0 is random play and 1 the suite's target. "
        "Per algorithm, the IQM (mean of the middle 50%) of its normalised (env, seed) runs, "
        f"with a {CONFIDENCE:.0%} percentile stratified-bootstrap interval ({RESAMPLES:,} "
        f"resamples, seed {BOOTSTRAP_SEED}; seeds drawn with replacement within each env). "
        "The performance profile shows, per threshold tau, the fraction of runs with a "
        "normalised score above tau (mean over envs, so each env weighs the same), with its "
        "bootstrap band. Algorithms are comparable only over the same envs: see the Envs "
        f"column.{' Random scores used: ' + random + '.' if random else ''}{left_out}"
    )


def _runs_off_default(rows: Sequence[Mapping[str, Any]], key: str, default: float) -> str:
    """ "run (value), ..." for the runs whose row gives `key` another value than the default;
    empty when none does."""
    return ", ".join(
        f"{row['run']} ({row[key]:g})" for row in rows if row.get(key) not in (None, default)
    )


def _window_note(rows: Sequence[Mapping[str, Any]]) -> str:
    """Name the runs whose score averages another number of episodes than the default."""
    other = _runs_off_default(rows, "score_window", DEFAULT_SCORE_WINDOW)
    if not other:
        return ""
    return f" Runs scored over another number of episodes (their spec's comment says why): {other}."


def _eval_epsilon_note(rows: Sequence[Mapping[str, Any]]) -> str:
    """Name the runs whose evaluation policy acts at random more or less often than the
    schema's default."""
    other = _runs_off_default(rows, "eval_epsilon", DEFAULT_EVAL_EPSILON)
    return f" (runs whose spec sets another: {other})" if other else ""


def _entropy_note(rows: Sequence[Mapping[str, Any]]) -> str:
    """How discrete SAC and CrossQ set their target entropy, and the runs whose spec chose
    another fraction than the schema's default."""
    other = _runs_off_default(rows, "target_entropy_scale", DEFAULT_ENTROPY_SCALE)
    chosen = (
        f" Runs whose spec sets another fraction (its comment says why): {other}." if other else ""
    )
    return (
        "- **Discrete SAC and CrossQ** target an entropy of `target_entropy_scale` x log|A|, "
        f"{DEFAULT_ENTROPY_SCALE:g} by default, and take the minimum of the Q estimates in the "
        "policy loss, as CleanRL's sac_atari.py; SLM-Lab uses 0.6 log|A| and the mean of the two "
        f"Q estimates.{chosen}"
    )


def checked_notes_lines(rows: Sequence[Mapping[str, Any]], aggregate: Aggregate) -> list[str]:
    """Return the Notes that follow from the runs (definitions, aggregate, compute total), which
    `rlpipe audit` compares; the frame budgets that close the section restate the suite file."""
    return [
        NOTES_HEADING,
        "",
        "- **Score** (rlpipe): at the end of training, the moving average of the last "
        "`meta.return_window` (100 by default) training-episode returns (`return_ma`, the "
        "stochastic policy as it trains), mean over seeds; in brackets, the 95% percentile-"
        "bootstrap confidence interval of that mean over seeds. **SLM-Lab v5.2** reports "
        "`total_reward_ma`: the moving average over its last 100 checkpoints, mean over its 4 "
        "sessions, so it averages a longer stretch of training than rlpipe's last 100 episodes; "
        "the column gives its score and the frames it trained for: compare frames before "
        f"comparing scores.{_window_note(rows)}",
        "- **Status** follows from score and target: pass when the score is at or above the "
        "target.",
        "- **Evaluation protocol**: `eval_return` (benchmarks.json) and `evals/<run>.json` "
        "(`rlpipe eval`) are the mean return of the evaluation policy over N episodes per seed, "
        f"N = the spec's `meta.eval_episodes` (10 by default; see the run's {SPEC_FILE}), one "
        "episode in each of N eval envs reset with fixed seeds of the training seed's own block, "
        "which training never uses (`rlpipe.evaluation`); then the mean over seeds. It is "
        "not the score. It is the deterministic policy: the tanh of the Gaussian mean (SAC, "
        "CrossQ), the Gaussian mean clipped to the env's bounds or the most probable action "
        "(PPO, A2C); DQN acts epsilon-greedily with `eval_epsilon`, "
        f"{DEFAULT_EVAL_EPSILON:g} by default, as CleanRL's DQN evaluation"
        f"{_eval_epsilon_note(rows)}. Atari: ALE v5 (sticky actions 0.25), whole games over all "
        "lives, FIRE pressed after a reset and after a lost life in games that need it (SB3's "
        "FireResetEnv, as CleanRL uses it).",
        _entropy_note(rows),
        "- **Parity rows** (an Algorithm with a library in brackets) are the same spec trained "
        "by that library's own implementation (`rlpipe train --peer`), with the same frames, "
        "seeds, score and evaluation protocol; the aggregate leaves them out. The Parity section "
        "compares each with rlpipe's row (`rlpipe compare`).",
        "- **RL Zoo** (references/rl_zoo_benchmark.csv, from RL Zoo's benchmark.md) is one "
        "trained agent's deterministic evaluation, mean ± std over its evaluation episodes, "
        "after the timesteps shown, on the env version shown where it is not ours (gym -v2/-v3 "
        "MuJoCo and Box2D, NoFrameskip-v4 Atari): it compares with the Eval column, a mean over "
        "seeds, not with the score. SLM-Lab's column compares with the score.",
        "- **Updates/frame**: gradient updates per env frame, as the runs counted them (each "
        "seed's updates over its frames, mean over seeds): critic updates for SAC and CrossQ, "
        "Q-network updates for DQN, minibatch steps for PPO, one per rollout for A2C. CrossQ's "
        "paper makes one per frame; SLM-Lab's CrossQ makes training_iter per vector step of "
        "num_envs frames: 1/16 on MuJoCo (16 envs; 2/16 on InvertedDoublePendulum and "
        "HumanoidStandup, 4/16 on Humanoid), read from its specs and shown in its column "
        "(references/slm_lab_v5.2.csv says which files).",
        f"- **Frames to target**: per seed, the first logged frame (a row of its {METRICS_FILE}, "
        "every `meta.log_interval` frames) at which its training moving average `return_ma` "
        "was at or above the env's target; the cell is the mean over the seeds that reached it "
        'and, in brackets, how many of the seeds did ("— (0/4)": none). A mean over fewer than '
        "all seeds leaves out the slow ones: read it with the count.",
        _aggregate_note(aggregate),
        _compute_note(rows),
    ]


def notes_lines(suite: Suite, rows: Sequence[Mapping[str, Any]], aggregate: Aggregate) -> list[str]:
    """Return the Notes section: score, status, evaluation, frames to target, aggregate,
    compute and frame budgets."""
    return [
        *checked_notes_lines(rows, aggregate),
        BUDGETS_BULLET + ": each run trains for the frames below (the Frames column shows "
        "what it ran); the suite budget is the most a run of that env may use.",
        *_budget_lines(suite),
    ]
