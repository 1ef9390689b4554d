"""`rlpipe eval`: deterministic-policy episodes from a run's saved weights, into eval.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from rlpipe.algos import build_agent, squashes_actions
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.errors import RlpipeError
from rlpipe.runs import MODEL_FILE, SPEC_FILE, atomic_write_json, seed_dir
from rlpipe.seedloop import EVAL_SEED_OFFSET, evaluate
from rlpipe.spec import Spec

EVAL_FILE = "eval.json"


def load_run_spec(run_dir: Path) -> tuple[Spec, str]:
    """The resolved spec and its hash, from a run folder's spec.json."""
    path = run_dir / SPEC_FILE
    if not path.is_file():
        raise RlpipeError(f"{run_dir} is not a run folder: no {SPEC_FILE}")
    saved = json.loads(path.read_text())
    return Spec.model_validate(saved["spec"]), saved["spec_hash"]


def evaluate_run(
    run_dir: Path,
    artifacts: Path | None = None,
    episodes: int | None = None,
    device: str = "cpu",
    output: Path | None = None,
) -> dict[str, Any]:
    """Evaluate every seed's final weights for N deterministic episodes; writes eval.json."""
    spec, spec_hash = load_run_spec(run_dir)
    episodes = episodes or spec.meta.eval_episodes
    per_seed = []
    for seed in spec.meta.seed_list:
        weights = seed_dir(artifacts or run_dir, seed) / MODEL_FILE
        if not weights.is_file():
            raise RlpipeError(f"no weights for seed {seed} at {weights}: train the run first")
        envs = make_vec_env(
            spec.env,
            seed + EVAL_SEED_OFFSET,
            num_envs=episodes,
            rescale_actions=squashes_actions(spec),
        )
        agent = build_agent(spec, env_shapes(envs), torch.device(device))
        agent.load_state_dict(torch.load(weights, map_location=device, weights_only=True))
        per_seed.append(
            {"seed": seed, "return_mean": evaluate(agent, envs, seed + EVAL_SEED_OFFSET)}
        )
        envs.close()
    result = {
        "spec_hash": spec_hash,
        "episodes_per_seed": episodes,
        "return_mean": sum(s["return_mean"] for s in per_seed) / len(per_seed),
        "per_seed": per_seed,
    }
    atomic_write_json(output or run_dir / EVAL_FILE, result)
    return result
