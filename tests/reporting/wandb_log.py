"""Read a W&B offline run file (run-*.wandb): a LevelDB-style log of protobuf Records.

wandb 0.31 ships no Python reader for it; the format is 7 header bytes (":W&B", magic, version),
then 32 KiB blocks of chunks, each with a 7-byte header (crc32, length, type: 1 full, 2 first,
3 middle, 4 last).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK = 32768


def records(path: Path) -> Iterator[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", data[:7]
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:  # a block's tail too short for a chunk header is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


def history(path: Path) -> list[dict[str, str]]:
    """Every wandb.log call's items, as {key: JSON text}."""
    return [{item.key or "/".join(item.nested_key): item.value_json for item in r.history.item}
            for r in records(path) if r.WhichOneof("record_type") == "history"]
