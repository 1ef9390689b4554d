"""Views of the metrics rows outside metrics.csv: TensorBoard and Weights & Biases.

metrics.csv stays the source of truth; a view gets each row as the seed loop writes it and never
feeds anything back into training, so its code is not a dependency of the train stages (see
rlpipe/stages.py's BOOKKEEPING).
"""

from __future__ import annotations

from typing import Any

STEP_COLUMN = "frame"
CHART_TAGS = {
    "return_mean": "charts/episodic_return",
    "return_ma": "charts/episodic_return_ma",
    "eval_return": "eval/episodic_return",
    "episodes": "charts/episodes",
    "fps": "charts/SPS",
    "wall_s": "charts/wall_s",
    "lr": "charts/learning_rate",
}
"""Row column -> tag, after CleanRL's names (charts/episodic_return, charts/SPS, losses/...)."""


def tag(column: str) -> str:
    """The tag of a metrics column: CleanRL's chart names, else losses/<name> for the agent's
    update statistics (loss_critic -> losses/critic_loss, q_mean -> losses/q_mean)."""
    if column in CHART_TAGS:
        return CHART_TAGS[column]
    if column.startswith("loss_"):
        return f"losses/{column.removeprefix('loss_')}_loss"
    return f"losses/{column}"


def scalars(row: dict[str, Any]) -> dict[str, float]:
    """The row's values by tag, without the step column and empty cells."""
    return {
        tag(column): float(value)
        for column, value in row.items()
        if column != STEP_COLUMN and value is not None
    }
