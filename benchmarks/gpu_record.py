"""One GPU call's record: the peer and our routes side by side, as ratios, from the JSON its stages wrote.

    python benchmarks/gpu_record.py --peer peer.json --ours ours.json [--prequantized pq.json] --out-dir DIR

peer.json from peer_trl.py, ours.json from first_step.py --routes (gpu_step.py --cold-warm --routes),
pq.json from prequantized_load.py. Writes DIR/gpu_step_DATE_CARD.json (CARD: h100, h200, ... from the GPU's
name) with `gpu`, `peer` {step_s, peak_gb}, `small_route` and `default_route` {tok_s, step_s, peak_step_gb},
`time_to_first_step_s` {cold, warm_cache} and the ratios, every figure from that one call; the stages' own
JSON stays beside them under `sources`. A stage that failed leaves its part out and is named under `missing`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

ROUTE_KEYS = ("tok_s", "step_s", "peak_step_gb", "first_step_s")


def card_name(gpu: str) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'h100'; anything without a model number -> its words joined."""
    found = re.search(r"\b([A-Za-z]{1,2}\d{2,4}[A-Za-z]?)\b", gpu)
    return (found.group(1) if found else re.sub(r"[^a-z0-9]+", "-", gpu.lower()).strip("-") or "unknown").lower()


def _load(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def build_record(peer: dict | None, ours: dict | None, prequantized: dict | None) -> dict[str, Any]:
    gpu = (ours or {}).get("gpu") or (peer or {}).get("gpu") or (prequantized or {}).get("gpu") or "unknown"
    record: dict[str, Any] = {"gpu": gpu, "date": date.today().isoformat(),
                              "same_call": "every figure below comes from one device call, one machine"}
    missing = []
    if peer and "error" not in peer and "step_s" in peer:
        record["peer"] = {"step_s": peer["step_s"], "peak_gb": peer.get("peak_gb"), "first_step_s": peer.get("first_step_s"),
                          "steps_s": peer.get("steps_s"), "what": peer.get("what"), "full_length": peer.get("full_length"),
                          "completion_tokens": peer.get("completion_tokens"), "prompt_tokens": peer.get("prompt_tokens")}
    else:
        missing.append(f"peer ({(peer or {}).get('error', 'no JSON')})")
    for route in ("small_route", "default_route"):
        figures = (ours or {}).get(route)
        if figures:
            record[route] = {key: figures.get(key) for key in ROUTE_KEYS}
        else:
            missing.append(route)
    if ours and ours.get("time_to_first_step_s", {}).get("cold") is not None:
        record["time_to_first_step_s"] = ours["time_to_first_step_s"]
        record["first_step_s"] = ours.get("first_step_s")
    else:
        missing.append("time_to_first_step_s")
    if "peer" in record:
        ratios = {}
        for route in ("small_route", "default_route"):
            if route in record and record[route].get("step_s"):
                ratios[f"{route}_step_speedup_over_peer"] = record["peer"]["step_s"] / record[route]["step_s"]
                if record[route].get("peak_step_gb") and record["peer"].get("peak_gb"):
                    ratios[f"{route}_memory_over_peer"] = record[route]["peak_step_gb"] / record["peer"]["peak_gb"]
        record["ratios"] = ratios
    if prequantized:
        record["prequantized"] = {side: {k: prequantized.get(side, {}).get(k) for k in
                                         ("load_s", "mem_after_load_gb", "peak_load_gb", "host_peak_rss_gb", "error")}
                                  for side in ("bf16_then_quantize", "prequantized")}
    record["missing"] = missing
    record["sources"] = {"peer": {k: v for k, v in (peer or {}).items() if k != "logs"}, "ours": ours,
                         "prequantized": prequantized}
    return record


def summary(record: dict[str, Any]) -> str:
    parts = [f"record {record['gpu']}:"]
    peer = record.get("peer")
    if peer:
        parts.append(f"peer {peer['step_s']:.1f} s/step at {_gb(peer.get('peak_gb'))};")
    for route in ("small_route", "default_route"):
        if route in record:
            figures = record[route]
            ratio = record.get("ratios", {}).get(f"{route}_step_speedup_over_peer")
            parts.append(f"{route} {figures['step_s']:.2f} s/step ({ratio:.1f}x)" if ratio else f"{route} {figures['step_s']:.2f} s/step")
            parts.append(f"{figures['tok_s']:.0f} tok/s {_gb(figures.get('peak_step_gb'))};")
    first = record.get("time_to_first_step_s")
    if first:
        parts.append(f"first step {first['cold']:.0f} s cold, {first['warm_cache'] or float('nan'):.0f} s warm cache")
    if record["missing"]:
        parts.append(f"MISSING: {', '.join(record['missing'])}")
    return " ".join(parts)


def _gb(value: float | None) -> str:
    return "? GB" if value is None else f"{value:.1f} GB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", type=Path)
    parser.add_argument("--ours", type=Path)
    parser.add_argument("--prequantized", type=Path)
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    record = build_record(_load(args.peer), _load(args.ours), _load(args.prequantized))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"gpu_step_{record['date']}_{card_name(record['gpu'])}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(summary(record) + f" -> {path}", flush=True)
    return 1 if record["missing"] else 0


if __name__ == "__main__":
    sys.exit(main())
