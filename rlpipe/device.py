"""The torch device a command runs on, from --device."""

from __future__ import annotations

import torch

from rlpipe.errors import RlpipeError


def resolve_device(name: str) -> torch.device:
    """auto → cuda when available, else cpu; an unavailable cuda is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RlpipeError(f"--device {name}: no CUDA device is available; use --device cpu")
    if name != "cpu" and not name.startswith("cuda"):
        raise RlpipeError(f"--device {name}: expected auto, cpu, cuda or cuda:N")
    try:
        return torch.device(name)
    except RuntimeError:
        raise RlpipeError(f"--device {name}: expected auto, cpu, cuda or cuda:N") from None
