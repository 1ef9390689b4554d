"""`rlpipe eval`: deterministic-policy episodes from a run's saved weights, into eval.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from rlpipe.algos import build_agent
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.errors import RlpipeError
from rlpipe.runs import MODEL_FILE, SPEC_FILE, atomic_write_json, seed_dir
from rlpipe.seedloop import EVAL_SEED_OFFSET, evaluate
from rlpipe.spec import Spec

EVAL_FILE = "eval.json"
EVAL_ENVS_AT_ONCE = 16
"""Most eval envs alive at once: more episodes run in successive batches of this many."""


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
    """Evaluate every seed's final weights for N deterministic episodes; writes eval.json.

    Episodes run in batches of at most EVAL_ENVS_AT_ONCE envs; episode i of a seed always
    gets env seed seed + EVAL_SEED_OFFSET + i, so the batching does not change the result.
    """
    spec, spec_hash = load_run_spec(run_dir)
    episodes = episodes or spec.meta.eval_episodes
    per_seed = []
    for seed in spec.meta.seed_list:
        weights = seed_dir(artifacts or run_dir, seed) / MODEL_FILE
        if not weights.is_file():
            raise RlpipeError(f"no weights for seed {seed} at {weights}: train the run first")
        agent = None
        total = 0.0
        for first in range(0, episodes, EVAL_ENVS_AT_ONCE):
            batch = min(EVAL_ENVS_AT_ONCE, episodes - first)
            env_seed = seed + EVAL_SEED_OFFSET + first
            envs = make_vec_env(spec.env, env_seed, num_envs=batch)
            if agent is None:
                agent = build_agent(spec, env_shapes(envs), torch.device(device))
                agent.load_state_dict(torch.load(weights, map_location=device, weights_only=True))
            total += batch * evaluate(agent, envs, env_seed)
            envs.close()
        per_seed.append({"seed": seed, "return_mean": total / episodes})
    result = {
        "spec_hash": spec_hash,
        "episodes_per_seed": episodes,
        "return_mean": sum(s["return_mean"] for s in per_seed) / len(per_seed),
        "per_seed": per_seed,
    }
    atomic_write_json(output or run_dir / EVAL_FILE, result)
    return result
