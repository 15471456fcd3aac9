"""The static engine's routes the GPU benchmarks compare, by name: StaticRolloutEngine's arguments for each.

Importable without torch or a GPU (gpu_step.py, small_route.py, first_step.py and decode_profile.py share them).
"""

ROUTES = {  # name -> StaticRolloutEngine arguments; the first is the trainer's default on an H100 or H200
    # (--rollout-experts auto picks fp8 copies there). Every route compiles its decode ops unless it says so.
    "static_graphs_grouped_fp8": dict(use_graphs=True, grouped_experts=True, experts_format="fp8"),
    # The adapters run beside the base (two small float32 GEMMs a projection) instead of folded into it.
    "static_graphs_grouped_fp8_lora_beside": dict(use_graphs=True, grouped_experts=True, experts_format="fp8",
                                                  merge_lora=False),
    "static_graphs_grouped_packed4bit_fused": dict(use_graphs=True, grouped_experts=True, experts_format="packed"),
    "static_graphs_grouped_packed4bit_fused_uncompiled": dict(use_graphs=True, grouped_experts=True,
                                                              experts_format="packed", compiled_ops=False),
    "static_graphs_grouped_bf16": dict(use_graphs=True, grouped_experts=True, experts_format="bf16"),
}
# Measured once and dropped to keep a full run within the device's 10 minutes a call (results/gpu_step_2026-11-30.md):
# uncompiled: dense experts dequantized per layer 212 tok/s, grouped 231, eager (no graphs) 140, dense bf16 copies 457.
DEFAULT_ROUTE = "static_graphs_grouped_fp8"
# The 24 GB route: the experts left in 4 bits and read by our NF4 kernel (decoding/nf4_triton.py).
SMALL_ROUTE = ROUTES["static_graphs_grouped_packed4bit_fused"]
