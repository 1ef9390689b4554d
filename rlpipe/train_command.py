"""The `rlpipe train` command line that suite stages (rlpipe.stages) and search trials
(rlpipe.search.trial) run: one writer of it, so that both follow the command's options."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def train_argv(
    family: str,
    spec: str,
    overrides: Sequence[str] = (),
    *,
    seeds: int | None = None,
    workers: int | None = None,
    device: str | None = None,
    peer: str | None = None,
    peer_versions: Sequence[str] = (),
    resume_from: str | Path | None = None,
    out: str | Path | None = None,
    artifacts: str | Path | None = None,
    pipelines: str | Path | None = None,
    overwrite: bool = False,
    quiet: bool = False,
    until_frame: int | None = None,
    only_seeds: Sequence[int] | None = None,
) -> list[str]:
    """`rlpipe train FAMILY SPEC -s OVERRIDE...` and the options given, always in this order;
    an option left None (False, empty) is not written. Join it with shlex.quote for a shell."""
    argv = ["rlpipe", "train", family, spec]
    argv += [word for override in overrides for word in ("-s", override)]
    options: list[tuple[str, object]] = [
        ("--seeds", seeds),
        ("--workers", workers),
        ("--device", device),
        ("--peer", peer),
    ]
    argv += [word for flag, value in options if value is not None for word in (flag, str(value))]
    argv += [word for pin in peer_versions for word in ("--peer-version", pin)]
    paths: list[tuple[str, str | Path | None]] = [
        ("--resume-from", resume_from),
        ("--out", out),
        ("--artifacts", artifacts),
        ("--pipelines", pipelines),
    ]
    argv += [word for flag, path in paths if path is not None for word in (flag, str(path))]
    argv += [flag for flag, given in (("--overwrite", overwrite), ("--quiet", quiet)) if given]
    if until_frame is not None:
        argv += ["--until-frame", str(until_frame)]
    if only_seeds is not None:
        argv += ["--only-seeds", ",".join(str(seed) for seed in only_seeds)]
    return argv
