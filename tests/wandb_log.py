"""Read the records of a W&B offline run file (run-*.wandb), for tests: the file is a LevelDB
log (7-byte W&B header, then 32 KiB blocks of records, each a 7-byte header of CRC, length and
fragment type) of wandb_internal_pb2.Record protobufs."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _payloads(data: bytes) -> Iterator[bytes]:
    position, pending = HEADER, b""
    while position + HEADER <= len(data):
        left = BLOCK - position % BLOCK
        if left < HEADER:  # the block's tail is padding
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + HEADER])
        chunk = data[position + HEADER : position + HEADER + length]
        position += HEADER + length
        if kind == FULL:
            yield chunk
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            yield pending + chunk
            pending = b""


def read_offline_run(path: Path) -> dict[str, Any]:
    """{"history": [{key: value}], "config": {key: value}, "tags": [...]} of one .wandb file."""
    from wandb.proto import wandb_internal_pb2

    run: dict[str, Any] = {"history": [], "config": {}, "tags": []}
    for payload in _payloads(path.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            run["history"].append(
                {
                    item.key or "/".join(item.nested_key): json.loads(item.value_json)
                    for item in record.history.item
                }
            )
        elif kind == "run":
            run["tags"] = list(record.run.tags)
            for update in record.run.config.update:
                key = update.key or "/".join(update.nested_key)
                run["config"][key] = json.loads(update.value_json)
    return run
