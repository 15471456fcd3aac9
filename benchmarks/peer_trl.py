"""The peer: Unsloth + TRL's GRPOTrainer (loss_type "dapo"), the way users train GPT-OSS today, on the same
model, prompt and lengths as our step in benchmarks/gpu_step.py.

    python benchmarks/peer_trl.py --model DIR --out peer.json [--steps 3]    # a CUDA GPU, Unsloth, TRL
    python benchmarks/peer_trl.py --cpu-smoke --out peer_smoke.json          # the plumbing, on a CPU

Same as ours: the prompt (ARC-AGI-1 af902bf9 fitted to 2048 - 512 tokens as the trainer fits it:
problems_per_step.sweep_problems), 8 completions x 512 new tokens, LoRA r16 (alpha 32) on q, k, v, o,
Unsloth's 4-bit load of the same checkpoint, DAPO without a KL term. Random weights rarely sample a stop
token and our side always runs to 512, so TRL is forced to 512 as well (generation_kwargs min_new_tokens):
the JSON says so and records the completion lengths TRL logged. Rewards are random (seeded), as in our
benchmark, so every group has advantages; the compute does not depend on their values.

One step of GRPOTrainer = generate 8 completions (Unsloth's generate), score, the DAPO loss and its
backward, the optimizer step. Each step is timed between the Trainer's on_step_begin and on_step_end
(synchronized); step_s is the median of the steps after the first. peak_gb is the largest
torch.cuda.max_memory_allocated() of those steps (the counter is reset as each begins), the same measure
as our peak_step_gb.

--cpu-smoke runs the same trainer with plain transformers + peft on the built-in tiny random model (TRL's
own GRPOTrainer, no Unsloth), a few new tokens: it checks the script end to end, not the peer's speed.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import random
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

PROCESS_STARTED = time.perf_counter()
GB = 1024**3
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a GPT-OSS checkpoint folder (arc-console make-model); required without --cpu-smoke")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    parser.add_argument("--steps", type=int, default=3, help="trainer steps; the first is the cold one (default 3)")
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=512)
    parser.add_argument("--max-seq-length", type=int, default=2048)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="plain transformers + peft + TRL on the tiny random model, on the CPU (few tokens)")
    args = parser.parse_args(argv)
    if args.cpu_smoke:
        args.model = args.model or "tiny-random"
        if "--new-tokens" not in " ".join(argv if argv is not None else sys.argv):
            args.new_tokens = 8
    if args.model is None:
        parser.error("--model is required (or --cpu-smoke)")
    if args.steps < 2:
        parser.error("--steps must be at least 2: the first step is the cold one, the rest are timed")
    return args


def versions() -> dict[str, str]:
    found = {}
    for name in ("torch", "transformers", "peft", "trl", "unsloth", "unsloth_zoo", "bitsandbytes", "accelerate",
                 "datasets", "arc-console"):
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return found


def load_peer_model(args: argparse.Namespace) -> tuple[Any, Any]:
    """(model with LoRA, tokenizer): Unsloth's 4-bit load on the GPU, plain transformers + peft on the CPU."""
    if args.cpu_smoke:
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from arc_console.engine.model_path import resolve_model_path

        path = resolve_model_path(args.model)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path)
        lora = LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.0, target_modules=LORA_TARGETS,
                          bias="none", task_type="CAUSAL_LM")
        return get_peft_model(model, lora), tokenizer
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(model_name=args.model, max_seq_length=args.max_seq_length,
                                                         load_in_4bit=True, dtype=None)
    model = FastLanguageModel.get_peft_model(model, r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.0,
                                             target_modules=LORA_TARGETS, bias="none",
                                             use_gradient_checkpointing="unsloth", random_state=0)
    return model, tokenizer


def grpo_settings(args: argparse.Namespace, output_dir: str) -> dict[str, Any]:
    """GRPOConfig's arguments: DAPO as our trainer runs it, with every completion forced to full length."""
    on_gpu = not args.cpu_smoke
    return dict(
        output_dir=output_dir, max_steps=args.steps, per_device_train_batch_size=args.candidates,
        gradient_accumulation_steps=1, num_generations=args.candidates,
        max_completion_length=args.new_tokens, temperature=1.0,
        # Random weights rarely sample a stop token and ours always decode to the limit: TRL does too.
        generation_kwargs={"min_new_tokens": args.new_tokens},
        loss_type="dapo", beta=0.0, epsilon_high=0.28,
        router_aux_loss_coef=0.0,  # ours has no router loss; Unsloth sets 0 too (TRL's default adds one)
        # Unsloth turns this on for an explicit dapo; every completion here is cut at the limit, so it would
        # mask every token (ours does not mask truncated completions unless asked).
        mask_truncated_completions=False,
        learning_rate=1e-5, optim="adamw_8bit" if on_gpu else "adamw_torch",
        bf16=on_gpu, use_cpu=not on_gpu, seed=0, logging_steps=1, save_strategy="no", report_to="none",
        shuffle_dataset=False, disable_tqdm=True,
    )


def make_step_clock(cuda: bool, on_step: Any) -> Any:
    import torch
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        """Seconds and peak allocated memory of each optimizer step (generation included), and TRL's logs."""

        def __init__(self) -> None:
            self.seconds: list[float] = []
            self.peaks_gb: list[float] = []
            self.logs: list[dict] = []
            self._started = 0.0

        def on_step_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            self._started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003
            if cuda:
                torch.cuda.synchronize()
                self.peaks_gb.append(torch.cuda.max_memory_allocated() / GB)
            self.seconds.append(time.perf_counter() - self._started)
            print(f"peer step {len(self.seconds)}: {self.seconds[-1]:.2f} s"
                  + (f", peak {self.peaks_gb[-1]:.1f} GB" if cuda else ""), flush=True)
            on_step(self)

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN003
            if logs:
                self.logs.append({k: v for k, v in logs.items() if isinstance(v, (int, float))})

    return StepClock()


