"""The report's "Below target" section: for each of rlpipe's own rows under its target, what its
training curves say about why, read off the runs' metrics.csv: how many seeds reached the target,
whether the curve still rose in the last fifth of the frames or fell back from a peak, the frames
it trained against those of its references, and its parity twin's verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlpipe.algos.registry import display_name
from rlpipe.report.markdown import table_section
from rlpipe.rundir import RunFolder

HEADING = "## Below target"
COLUMNS = (
    "Env",
    "Algorithm",
    "rlpipe run",
    "Score / target",
    "Seeds at target",
    "Last fifth",
    "Largest fall from a peak",
    "Frames (references)",
    "Reading",
)
LAST_PART = 0.2
# Fractions of the env's range (target minus the random policy's return) that count as still
# rising over the last fifth of the frames, and as having fallen back from a peak.
RISING = 0.05
FALLEN = 0.2


@dataclass(frozen=True)
class SeedCurve:
    """One seed's training moving average (return_ma) against frames."""

    seed: int
    frames: list[float]
    returns: list[float]

    def at(self, frame: float) -> float:
        """The last value logged at or before `frame` (the first one if none is)."""
        before = [value for f, value in zip(self.frames, self.returns, strict=True) if f <= frame]
        return before[-1] if before else self.returns[0]

    def peak(self) -> tuple[float, float]:
        """(the highest value, the frame it was logged at), the earliest if tied."""
        best = max(range(len(self.returns)), key=lambda i: (self.returns[i], -i))
        return self.returns[best], self.frames[best]


def read_curves(run_dir: Path) -> list[SeedCurve]:
    """Each seed's return_ma curve, seeds without a logged value left out."""
    curves = []
    for seed in RunFolder(run_dir).seeds_with_metrics():
        frames, returns = [], []
        for row in seed.read_metrics():
            frame, value = row.get("frame"), row.get("return_ma")
            if frame is not None and value is not None:
                frames.append(frame)
                returns.append(value)
        if frames:
            curves.append(SeedCurve(seed.seed, frames, returns))
    return curves


def shortfall_rows(
    rows: Sequence[Mapping[str, Any]], runs_root: Path, random_scores: Mapping[str, float]
) -> list[dict[str, Any]]:
    """One entry per finished own row (no peer) whose status is fail, with its curves' figures."""
    twins = {row["parity"]["rlpipe_run"]: row for row in rows if row.get("parity")}
    entries = []
    for row in rows:
        run_dir = Path(runs_root) / row["run"]
        if row.get("peer") or row["status"] != "fail" or not RunFolder(run_dir).finished():
            continue
        curves = read_curves(run_dir)
        if not curves:
            continue
        end = max(curve.frames[-1] for curve in curves)
        start_of_last_part = end * (1 - LAST_PART)
        gains = [curve.returns[-1] - curve.at(start_of_last_part) for curve in curves]
        falls = [(curve.peak()[0] - curve.returns[-1], curve) for curve in curves]
        fall, fallen = max(falls, key=lambda pair: (pair[0], -pair[1].seed))
        peak, peak_frame = fallen.peak()
        twin = twins.get(row["run"])
        entries.append(
            {
                "run": row["run"],
                "env": row["env"],
                "family": row["family"],
                "score": row["score"],
                "target": row["target"],
                "frames": row["frames"],
                "random": random_scores.get(row["env"]),
                "seeds": len(curves),
                "seeds_at_target": sum(c.returns[-1] >= row["target"] for c in curves),
                "last_part_gain": sum(gains) / len(gains),
                "falls": {curve.seed: value for value, curve in falls},
                "fall": {
                    "seed": fallen.seed,
                    "value": fall,
                    "peak": peak,
                    "peak_frame": peak_frame,
                },
                "references": _reference_frames(row),
                "twin": None if twin is None else {"peer": twin["peer"], **twin["parity"]},
            }
        )
    return entries


def _reference_frames(row: Mapping[str, Any]) -> dict[str, int]:
    frames = {}
    if row.get("rl_zoo"):
        frames["RL Zoo"] = int(row["rl_zoo"]["timesteps"])
    if row.get("slm_lab_frames"):
        frames["SLM-Lab"] = int(row["slm_lab_frames"])
    return frames


def _thousands(frames: float) -> str:
    if frames >= 1_000_000 and frames % 100_000 == 0:
        return f"{frames / 1_000_000:g}M"
    return f"{frames / 1000:.0f}k" if frames >= 1000 else f"{frames:.0f}"


def reading(entry: Mapping[str, Any]) -> str:
    """What the curves say, in words, by the thresholds RISING and FALLEN of the env's range."""
    scale = abs(entry["target"] - entry["random"]) if entry["random"] is not None else None
    rising = scale is not None and entry["last_part_gain"] >= RISING * scale
    fallen = [] if scale is None else [s for s, v in entry["falls"].items() if v >= FALLEN * scale]
    if rising:
        words = ["still rising at the end"]
    elif scale is None:
        words = ["no random-policy score for this env to judge the curve by"]
    elif not fallen:
        words = ["flat in its last fifth"]
    else:
        words = []
    if fallen:
        seeds = " and ".join(", ".join(str(s) for s in fallen).rsplit(", ", 1))
        which = (
            f"seed {seeds} fell back from its peak"
            if len(fallen) == 1
            else (f"seeds {seeds} fell back from their peaks")
        )
        words.append(which)
    longer = [name for name, frames in entry["references"].items() if frames > entry["frames"]]
    if longer:
        words.append(f"fewer frames than {' and '.join(longer)}")
    twin = entry["twin"]
    if twin and twin["verdict"].startswith("not distinguishable"):
        words.append(f"not distinguishable from its {twin['peer'].split()[0]} twin")
    return "; ".join(words)


def _fall_cell(fall: Mapping[str, Any]) -> str:
    return (
        f"{fall['value']:.1f} (seed {fall['seed']}: {fall['peak']:.1f} at "
        f"{_thousands(fall['peak_frame'])})"
    )


def _frames_cell(entry: Mapping[str, Any]) -> str:
    references = ", ".join(f"{name} {_thousands(f)}" for name, f in entry["references"].items())
    own = _thousands(entry["frames"])
    return f"{own} ({references})" if references else own


def shortfall_lines(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The section: how it reads the curves, and one table line per row below its target."""
    if not entries:
        return []
    intro = (
        "Each of rlpipe's own rows under its target, read off its seeds' training curves "
        "(`return_ma` in metrics.csv; the env's plot shows them). Last fifth: the mean over seeds "
        "of what `return_ma` gained over the last 20% of the frames. Largest fall: the most a "
        "seed's final `return_ma` lies under its own peak. Reading: still rising when the last "
        f"fifth gained at least {RISING:.0%} of the env's range (target minus the random "
        f"policy's return), fallen back when a seed ends {FALLEN:.0%} of the range or more under "
        "its peak, flat otherwise; then whether a reference trained more frames, and the parity "
        "twin's verdict where there is one."
    )
    cells = [
        [
            entry["env"],
            display_name(entry["family"]),
            f"runs/{entry['run']}",
            f"{entry['score']:.1f} / {entry['target']:g}",
            f"{entry['seeds_at_target']}/{entry['seeds']}",
            f"{entry['last_part_gain']:+.1f}",
            _fall_cell(entry["fall"]),
            _frames_cell(entry),
            reading(entry),
        ]
        for entry in entries
    ]
    return table_section(HEADING, intro, COLUMNS, cells)
