"""Where the update's memory goes on the 4-bit route (GPU only): what is alive at the update's peak.

    python benchmarks/update_memory.py --model DIR [--out-dir DIR]

Loads the model as gpu_step.py does (Unsloth, 4-bit, LoRA r16), rolls out 8 candidates x 512 tokens on
the 24 GB route (small_route.py's engine), runs one warm update, then records every CUDA allocation of a
second update (torch.cuda.memory._record_memory_history) and replays the trace: at the moment the most
bytes were alive, it groups the allocations made during the update by where they were made (the
innermost frame in arc_console, unsloth, unsloth_zoo, transformers, peft, bitsandbytes or torch's
checkpointing) and writes the largest groups to update_memory_DATE.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import torch

from arc_console.engine.unsloth_first import import_unsloth_first

import_unsloth_first("unsloth")

from arc_console.decoding.rollout_engine import RolloutEngine  # noqa: E402
from arc_console.decoding.static_rollout import StaticRolloutEngine  # noqa: E402
from arc_console.distributed.ranks import single_process  # noqa: E402
from arc_console.engine.backends import load_policy  # noqa: E402
from arc_console.engine.phase_timer import PhaseTimer  # noqa: E402
from arc_console.engine.prompt_fitting import longest_rollout_tokens  # noqa: E402
from arc_console.engine.update import policy_update  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from problems_per_step import scored_groups, sweep_problems, update_config  # noqa: E402
from small_route import SMALL_ROUTE  # noqa: E402

GB = 1024**3
PLACES = ("arc_console", "unsloth_zoo", "unsloth", "transformers", "peft", "bitsandbytes", "torch/utils/checkpoint",
          "torch/autograd")


def site(frames: list[dict]) -> str:
    """The innermost frame in a library that names where an allocation came from."""
    for frame in frames:
        name = frame.get("filename", "")
        if any(place in name for place in PLACES):
            short = name.split("site-packages/")[-1]
            return f"{short}:{frame.get('line')} {frame.get('name')}"
    return "other"


def peak_breakdown(snapshot: dict, top: int = 20) -> dict:
    """Replays the allocation trace: the peak of the bytes allocated while recording, and who held them."""
    live: dict[int, tuple[int, str]] = {}
    total = peak = 0
    at_peak: dict[int, tuple[int, str]] = {}
    for event in snapshot["device_traces"][torch.cuda.current_device()]:
        action, address, size = event["action"], event["addr"], event["size"]
        if action == "alloc":
            live[address] = (size, site(event.get("frames", [])))
            total += size
            if total > peak:
                peak, at_peak = total, dict(live)
        elif action == "free_completed" and address in live:
            total -= live.pop(address)[0]
    groups: dict[str, int] = defaultdict(int)
    for size, where in at_peak.values():
        groups[where] += size
    largest = sorted(groups.items(), key=lambda item: -item[1])[:top]
    return {"peak_recorded_gb": peak / GB, "largest_at_peak_gb": {where: round(size / GB, 3) for where, size in largest}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--new-tokens", type=int, default=512)
    parser.add_argument("--max-seq-length", type=int, default=2048)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    temps = [0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
    policy = load_policy(args.model, "unsloth", lora_r=16, lora_alpha=32, max_seq_length=args.max_seq_length)
    (problem,) = sweep_problems(policy.tokenizer, args.max_seq_length, args.new_tokens)[:1]
    engine = RolloutEngine(policy, StaticRolloutEngine(
        policy, rows=len(temps), cache_tokens=longest_rollout_tokens([problem], policy.tokenizer, args.new_tokens),
        **SMALL_ROUTE))
    config = update_config(len(temps), args.new_tokens, args.max_seq_length, 256, micro_groups=1)
    optimizer = torch.optim.AdamW(policy.trainable_parameters().values(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda updates: 1.0)
    rollout = engine.generate([problem.prompt], temps, args.new_tokens)

    def update() -> None:
        policy_update(policy, optimizer, scheduler, config, scored_groups([problem], rollout, len(temps), 0),
                      single_process(), PhaseTimer())

    update()  # warm: optimizer moments exist, kernels compiled
    torch.cuda.synchronize()
    result = {"date": date.today().isoformat(), "gpu": torch.cuda.get_device_name(),
              "command": "python benchmarks/update_memory.py " + " ".join(sys.argv[1:]),
              "allocated_before_update_gb": torch.cuda.memory_allocated() / GB,
              "engine_gb": engine.static.memory_bytes() / GB, "tokens": rollout.tokens_generated}
    torch.cuda.reset_peak_memory_stats()
    torch.cuda.memory._record_memory_history(max_entries=500_000, stacks="python")
    update()
    torch.cuda.synchronize()
    snapshot = torch.cuda.memory._snapshot()
    torch.cuda.memory._record_memory_history(enabled=None)
    result["peak_update_gb"] = torch.cuda.max_memory_allocated() / GB
    result.update(peak_breakdown(snapshot))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"update_memory_{result['date']}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
