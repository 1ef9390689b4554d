"""`rlpipe train --tensorboard DIR`: each seed's metrics rows as TensorBoard scalars.

One event-file folder per seed, DIR/<run>/seed-K, stepped by env frame (CleanRL's global_step).
On a resume the rows after the checkpoint are purged, as metrics.csv is cut back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlpipe.errors import RlpipeError
from rlpipe.views import STEP_COLUMN, scalars


class TensorBoardView:
    """A RowSink that writes TensorBoard event files; opened in the seed's own process."""

    def __init__(self, root: Path, run_name: str) -> None:
        self.root, self.run_name = Path(root), run_name
        self.writer: Any = None

    def open(self, seed: int, columns: tuple[str, ...], start_frame: int) -> None:
        """Start seed-K's event file (purging steps after start_frame on a resume)."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise RlpipeError(
                '--tensorboard needs the tensorboard package: pip install -e ".[views]"'
            ) from None
        folder = self.root / self.run_name / f"seed-{seed}"
        self.writer = SummaryWriter(str(folder), purge_step=start_frame or None)

    def write(self, row: dict[str, Any]) -> None:
        """Add one row's scalars at its frame."""
        step = int(row[STEP_COLUMN])
        for name, value in scalars(row).items():
            self.writer.add_scalar(name, value, step)

    def close(self) -> None:
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
