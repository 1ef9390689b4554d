"""Tiny but complete run folders and suite files from made-up numbers, for report and audit tests.

Nothing here trains: metrics rows, per-seed results, summary, spec and provenance are written
by the same rlpipe.rundir functions training uses, from deterministic numbers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rlpipe.loops.seedloop import COLUMNS
from rlpipe.rundir import (
    PROVENANCE_FILE,
    RESULT_FILE,
    SPEC_FILE,
    MetricsLog,
    RunFolder,
    atomic_write_json,
)
from rlpipe.spec import resolve_spec

FIXTURE_COLUMNS = (*COLUMNS, "loss_critic", "loss_actor", "alpha")

FIXTURE_CPU = "Fixture CPU 2.0GHz"
FIXTURE_GPU = "Fixture GPU 80GB"
LOG_POINTS = 4
"""Log points per seed; the first has no finished episode yet (return_ma empty)."""

DEFAULT_ENVS = {
    # spec: (env id, category, target, budget); listed out of category order on purpose
    "hopper": ("Hopper-v5", "mujoco", 2000, 3_000_000),
    "pendulum": ("Pendulum-v1", "classic", -200, 300_000),
    "lunar": ("LunarLander-v3", "box2d", 200, 300_000),
    "cartpole": ("CartPole-v1", "classic", 400, 200_000),
}
DEFAULT_RUNS = [
    # (family, spec, frames)
    ("sac", "pendulum", 1000),
    ("crossq", "pendulum", 1000),
    ("crossq", "hopper", 2000),
    ("crossq", "cartpole", 1000),
    ("sac", "lunar", 1000),
]


def seed_return(seed: int, fraction: float, score_offset: float) -> float:
    """Return the made-up return_ma of one seed at a fraction of training (final: fraction 1)."""
    return score_offset + 100.0 * fraction + 10.0 * seed


def seed_fps(seed: int) -> float:
    """Return the made-up, constant frames/s of one seed."""
    return 500.0 + 100.0 * seed


def _write_seed(
    run_dir: Path, seed: int, frames: int, score_offset: float, compute: dict | None = None
) -> dict:
    """Write seed-K/metrics.csv and seed-K/result.json; return the seed's result."""
    folder = RunFolder(run_dir).seed(seed).path
    log_frames = sorted({max(1, frames * k // LOG_POINTS) for k in range(1, LOG_POINTS + 1)})
    fps = seed_fps(seed)
    with MetricsLog(folder / "metrics.csv", FIXTURE_COLUMNS) as metrics:
        for index, frame in enumerate(log_frames):
            fraction = frame / frames
            return_ma = None if index == 0 else seed_return(seed, fraction, score_offset)
            metrics.append(
                {
                    "frame": frame,
                    "wall_s": frame / fps,
                    "fps": fps,
                    "episodes": 2 * index,
                    "return_mean": return_ma,
                    "return_ma": return_ma,
                    "eval_return": None if return_ma is None else return_ma + 5.0,
                    "loss_critic": 1.0 / (index + 1),
                    "loss_actor": -0.5 * index,
                    "alpha": 0.2,
                }
            )
    result = {
        "seed": seed,
        "return_ma": seed_return(seed, 1.0, score_offset),
        "eval_return": seed_return(seed, 1.0, score_offset) + 5.0,
        "frames": frames,
        "wall_s": frames / fps,
        "fps": fps,
        **(compute or {}),
    }
    atomic_write_json(folder / RESULT_FILE, result)
    return result


def make_run(
    runs_root: Path,
    key: str,
    family: str,
    spec: str,
    env_id: str,
    seeds: int = 2,
    frames: int = 1000,
    score_offset: float = 0.0,
    device: str = "cpu",
    pipelines: Path | None = None,
    torch_threads: int | None = None,
) -> Path:
    """Write runs_root/key as a complete run folder from made-up numbers; return its path.

    Seed K's final return_ma is score_offset + 100 + 10*K, so the score is
    score_offset + 100 + 5*(seeds-1). With `pipelines`, spec.json holds the spec that folder's
    family/spec resolves to with the suite's overrides (so audit finds no spec drift);
    without, a small made-up spec. With `torch_threads`, each seed records its device and
    threads, so the summary has compute (cpu_core_s or gpu_s); without, it predates them.
    """
    run_dir = Path(runs_root) / key
    overrides = [f"max_frame={frames}", f"meta.seeds={seeds}"]
    if pipelines is not None:
        real = resolve_spec(family, spec, overrides, pipelines)
        resolved, spec_hash = real.spec.model_dump(mode="json"), real.spec_hash
    else:
        resolved = {
            "family": family,
            "name": spec,
            "env": {"id": env_id, "max_frame": frames},
            "meta": {"seeds": seeds},
        }
        canonical = json.dumps(resolved, sort_keys=True, separators=(",", ":"))
        spec_hash = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    atomic_write_json(
        run_dir / SPEC_FILE, {"spec_hash": spec_hash, "spec": resolved, "overrides": overrides}
    )
    cuda = device.startswith("cuda")
    atomic_write_json(
        run_dir / PROVENANCE_FILE,
        {
            "rlpipe_version": "0.1.0",
            "spec_hash": spec_hash,
            "git_commit": "0" * 40,
            "git_dirty": False,
            "python": "3.12.0",
            "torch": "2.13.0",
            "cpu_model": FIXTURE_CPU,
            "device": device,
            "gpu_name": FIXTURE_GPU if cuda else None,
            "cuda_version": "12.8" if cuda else None,
            "started_at": "2025-01-01T00:00:00+00:00",
            "finished_at": "2025-01-01T00:01:00+00:00",
        },
    )
    compute = None if torch_threads is None else {"device": device, "torch_threads": torch_threads}
    results = [_write_seed(run_dir, seed, frames, score_offset, compute) for seed in range(seeds)]
    RunFolder(run_dir).write_summary(results)
    return run_dir


def make_suite_file(
    path: Path,
    envs: dict[str, tuple[str, str, float, int]] | None = None,
    runs: list[tuple[str, str, int]] | None = None,
    seeds: int = 2,
    hub_repo: str = "rlpipe/fixture",
) -> Path:
    """Write a suite YAML (envs: spec -> (id, category, target, budget); runs: (family, spec,
    frames)); return its path. Defaults: DEFAULT_ENVS and DEFAULT_RUNS."""
    envs = DEFAULT_ENVS if envs is None else envs
    runs = DEFAULT_RUNS if runs is None else runs
    lines = [f"hub_repo: {hub_repo}", f"seeds: {seeds}", "device: cpu", "envs:"]
    for spec, (env_id, category, target, budget) in envs.items():
        lines.append(
            f"  {spec}: {{id: {env_id}, category: {category}, target: {target}, budget: {budget}}}"
        )
    lines.append("runs:")
    for family, spec, frames in runs:
        lines.append(f"  {family}-{spec}: {{family: {family}, spec: {spec}, frames: {frames}}}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
