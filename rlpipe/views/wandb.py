"""`rlpipe train --wandb`: each seed's metrics rows logged to Weights & Biases.

Offline by default (WANDB_MODE is respected when set): the runs land under DIR/wandb and `wandb
sync DIR/wandb/offline-run-*` uploads them later. One W&B run per seed, grouped by the rlpipe
run; its config is the resolved spec, its tags the spec hash and the git commit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, cast

from rlpipe.errors import RlpipeError
from rlpipe.views import STEP_COLUMN, scalars


class WandbView:
    """A RowSink that logs to W&B; opened in the seed's own process."""

    def __init__(
        self, root: Path, project: str, run_name: str, config: dict[str, Any], tags: list[str]
    ) -> None:
        self.root, self.project, self.run_name = Path(root), project, run_name
        self.config, self.tags = config, tags
        self.run: Any = None

    def open(self, seed: int, columns: tuple[str, ...], start_frame: int) -> None:
        """Start (or, after a resume, continue) the seed's W&B run."""
        try:
            import wandb
        except ImportError:
            raise RlpipeError(
                '--wandb needs the wandb package: pip install -e ".[views]"'
            ) from None
        self.root.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=self.project,
            group=self.run_name,
            name=f"{self.run_name}-seed-{seed}",
            id=f"{self.run_name}-seed-{seed}-{self.tags[0]}",
            resume="allow",
            dir=str(self.root),
            mode=cast(
                "Literal['online', 'offline', 'disabled', 'shared']",
                os.environ.get("WANDB_MODE", "offline"),
            ),
            config={**self.config, "seed": seed},
            tags=self.tags,
            reinit="create_new",
        )

    def write(self, row: dict[str, Any]) -> None:
        """Log one row's scalars at its frame."""
        self.run.log(scalars(row), step=int(row[STEP_COLUMN]))

    def close(self) -> None:
        """Finish the W&B run (writes its offline files)."""
        if self.run is not None:
            self.run.finish()
            self.run = None
