"""One GPU step at the seed's settings on a GPT-OSS model, measured piece by piece.

    python benchmarks/gpu_step.py --model DIR [--backend unsloth] [--new-tokens 512] [--sequential-tokens 32]
                                  [--default-route-only | --problems-per-step-only]

DIR is a GPT-OSS checkpoint, e.g. from `arc-console make-model --shape gpt-oss-20b --out DIR`.
Measures: load time and memory; 8 candidates x N new tokens in ONE batched generate with
per-candidate temperatures (Unsloth's generate: the baseline); the same 8 one by one (as the seed
did; fewer tokens each, the rate is per token); the static rollout engine's routes side by side
(ROUTES: fp8 expert copies with the LoRA folded in or beside the base, 4-bit experts through the
fused NF4 kernel, bf16 copies), each with the largest |log-prob difference| from the trainer's forward
pass on its sampled tokens; P problems x 8 candidates per rollout for P = 1, 2, 4, 8 on the default
route, each followed by the trainer's DAPO update over its P groups, in micro-batches of
--update-micro-groups groups (problems_per_step.py: the step's time and peak memory); forward+backward
of the DAPO loss over the 8 sequences (first call and warm); the peak memory of rollout + update. The prompt is ARC-AGI-1 af902bf9, cut to fit 2048 - N tokens as
the trainer does. Writes JSON and a markdown table to --out-dir (default benchmarks/results);
--default-route-only measures only the default route, its log-prob agreement and the update, and
writes gpu_step_DATE_default_route.json; --problems-per-step-only only the P sweep
(gpu_step_DATE_problems_per_step.json).

Two modes measure fresh processes and take their own script's arguments:
    python benchmarks/gpu_step.py --cold-warm --model DIR --out F.json [--routes]   # first_step.py: time to the
        first step cold and with a warm compile cache, two processes (--routes: both routes' steps in the cold one)
    python benchmarks/gpu_step.py --prequantized --model DIR --out F.json           # prequantized_load.py: load
        time and memory of Unsloth's pre-quantized layout against BF16-then-quantize, two processes
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

PROCESS_STARTED = time.perf_counter()  # time_to_first_step_s counts from here

if __name__ == "__main__" and {"--cold-warm", "--prequantized"} & set(sys.argv[1:]):
    # Modes that measure fresh processes (first_step.py, prequantized_load.py): dispatched before this one
    # imports anything that could warm them.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    rest = [a for a in sys.argv[1:] if a not in ("--cold-warm", "--prequantized")]
    if "--cold-warm" in sys.argv:
        from first_step import main as cold_warm_main
        sys.exit(cold_warm_main(rest))
    from prequantized_load import main as prequantized_main
    sys.exit(prequantized_main(rest))

import torch  # noqa: E402

from arc_console.engine.unsloth_first import import_unsloth_first  # noqa: E402


def _import_order_from_argv() -> None:
    """Unsloth before transformers (as `arc-console train` does), unless --unsloth-after-transformers
    asks for the old order, to measure what the order costs."""
    backend = "unsloth"
    for index, arg in enumerate(sys.argv):
        if arg == "--backend" and index + 1 < len(sys.argv):
            backend = sys.argv[index + 1]
        elif arg.startswith("--backend="):
            backend = arg.split("=", 1)[1]
    if "--unsloth-after-transformers" in sys.argv:
        import transformers  # noqa: F401
    import_unsloth_first(backend)


_import_order_from_argv()

from arc_console.arc import build_prompt, load_tasks, select_tasks  # noqa: E402
from arc_console.engine.backends import load_policy  # noqa: E402
from arc_console.engine.logprobs import build_batch, completion_logprobs  # noqa: E402
from arc_console.engine.objectives import dapo_loss, group_advantages  # noqa: E402
from arc_console.decoding.compilations import compilations  # noqa: E402
from arc_console.decoding.rollout_engine import RolloutEngine  # noqa: E402
from arc_console.decoding.static_rollout import StaticRolloutEngine  # noqa: E402
from arc_console.distributed.ranks import single_process  # noqa: E402
from arc_console.engine.phase_timer import PhaseTimer  # noqa: E402
from arc_console.engine.prompt_fitting import longest_rollout_tokens  # noqa: E402
from arc_console.engine.update import policy_update  # noqa: E402
from problems_per_step import measure_problems_per_step, scored_groups, sweep_problems, update_config  # noqa: E402  (benchmarks/, beside this script)
from logprob_check import max_logprob_difference  # noqa: E402
from routes import DEFAULT_ROUTE, ROUTES, SMALL_ROUTE  # noqa: E402
from small_route import measure_small_route  # noqa: E402

GB = 1024**3


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def fitted_prompt(tokenizer, budget: int, task_id: str = "af902bf9") -> tuple[str, int]:
    (task,) = select_tasks(load_tasks("arc1-training"), [task_id])
    for used in range(len(task.train), 0, -1):
        prompt = build_prompt(task.train[:used], task.test_input)
        length = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if length <= budget:
            return prompt, length
    raise SystemExit(f"{task_id} does not fit the budget")




def trainer_logprob_noise(policy, rollout, chunk: int) -> float:
    """Largest |difference| between the trainer's own log-probs of the same tokens, computed in one batch
    and row by row: the bf16 noise floor against which the engine's difference is read."""
    samples = rollout.samples
    rows = [(rollout.prompt_ids[s.group], s.completion_ids, s.temperature) for s in samples]
    policy.for_training()
    together = build_batch(*map(list, zip(*rows)), policy.tokenizer.pad_token_id, policy.device)
    batched, _ = completion_logprobs(policy, together, chunk, with_grad=False)
    worst = 0.0
    for row, (prompt, completion, temperature) in enumerate(rows):
        alone = build_batch([prompt], [completion], [temperature], policy.tokenizer.pad_token_id, policy.device)
        single, _ = completion_logprobs(policy, alone, chunk, with_grad=False)
        count = len(completion)
        worst = max(worst, (single[0, :count] - batched[row, :count]).abs().max().item())
    return worst