def completion_lengths(logs: list[dict]) -> dict[str, float]:
    """TRL's logged completion lengths over the steps: the proof that every completion ran to the limit."""
    lengths: dict[str, float] = {}
    for key, name in (("completions/mean_length", "mean"), ("completions/min_length", "min"),
                      ("completions/max_length", "max"), ("completions/clipped_ratio", "clipped_ratio")):
        values = [log[key] for log in logs if key in log]
        if values:
            lengths[name] = min(values) if name == "min" else max(values) if name == "max" else statistics.mean(values)
    return lengths


def record_steps(result: dict, clock: Any) -> None:
    """The steps measured so far into `result`: step_s is the median of those after the first."""
    result["steps_s"] = list(clock.seconds)
    result["first_step_s"] = clock.seconds[0]
    if len(clock.seconds) > 1:
        result["step_s"] = statistics.median(clock.seconds[1:])
    if clock.peaks_gb:
        result["first_step_peak_gb"] = clock.peaks_gb[0]
        if len(clock.peaks_gb) > 1:
            result["peak_gb"] = max(clock.peaks_gb[1:])
    result["completion_tokens"] = completion_lengths(clock.logs)
    result["logs"] = clock.logs


def run_peer(args: argparse.Namespace, result: dict) -> None:
    import torch

    cuda = not args.cpu_smoke
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    model, tokenizer = load_peer_model(args)
    if cuda:
        torch.cuda.synchronize()
        result["mem_after_load_gb"] = torch.cuda.memory_allocated() / GB
    result["load_s"] = time.perf_counter() - started
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token

    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from problems_per_step import sweep_problems  # noqa: E402  (benchmarks/, beside this script)

    (problem,) = sweep_problems(tokenizer, args.max_seq_length, args.new_tokens)[:1]
    result["prompt_tokens"] = len(tokenizer(problem.prompt, add_special_tokens=False)["input_ids"])
    result["task"] = problem.task.id
    draw = random.Random(0)

    def random_reward(completions: list, **_: Any) -> list[float]:
        return [draw.random() for _ in completions]

    dataset = Dataset.from_dict({"prompt": [problem.prompt] * args.steps})
    def save_so_far(clock: Any) -> None:  # a run cut by the call's time limit still leaves its steps
        record_steps(result, clock)
        args.out.write_text(json.dumps(result, indent=2) + "\n")

    clock = make_step_clock(cuda, save_so_far)
    with tempfile.TemporaryDirectory(prefix="peer-trl-") as output_dir:
        settings = grpo_settings(args, output_dir)
        trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[random_reward],
                              args=GRPOConfig(**settings), train_dataset=dataset, callbacks=[clock])
        effective = trainer.args
        result["trainer"] = type(trainer).__name__
        result["settings"] = {key: getattr(effective, key, value) for key, value in settings.items()
                              if key not in ("output_dir", "disable_tqdm")}
        result["settings"]["optim"] = str(getattr(effective, "optim", settings["optim"]))
        result["settings"]["gradient_checkpointing"] = getattr(effective, "gradient_checkpointing", None)
        trainer.train()
    record_steps(result, clock)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cpu_smoke:  # TRL 1.15 computes log-probs with a Triton kernel only: its interpreter runs it on a CPU
        os.environ.setdefault("TRITON_INTERPRET", "1")
    import torch

    if not args.cpu_smoke and not torch.cuda.is_available():
        print("peer_trl.py: no CUDA GPU here (use --cpu-smoke to check the plumbing on a CPU)", file=sys.stderr)
        return 2
    if not args.cpu_smoke:
        try:
            import unsloth  # noqa: F401  (before transformers and trl: it patches both, GRPOTrainer included)
        except Exception as exc:  # noqa: BLE001
            print(f"peer_trl.py: cannot import unsloth: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
    imported_s = time.perf_counter() - PROCESS_STARTED
    result: dict[str, Any] = {
        "what": "Unsloth + TRL GRPOTrainer (loss_type dapo)" if not args.cpu_smoke
        else "CPU smoke: TRL GRPOTrainer (loss_type dapo) with transformers + peft, no Unsloth",
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() and not args.cpu_smoke else "cpu",
        "command": "python benchmarks/peer_trl.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "versions": versions(), "model": args.model, "candidates": args.candidates, "new_tokens": args.new_tokens,
        "lora_r": args.lora_r, "import_s": imported_s,
        "full_length": f"generation_kwargs min_new_tokens={args.new_tokens}: every completion runs to "
                       f"{args.new_tokens} new tokens, as ours do on random weights",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_peer(args, result)
    except Exception as exc:  # noqa: BLE001 - the runner's other stages go on; the JSON says what broke
        result["error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
        traceback.print_exc()
    result["wall_s"] = time.perf_counter() - PROCESS_STARTED
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if "error" in result:
        print(f"peer: FAILED ({result['error'][:200]}); see {args.out}", flush=True)
        return 1
    peak = f", peak {result['peak_gb']:.1f} GB" if "peak_gb" in result else ""
    print(f"peer: {result['trainer']} warm step {result['step_s']:.2f} s (first {result['first_step_s']:.1f} s){peak}, "
          f"completions {result['completion_tokens'].get('mean', float('nan')):.0f} tokens on average -> {args.out}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
