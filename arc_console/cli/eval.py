"""`arc-console eval`: validate the input, load the model, answer the tasks, write submission.json and eval.json."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from arc_console.cli.app_checks import check_theme, require_terminal
from arc_console.cli.errors import UsageError, describe_os_error
from arc_console.cli.launcher import command_line
from arc_console.arc.augment import AUGMENTATIONS
from arc_console.evaluation.report import REPORT, SUBMISSION
from arc_console.evaluation.settings import RANKINGS, EvalSettings, SettingsError, validate_settings
from arc_console.tui.textsafe import one_line

# The context train uses by default (TrainConfig.max_seq_length): the prompts eval fits are the ones training saw.
TRAINING_CONTEXT = 2048


def add_eval_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval", help="score a model the ARC Prize way: pass@2 with augmentation voting",
        description="Answer ARC tasks with two attempts each (views pooled and ranked); write a Kaggle "
                    "submission.json and eval.json with pass@2.")
    parser.add_argument("--model", default="tiny", help="'tiny', a model folder, a hub id, a run directory "
                        "(its final model, else its latest checkpoint) or a checkpoint (default tiny)")
    parser.add_argument("--tasks", default="synthetic-heldout", metavar="SOURCE",
                        help="arc1-evaluation | arc2-evaluation | synthetic-heldout | ... | a folder or file of ARC JSON")
    parser.add_argument("--problems", default="", metavar="IDS", help="comma-separated task ids (default: every task)")
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="the first N tasks only (0: all)")
    parser.add_argument("--augment", default="dihedral", help=f"{' | '.join(AUGMENTATIONS)} (default dihedral)")
    parser.add_argument("--samples", type=int, default=2, metavar="K", help="candidates sampled per view (default 2)")
    parser.add_argument("--rank", default="votes", help=f"{' | '.join(RANKINGS)} (default votes)")
    parser.add_argument("--seed", type=int, default=0, help="sampling and colour-permutation seed (default 0)")
    parser.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (default 0.7)")
    parser.add_argument("--max-new-tokens", type=int, default=0, metavar="N",
                        help="answer length limit (default 0: room for the task's largest grid)")
    parser.add_argument("--max-seq-length", type=int, default=TRAINING_CONTEXT, metavar="N",
                        help=f"context limit; examples are dropped to fit (default {TRAINING_CONTEXT}, train's; "
                             "0: the model's own, which on GPT-OSS is far beyond what a 20B prefill fits in memory)")
    parser.add_argument("--backend", default=None, help="hf | unsloth | auto (default: the run's, else auto)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="where the results go (default runs/eval-DATE-TIME)")
    parser.add_argument("--test-time-steps", type=int, default=0, metavar="N",
                        help="test-time RL: N DAPO steps per task on its leave-one-out train pairs before answering "
                             "it, through a per-task LoRA reset between tasks (default 0: plain eval)")
    parser.add_argument("--test-time-lr", type=float, default=1e-3, metavar="LR", help="its learning rate (default 1e-3)")
    parser.add_argument("--test-time-augment", default="dihedral",
                        help=f"views of its leave-one-out problems: {' | '.join(AUGMENTATIONS)} (default dihedral)")
    parser.add_argument("--test-time-candidates", type=int, default=4, metavar="K",
                        help="candidates per problem in its steps (default 4)")
    parser.add_argument("--test-time-lora-r", type=int, default=8, metavar="R",
                        help="rank of the fresh LoRA (q,k,v,o; alpha 2R) where the model has no adapter (default 8)")
    parser.add_argument("--headless", action="store_true", help="no console: a progress line per task and a table")
    parser.add_argument("--theme", help="console theme: a name or a theme file")
    parser.set_defaults(handler=run_eval)


def _settings(args: argparse.Namespace) -> EvalSettings:
    settings = EvalSettings(augment=args.augment, samples=args.samples, rank=args.rank, seed=args.seed,
                            temperature=args.temperature, max_new_tokens=args.max_new_tokens,
                            max_seq_length=args.max_seq_length)
    validate_settings(settings)
    return settings


def _test_time(args: argparse.Namespace) -> Any:
    from arc_console.evaluation.test_time_settings import TestTimeSettings, validate_test_time

    settings = TestTimeSettings(steps=args.test_time_steps, learning_rate=args.test_time_lr,
                                augment=args.test_time_augment, candidates=args.test_time_candidates,
                                lora_r=args.test_time_lora_r, lora_alpha=2 * args.test_time_lora_r)
    validate_test_time(settings)
    return settings


def _tasks(args: argparse.Namespace) -> list[Any]:
    from arc_console.arc import TaskError, load_tasks, select_tasks

    if args.limit < 0:
        raise TaskError(f"--limit must be 0 (all) or more, got {args.limit}")
    tasks = load_tasks(args.tasks, require_test_output=False)
    ids = [item.strip() for item in args.problems.split(",") if item.strip()]
    if ids:
        tasks = select_tasks(tasks, ids)
    return tasks[: args.limit] if args.limit else tasks


def _out_dir(args: argparse.Namespace) -> Path:
    out = args.out or Path("runs") / datetime.now().strftime("eval-%Y%m%d-%H%M%S")
    for name in (SUBMISSION, REPORT):
        if (out / name).exists():
            raise SettingsError(f"{out / name} already exists: pick another --out")
    if out.exists() and not out.is_dir():
        raise SettingsError(f"--out {out}: exists and is not a folder")
    return out


def run_eval(args: argparse.Namespace) -> int:
    from arc_console.arc import TaskError

    try:
        settings = _settings(args)
        test_time = _test_time(args)
        tasks = _tasks(args)
        out = _out_dir(args)
    except (SettingsError, TaskError) as exc:
        raise UsageError(str(exc)) from None
    check_theme(args.theme)
    if not args.headless:
        require_terminal("the eval console", "use --headless for a progress line per task")
    from arc_console.engine.checkpoint_files import CheckpointError
    from arc_console.engine.model_path import BackendError
    from arc_console.evaluation.model_source import NoModelYet, locate_eval_model, saved_backend

    from arc_console.engine.control import RunControl
    from arc_console.engine.stop_signals import graceful_stop_signals

    loading = RunControl()

    def announce(signum: int) -> None:
        print(f"arc-console: {signal.Signals(signum).name}: stopping once the model has loaded ...", file=sys.stderr)

    with graceful_stop_signals(loading, announce):  # a stop while the model loads ends the command cleanly
        print(f"arc-console: loading {args.model} ...", file=sys.stderr)
        try:
            source = locate_eval_model(args.model)  # a model that is not there is refused before torch is imported
            _import_unsloth_first(args.backend or saved_backend(source))  # before model.py imports transformers
            from arc_console.evaluation.model import device_name, load_located_model

            engine, described = load_located_model(source, args.backend), source.described
        except NoModelYet as exc:
            raise UsageError(f"{exc}: {_next_step(exc.run_dir)}") from None
        except (BackendError, CheckpointError) as exc:
            raise UsageError(str(exc)) from None
    if loading.stop_requested:
        print("arc-console: stopped before the first task: nothing was written", file=sys.stderr)
        return 0
    from arc_console.engine.backends import apply_cpu_threads

    apply_cpu_threads(0, engine.policy)  # as train does: one thread for a small model on the CPU
    hidden = sum(1 for t in tasks if any(p.output is None for p in t.test))
    if hidden:
        print(f"arc-console: {hidden} of {len(tasks)} tasks have hidden test outputs: they go in the submission "
              "and are not scored", file=sys.stderr)
    header = {"command": shlex.join(["arc-console", *sys.argv[1:]]), "tasks_source": args.tasks,
              "model_loaded": described, "started": datetime.now().isoformat(timespec="seconds")}
    run = dict(tasks=tasks, engine=engine, settings=settings, out_dir=out, header=header, model_name=args.model,
               device=device_name(engine.policy), test_time=test_time.to_dict())
    if test_time.steps:
        from arc_console.evaluation.adapter_reset import attach_test_time_adapter
        from arc_console.evaluation.test_time import TestTimeTrainer

        adapter = attach_test_time_adapter(engine, test_time.lora_r, test_time.lora_alpha)
        header["test_time"] = {**test_time.to_dict(), "adapter": "fresh LoRA per task" if adapter.fresh
                               else "the loaded adapter, restored per task"}
        run["answerer"] = TestTimeTrainer(adapter, test_time, settings).answer
    if args.headless:
        return _eval_headless(run)
    from arc_console.cli.eval_session import eval_with_console

    return eval_with_console(run, args.theme)


def _next_step(run_dir: Path) -> str:
    """For a run with nothing to evaluate yet: wait for the first checkpoint of a run still training, else
    resume it (a run killed before its first checkpoint starts again from step 1)."""
    from arc_console.cli.launcher import resume_for
    from arc_console.rundir.files import read_run_settings
    from arc_console.rundir.liveness import assess, heartbeat_age
    from arc_console.rundir.runlog import HEARTBEAT_FILE

    age = heartbeat_age(run_dir / "logs" / HEARTBEAT_FILE, datetime.now().timestamp())
    if assess(read_run_settings(run_dir), age, []).state in ("running", "silent"):
        return (f"it is still training: evaluate it once it has saved a checkpoint (follow it with "
                f"{command_line(['watch', str(run_dir)])})")
    return f"it stopped before its first checkpoint; train it with: {resume_for(run_dir)}"


def _import_unsloth_first(backend: str) -> None:
    from arc_console.engine.unsloth_first import import_unsloth_first

    import_unsloth_first(backend)


def _eval_headless(run: dict[str, Any]) -> int:
    from arc_console.engine.control import RunControl
    from arc_console.engine.stop_signals import graceful_stop_signals
    from arc_console.evaluation.runner import run_evaluation
    from arc_console.tui.eval_printer import EvalPrinter

    control = RunControl()
    printer = EvalPrinter()

    def announce(signum: int) -> None:
        printer.console.print(f"{signal.Signals(signum).name}: stopping, keeping the tasks answered so far ...")

    with graceful_stop_signals(control, announce):
        try:
            run_evaluation(emit=printer, control=control, **run)
        except OSError as exc:
            print(f"arc-console: error: {describe_os_error(exc)}", file=sys.stderr)
            return 1
        except RuntimeError as exc:  # torch.OutOfMemoryError is a RuntimeError; the tasks answered so far are kept
            if type(exc).__name__ != "OutOfMemoryError":
                raise
            print(f"arc-console: error: out of GPU memory: {one_line(str(exc), 200)}\n"
                  "arc-console: hint: lower --max-seq-length or --samples, or --augment none; the tasks answered so "
                  f"far are in {run['out_dir']}", file=sys.stderr)
            return 1
    return 0
