"""`rlpipe eval` of a peer run: each seed's final weights loaded into the SB3 twin, N
deterministic episodes on rlpipe's eval envs. Not training code: the eval stage depends on it,
the train stage does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rlpipe.algos.registry import algorithm
from rlpipe.envs import make_vec_env
from rlpipe.evaluation import check_finite_weights
from rlpipe.loops.evaluate import eval_seed, evaluate
from rlpipe.peers.sb3 import build_model, sb3_env
from rlpipe.peers.train import TwinAgent
from rlpipe.rundir import DamagedRunFile, RunFolder, atomic_write_json


def evaluate_peer_run(
    run: RunFolder,
    episodes: int | None = None,
    device: torch.device | None = None,
    output: Path | None = None,
) -> dict[str, Any]:
    """`rlpipe eval` of a peer run: every seed's final weights, N deterministic episodes on
    rlpipe's eval envs; writes eval.json in the form rlpipe's runs have."""
    device = device or torch.device("cpu")
    saved = run.read_spec()
    spec = saved.spec
    episodes = episodes or spec.meta.eval_episodes
    per_seed = []
    for seed in spec.meta.seed_list:
        weights = run.seed(seed).load_weights(device)
        check_finite_weights(weights, run.seed(seed).model)
        env = sb3_env(spec, seed)
        envs = make_vec_env(
            spec.env,
            eval_seed(seed),
            num_envs=episodes,
            rescale_actions=algorithm(spec.algorithm.name).squashes_actions,
        )
        try:
            model = build_model(spec, env, seed, str(device), buffer_size=1)
            agent = TwinAgent(model, env, spec, eval_seed(seed))
            try:
                agent.load_state_dict(weights)
            except (KeyError, RuntimeError, TypeError, ValueError) as error:
                reason = str(error).split("\n", 1)[0]
                raise DamagedRunFile(
                    f"{run.seed(seed).model} does not hold the SB3 twin's weights for this run's "
                    f"spec ({reason}); re-train the run or restore the file"
                ) from None
            return_mean = evaluate(agent, envs, eval_seed(seed))
            per_seed.append({"seed": seed, "return_mean": return_mean})
        finally:
            env.close()
            envs.close()
    result = {
        "spec_hash": saved.spec_hash,
        "episodes_per_seed": episodes,
        "return_mean": sum(s["return_mean"] for s in per_seed) / len(per_seed),
        "per_seed": per_seed,
    }
    atomic_write_json(output or run.eval_file, result)
    return result
