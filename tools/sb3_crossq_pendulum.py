"""sb3-contrib's CrossQ on Pendulum-v1 with its own defaults, as a new user would compare it.

    python tools/sb3_crossq_pendulum.py --seeds 0 1 2 3

Only what `rlpipe train crossq pendulum -s max_frame=15000 -s algorithm.learning_starts=1000`
also sets is given: frames, learning starts, batch size and the widths of actor and critics.
Everything else is sb3-contrib's default (BatchRenorm actor and critics, Adam betas
(0.5, 0.999) for actor and critics and Adam's own for the temperature, policy delay 3,
learning rate 1e-3). Each seed ends with a deterministic evaluation of `--episodes` episodes,
printed per seed, then their mean.
"""

from __future__ import annotations

import argparse
import statistics

import gymnasium as gym
import torch


def train_and_evaluate(
    seed: int, frames: int, learning_starts: int, batch_size: int, width: int, episodes: int
) -> float:
    """Mean return of `episodes` deterministic episodes after `frames` frames of training."""
    from sb3_contrib import CrossQ
    from stable_baselines3.common.evaluation import evaluate_policy

    env = gym.make("Pendulum-v1")
    model = CrossQ(
        "MlpPolicy",
        env,
        learning_starts=learning_starts,
        batch_size=batch_size,
        policy_kwargs={"net_arch": {"pi": [width, width], "qf": [width, width]}},
        seed=seed,
        device="cpu",
    )
    model.learn(total_timesteps=frames)
    eval_env = gym.make("Pendulum-v1")
    eval_env.reset(seed=seed + 1_000_003)
    mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=episodes, deterministic=True)
    env.close()
    eval_env.close()
    return float(mean)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--frames", type=int, default=15_000)
    parser.add_argument("--learning-starts", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    returns = []
    for seed in args.seeds:
        eval_return = train_and_evaluate(
            seed, args.frames, args.learning_starts, args.batch_size, args.width, args.episodes
        )
        returns.append(eval_return)
        print(f"seed {seed}: eval_return {eval_return:.1f}", flush=True)
    print(f"mean over {len(returns)} seeds: {statistics.fmean(returns):.1f}")


if __name__ == "__main__":
    main()
