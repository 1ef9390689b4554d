"""Side-by-side runs: rlpipe and SB3 alternating, round after round, and their ratio."""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from rlpipe import __version__
from rlpipe.bench.measure import run_trial
from rlpipe.bench.timing import BF16_SIDE, BenchResult, Window
from rlpipe.rundir.provenance import cpu_model, package_version
from rlpipe.spec import ResolvedSpec


@dataclass(frozen=True)
class Comparison:
    """Every round of every side, and what the table shows of them."""

    resolved: ResolvedSpec
    window: Window
    rounds: dict[str, list[BenchResult]]

    def median(self, side: str) -> BenchResult:
        """The round with the median updates/s (the lower middle one for even counts)."""
        ordered = sorted(self.rounds[side], key=lambda r: r.updates_per_s)
        return ordered[(len(ordered) - 1) // 2]

    def speedup(self, side: str, over: str) -> float | None:
        """side's updates/s over `over`'s, from each side's median round (None if not run)."""
        if side not in self.rounds or over not in self.rounds:
            return None
        return self.median(side).updates_per_s / self.median(over).updates_per_s

    @property
    def ratio(self) -> float | None:
        """rlpipe's updates/s over SB3's, from each side's median round."""
        return self.speedup("rlpipe", "sb3")

    def record(self) -> dict[str, Any]:
        """A JSON record: config, per-side medians and rounds, ratio, machine, versions."""
        spec = self.resolved.spec
        algo = spec.algorithm
        device = torch.device(self.window.device)
        return {
            "key": config_key(self.resolved, self.window),
            "family": spec.family,
            "spec": spec.name,
            "env": spec.env.id,
            "overrides": list(self.resolved.overrides),
            "spec_hash": self.resolved.spec_hash,
            "actor": _hidden(algo, "actor"),
            "critic": _hidden(algo, "critic" if hasattr(algo, "critic") else "q_net"),
            "batch_size": getattr(algo, "batch_size", None),  # A2C: none (whole rollouts)
            "utd": getattr(algo, "utd", None),  # on-policy: none
            "window": self.window.__dict__,
            "sides": {
                side: {"median": self.median(side).as_dict(), "rounds": [r.as_dict() for r in rs]}
                for side, rs in self.rounds.items()
            },
            "ratio": self.ratio,
            "precision": algo.precision,
            "bf16_ratio": self.speedup(BF16_SIDE, "rlpipe"),
            "bf16_vs_sb3": self.speedup(BF16_SIDE, "sb3"),
            "machine": machine(device, self.window.threads),
            "date": datetime.date.today().isoformat(),
        }


def _hidden(algo: Any, net: str) -> list[int] | None:
    """The hidden widths of one of an algorithm's networks, None if it has no such network."""
    spec = getattr(algo, net, None)
    return None if spec is None else list(spec.hidden)


def config_key(resolved: ResolvedSpec, window: Window) -> str:
    """What makes two bench rows the same configuration (the bf16 side is part of a row)."""
    overrides = " ".join(resolved.overrides)
    compiled = "compile" if window.compile else "eager"
    spec = resolved.spec
    return f"{spec.family}/{spec.name} {overrides} {window.device} {compiled} {window.threads}t"


def machine(device: torch.device, threads: int) -> dict[str, Any]:
    """The hardware and the versions a measurement was taken with."""
    return {
        "device": device.type,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),  # rlpipe.cli sets it when busy
        "rlpipe": __version__,
        "torch": torch.__version__,
        "stable_baselines3": package_version("stable_baselines3"),
        "sb3_contrib": package_version("sb3_contrib"),
        "python": platform.python_version(),
    }


def compare(
    resolved: ResolvedSpec,
    window: Window,
    sides: tuple[str, ...],
    rounds: int,
    progress: Callable[[str], None] = lambda _: None,
) -> Comparison:
    """Run the sides alternately, `rounds` times each, every run in a fresh process."""
    results: dict[str, list[BenchResult]] = {side: [] for side in sides}
    for round_index in range(rounds):
        for side in sides:
            progress(f"round {round_index + 1}/{rounds}: {side}")
            results[side].append(run_trial(side, resolved.spec, window))
    return Comparison(resolved, window, results)