def timed_rollout(engine: RolloutEngine, prompts: list[str], temps: list[float], new_tokens: int) -> tuple[object, float, float]:
    """(rollout, tokens per second, peak GB during it)."""
    torch.cuda.reset_peak_memory_stats()
    synchronize()
    started = time.perf_counter()
    rollout = engine.generate(prompts, temps, new_tokens)
    synchronize()
    return rollout, rollout.tokens_generated / (time.perf_counter() - started), torch.cuda.max_memory_allocated() / GB


def measure_routes(policy, prompt: str, temps: list[float], tokens: int, chunk: int, result: dict) -> None:
    result["rollout_routes"], result["rollout_route_details"] = {}, {}
    for name, options in ROUTES.items():
        detail: dict = {"new_tokens": tokens, **options}
        notices: list[str] = []
        try:
            engine = StaticRolloutEngine(policy, on_notice=notices.append, **options)
            started = time.perf_counter()
            RolloutEngine(policy, engine).generate([prompt], temps, tokens)  # builds the weights view, captures the graph
            detail["first_call_s"] = time.perf_counter() - started
            detail["engine"], detail["notices"] = engine.describe(), notices
            rollout, rate, peak = timed_rollout(RolloutEngine(policy, engine), [prompt], temps, tokens)
            detail.update(tok_s=rate, peak_gb=peak, engine_gb=engine.memory_bytes() / GB,
                          max_abs_logprob_diff=max_logprob_difference(policy, rollout, temps, chunk))
            result["rollout_routes"][name] = rate
        except Exception as exc:  # a route that fails on this GPU is reported, not fatal
            detail["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        result["rollout_route_details"][name] = detail
        print(name, json.dumps(detail), flush=True)
        engine = None
        torch.cuda.empty_cache()


def dapo_update(policy, rollout, optimizer, chunk: int) -> float:
    """One DAPO update over the rollout's sequences as the trainer makes it (random advantages per group):
    returns the seconds of forward + backward, then takes the optimizer step (if one is given)."""
    samples = rollout.samples
    batch = build_batch([rollout.prompt_ids[s.group] for s in samples], [s.completion_ids for s in samples],
                        [s.temperature for s in samples], policy.tokenizer.pad_token_id, policy.device)
    groups = len(rollout.prompt_ids)
    advantages = group_advantages(torch.randn(groups, len(samples) // groups, device=policy.device)).flatten()
    policy.for_training()
    synchronize()
    started = time.perf_counter()
    logp, _ = completion_logprobs(policy, batch, chunk, with_grad=True)
    loss, _ = dapo_loss(logp, logp.detach(), advantages, batch.completion_mask)
    loss.backward()
    synchronize()
    seconds = time.perf_counter() - started
    if optimizer is not None:
        optimizer.step()
    policy.model.zero_grad(set_to_none=True)
    return seconds


def measure_warm_up(policy, temps: list[float], args: argparse.Namespace, result: dict, steps: int = 4) -> None:
    """The trainer's first steps, first thing after load: the default route's engine sized as the trainer sizes
    it (the longest of the steps' prompts + new tokens), then a rollout and the trainer's update
    (engine/update.py) a step, on the P sweep's first four prompts (three lengths: the last two fit to the same). time_to_first_step_s counts from the
    process's start (load included); recompiles_after_step1 are torch.compile's after step 1."""
    problems = sweep_problems(policy.tokenizer, args.max_seq_length, args.new_tokens)[:steps]
    engine = RolloutEngine(policy, StaticRolloutEngine(
        policy, rows=len(temps), cache_tokens=longest_rollout_tokens(problems, policy.tokenizer, args.new_tokens),
        **ROUTES[DEFAULT_ROUTE]))
    config = update_config(len(temps), args.new_tokens, args.max_seq_length, args.logprob_chunk, args.update_micro_groups)
    optimizer = torch.optim.AdamW(policy.trainable_parameters().values(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda updates: 1.0)
    seconds, lengths, after_first = [], [], 0
    for step, problem in enumerate(problems, start=1):
        started = time.perf_counter()
        rollout = engine.generate([problem.prompt], temps, args.new_tokens)
        policy_update(policy, optimizer, scheduler, config, scored_groups([problem], rollout, len(temps), step),
                      single_process(), PhaseTimer())
        synchronize()
        seconds.append(time.perf_counter() - started)
        lengths.append(len(rollout.prompt_ids[0]))
        if step == 1:
            result["time_to_first_step_s"] = time.perf_counter() - PROCESS_STARTED
            after_first = compilations()
    result.update(warm_up_step_s=seconds, warm_up_prompt_tokens=lengths, compilations_at_step1=after_first,
                  recompiles_after_step1=compilations() - after_first)
    print("warm-up", json.dumps({k: result[k] for k in ("time_to_first_step_s", "warm_up_step_s",
                                                         "recompiles_after_step1")}), flush=True)
    optimizer.zero_grad(set_to_none=True)
    torch.cuda.empty_cache()


def save_partial(result: dict, out_dir: Path) -> None:
    """Write what is measured so far: a run cut short by the device's time limit still leaves its figures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"gpu_step_{result['date']}.partial.json").write_text(json.dumps(result, indent=2) + "\n")


def measure_baseline_and_routes(policy, prompt: str, temps: list[float], args: argparse.Namespace, result: dict) -> None:
    """Unsloth's generate (the baseline), the 8 one by one, every engine route, and P problems per rollout."""
    generate = RolloutEngine(policy)  # Unsloth's (or transformers') generate: the baseline
    generate.generate([prompt], temps, 8)  # warm-up
    # The shared-prompt prefill must sample exactly what K separate prefills sample.
    torch.manual_seed(0)
    plain = generate.generate([prompt], temps, 16, share_prefill=False)
    torch.manual_seed(0)
    shared = generate.generate([prompt], temps, 16, share_prefill=True)
    result["shared_prefill_same_tokens"] = [s.completion_ids for s in plain.samples] == [s.completion_ids for s in shared.samples]
    torch.cuda.reset_peak_memory_stats()
    synchronize()
    started = time.perf_counter()
    rollout = generate.generate([prompt], temps, args.new_tokens)
    synchronize()
    seconds = time.perf_counter() - started
    result["baseline_generate_tokens"] = rollout.tokens_generated
    result["baseline_generate_s"] = seconds
    result["baseline_unsloth_generate_tok_s"] = rollout.tokens_generated / seconds
    result["peak_rollout_generate_gb"] = torch.cuda.max_memory_allocated() / GB

    tokens = 0
    synchronize()
    started = time.perf_counter()
    for temperature in temps:
        tokens += generate.generate([prompt], [temperature], args.sequential_tokens).tokens_generated
    synchronize()
    result["rollout_sequential_tokens"] = tokens
    result["rollout_sequential_tok_s"] = tokens / (time.perf_counter() - started)
    save_partial(result, args.out_dir)

    measure_routes(policy, prompt, temps, args.new_tokens, args.logprob_chunk, result)
    save_partial(result, args.out_dir)
    measure_problems_per_step(policy, temps, args.new_tokens, args.max_seq_length, args.logprob_chunk,
                              ROUTES[DEFAULT_ROUTE], result, args.update_micro_groups)
    save_partial(result, args.out_dir)


def versions() -> dict[str, str]:
    found = {}
    for name in ("torch", "transformers", "peft", "unsloth", "unsloth_zoo", "trl", "bitsandbytes", "arc-console"):
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--backend", default="unsloth")
    parser.add_argument("--unsloth-after-transformers", action="store_true",
                        help="import transformers before unsloth (the order before issue 15), to measure its cost")
    parser.add_argument("--new-tokens", type=int, default=512)
    parser.add_argument("--sequential-tokens", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=2048)
    parser.add_argument("--logprob-chunk", type=int, default=256, help="tokens per log-prob chunk (the trainer's default)")
    parser.add_argument("--default-route-only", action="store_true",
                        help="skip the baseline, the other routes and the P sweep: the default route's rollout and the update")
    parser.add_argument("--problems-per-step-only", action="store_true",
                        help="only the P sweep: P problems x 8 per rollout and the update, P = 1, 2, 4, 8")
    parser.add_argument("--small-route-only", action="store_true",
                        help="Unsloth's generate beside the 4-bit route (our NF4 kernel): small_route, its P sweep "
                             "(small_route.py), then the default route's P sweep; writes gpu_step_DATE_small_route.json")
    parser.add_argument("--warm-up-only", action="store_true",
                        help="only the trainer's first steps after load: time_to_first_step_s, recompiles_after_step1")
    parser.add_argument("--skip-p-sweeps", action="store_true", help="with --small-route-only: leave out both P sweeps")
    parser.add_argument("--update-micro-groups", type=int, default=1,
                        help="the P sweep's update: groups per forward/backward, as the trainer's flag (0: all at once)")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    temps = [0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
    result: dict = {"gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                    "date": date.today().isoformat(), "command": "python benchmarks/gpu_step.py " + " ".join(sys.argv[1:]),
                    "versions": versions(), "candidates": len(temps), "new_tokens": args.new_tokens,
                    "sequential_new_tokens": args.sequential_tokens,
                    "unsloth_imported_first": "unsloth" in sys.modules and not args.unsloth_after_transformers}

    synchronize()
    started = time.perf_counter()
    policy = load_policy(args.model, args.backend, lora_r=16, lora_alpha=32, max_seq_length=args.max_seq_length)
    synchronize()
    result["load_s"] = time.perf_counter() - started
    result["mem_after_load_gb"] = torch.cuda.memory_allocated() / GB
    result["trainable_parameters"] = sum(p.numel() for p in policy.trainable_parameters().values())
    prompt, prompt_tokens = fitted_prompt(policy.tokenizer, args.max_seq_length - args.new_tokens)
    result["prompt_tokens"] = prompt_tokens

    if args.small_route_only:
        path = args.out_dir / f"gpu_step_{result['date']}_small_route.json"
        args.out_dir.mkdir(parents=True, exist_ok=True)

        def save() -> None:
            path.write_text(json.dumps(result, indent=2) + "\n")

        measure_small_route(policy, temps, args.new_tokens, args.max_seq_length, args.logprob_chunk, result,
                            lambda p, rollout: max_logprob_difference(p, rollout, temps, args.logprob_chunk), save)
        if args.skip_p_sweeps:
            print(json.dumps(result, indent=2))
            return
        sweep = result["small_route_problems_per_step"] = {}
        measure_problems_per_step(policy, temps, args.new_tokens, args.max_seq_length, args.logprob_chunk,
                                  SMALL_ROUTE, sweep, args.update_micro_groups)
        save()
        # The default route's sweep in the same process (its keys at the top level), memory flat in P or not.
        measure_problems_per_step(policy, temps, args.new_tokens, args.max_seq_length, args.logprob_chunk,
                                  ROUTES[DEFAULT_ROUTE], result, args.update_micro_groups)
        save()
        print(json.dumps(result, indent=2))
        return
    measure_warm_up(policy, temps, args, result)  # the trainer's first steps, first thing after load
    if args.warm_up_only:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / f"gpu_step_{result['date']}_warm_up.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return
    if args.problems_per_step_only:
        path = args.out_dir / f"gpu_step_{result['date']}_problems_per_step.json"
        args.out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        measure_problems_per_step(policy, temps, args.new_tokens, args.max_seq_length, args.logprob_chunk,
                                  ROUTES[DEFAULT_ROUTE], result, args.update_micro_groups)
        path.write_text(json.dumps(result, indent=2) + "\n")
        return
    if not args.default_route_only:
        measure_baseline_and_routes(policy, prompt, temps, args, result)

    # The default route's rollout feeds the update, and sets the step's rollout peak.
    route = DEFAULT_ROUTE
    try:
        engine = RolloutEngine(policy, StaticRolloutEngine(policy, **ROUTES[route]))
        engine.generate([prompt], temps, args.new_tokens)  # capture at the measured cache length
    except Exception as exc:  # keep measuring the update on the generate path, and say so
        result["default_route_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        route, engine = "generate", RolloutEngine(policy)
    rollout, rate, peak = timed_rollout(engine, [prompt], temps, args.new_tokens)
    result["rollout_batched_tokens"] = rollout.tokens_generated
    result["rollout_batched_tok_s"] = rate
    result["rollout_batched_route"] = route
    result["peak_rollout_gb"] = peak
    if "baseline_unsloth_generate_tok_s" in result:
        result["speedup_over_baseline"] = rate / result["baseline_unsloth_generate_tok_s"]
    result["rollout_batched_max_abs_logprob_diff"] = max_logprob_difference(policy, rollout, temps, args.logprob_chunk)
    result["trainer_logprob_noise_floor"] = trainer_logprob_noise(policy, rollout, args.logprob_chunk)
    torch.cuda.reset_peak_memory_stats()

    # The update the trainer makes: DAPO over the 8 sequences, LoRA parameters, AdamW.
    optimizer = torch.optim.AdamW(policy.trainable_parameters().values(), lr=1e-5)
    fwd_bwd = [dapo_update(policy, rollout, optimizer, args.logprob_chunk) for _ in range(3)]
    result["fwd_bwd_first_s"] = fwd_bwd[0]
    result["fwd_bwd_s"] = statistics.median(fwd_bwd[1:])
    result["peak_update_gb"] = torch.cuda.max_memory_allocated() / GB
    result["peak_step_gb"] = max(result["peak_rollout_gb"], result["peak_update_gb"])
    result["peak_step_reserved_gb"] = torch.cuda.max_memory_reserved() / GB
    result["logprob_chunk_tokens"] = args.logprob_chunk

    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.default_route_only:
        (args.out_dir / f"gpu_step_{result['date']}_default_route.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return
    result["batched_over_sequential"] = result["rollout_batched_tok_s"] / result["rollout_sequential_tok_s"]

    stem = args.out_dir / f"gpu_step_{result['date']}"
    (args.out_dir / f"gpu_step_{result['date']}.partial.json").unlink(missing_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    rows = [("GPU", result["gpu"]), ("load", f"{result['load_s']:.1f} s"),
            ("time to the first step (load, rollout, update); recompilations after it",
             f"{result['time_to_first_step_s']:.1f} s; {result['recompiles_after_step1']}"),
            ("memory after load", f"{result['mem_after_load_gb']:.1f} GB"),
            ("prompt", f"{prompt_tokens} tokens"),
            (f"rollout, 8 x {args.new_tokens} tokens, Unsloth's batched generate (baseline)",
             f"{result['baseline_unsloth_generate_tok_s']:.1f} tok/s"),
            (f"rollout, 8 x {args.new_tokens} tokens, default route ({result['rollout_batched_route']})",
             f"{result['rollout_batched_tok_s']:.1f} tok/s = {result['speedup_over_baseline']:.1f}x the baseline"),
            *[(f"route {name}", f"{d['tok_s']:.1f} tok/s, engine {d['engine_gb']:.1f} GB, peak {d['peak_gb']:.1f} GB, "
               f"max |logprob diff| {d['max_abs_logprob_diff']:.3g}" if "tok_s" in d else d.get("error", "?"))
              for name, d in result["rollout_route_details"].items()],
            ("trainer's own log-prob noise (one batch vs row by row)", f"{result['trainer_logprob_noise_floor']:.3g}"),
            *[(f"{count} problems x 8 candidates, default route",
               f"{rate:.1f} tok/s, rollout {result['problems_per_step_seconds'][count]:.1f} s + update "
               f"{result['problems_per_step_update_s'][count]:.1f} s, peak {result['problems_per_step_peak_gb'][count]:.1f} GB"
               if isinstance(rate, float) else rate)
              for count, rate in result["problems_per_step"].items()],
            (f"rollout, the 8 one by one ({args.sequential_tokens} tokens each)", f"{result['rollout_sequential_tok_s']:.1f} tok/s"),
            ("default route / one by one", f"{result['batched_over_sequential']:.1f}x"),
            ("forward + backward, 8 sequences (warm; first call)", f"{result['fwd_bwd_s']:.2f} s; {result['fwd_bwd_first_s']:.1f} s"),
            ("peak memory, rollout + update", f"{result['peak_step_gb']:.1f} GB allocated (rollout {result['peak_rollout_gb']:.1f}, "
             f"update {result['peak_update_gb']:.1f}), {result['peak_step_reserved_gb']:.1f} GB reserved")]
    table = "| measure | value |\n| --- | --- |\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
    stem.with_suffix(".md").write_text(f"# GPU step benchmark, {result['date']}\n\n`{result['command']}`\n\n{table}\n"
                                       f"Versions: {json.dumps(result['versions'])}\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
