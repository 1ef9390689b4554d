"""One-off migration of dvc.lock to code-fingerprint dependencies (rlpipe/fingerprint.py).

dvc.yaml's train and eval stages used to depend on their source files; they now depend on a
fingerprint of them. A stage's dvc.lock entry is moved to the new dependency only when it is
exactly as valid as before: every source file it recorded has today's content (same md5) and the
recorded files are exactly the fingerprinted set. Any other entry (a row trained on older code) is
left as it is, so DVC keeps calling it stale. Run after the code-* stages have written their
fingerprints (`dvc repro -s code-...`); prints what it moved and what it left.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import yaml
from dvc.utils.serialize import dumps_yaml, loads_yaml  # DVC's reading and layout of dvc.lock

from rlpipe.rundir import atomic_write_text


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def main(root: Path = Path(".")) -> int:
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    lock = loads_yaml((root / "dvc.lock").read_text())
    fingerprinted = {
        stage["outs"][0] if isinstance(stage["outs"][0], str) else next(iter(stage["outs"][0])): [
            dep for dep in stage["deps"] if dep != "rlpipe/fingerprint.py"
        ]
        for name, stage in stages.items()
        if name.startswith("code-")
    }
    moved, left = [], []
    for name, stage in stages.items():
        prints = [dep for dep in stage.get("deps", []) if dep in fingerprinted]
        entry = lock["stages"].get(name)
        if not prints or entry is None:
            continue
        (fingerprint,) = prints
        recorded = {d["path"]: d for d in entry["deps"] if d["path"].startswith("rlpipe/")}
        if not recorded:
            continue  # already moved
        same_set = set(recorded) == set(fingerprinted[fingerprint])
        current = same_set and all(
            (root / path).is_file() and md5(root / path) == dep["md5"]
            for path, dep in recorded.items()
        )
        if not current:
            left.append(name)
            continue
        printed = root / fingerprint
        entry["deps"] = [
            {
                "path": fingerprint,
                "hash": "md5",
                "md5": md5(printed),
                "size": printed.stat().st_size,
            },
            *(d for d in entry["deps"] if not d["path"].startswith("rlpipe/")),
        ]
        moved.append(name)
    atomic_write_text(root / "dvc.lock", dumps_yaml(lock))
    print("moved:", " ".join(moved))
    print("left (trained on other code):", " ".join(left))
    return 0


if __name__ == "__main__":
    sys.exit(main())
