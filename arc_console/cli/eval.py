"""`arc-console eval`: validate the input, load the model, answer the tasks, write submission.json and eval.json."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from arc_console.cli.app_checks import check_theme, require_terminal
from arc_console.cli.errors import UsageError, describe_os_error
from arc_console.cli.launcher import command_line
from arc_console.cli.setting_flags import add_field_flags, given_flags, settings_from_flags
from arc_console.evaluation.report import REPORT, SUBMISSION
from arc_console.evaluation.settings import EvalInputs, EvalSettings, SettingsError, validate_settings
from arc_console.evaluation.test_time_settings import (TEST_TIME_RANK, SftSettings, TestTimePlan, TestTimeSettings,
                                                      validate_plan)
from arc_console.terminal.textsafe import one_line


def add_eval_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval", help="score a model the ARC Prize way: pass@2 with augmentation voting",
        description="Answer ARC tasks with two attempts each (views pooled and ranked); write a Kaggle "
                    "submission.json and eval.json with pass@2.")
    add_field_flags(parser.add_argument_group("what to answer"), EvalInputs)
    add_field_flags(parser.add_argument_group("how (each view sampled, pooled, ranked)"), EvalSettings)
    add_field_flags(parser.add_argument_group("test-time training, before answering each task"), TestTimePlan)
    add_field_flags(parser.add_argument_group("test-time SFT (--test-time-mode sft or sft+rl)"), SftSettings)
    add_field_flags(parser.add_argument_group("test-time RL (--test-time-mode rl or sft+rl)"), TestTimeSettings)
    parser.add_argument("--out", type=Path, metavar="DIR", help="where the results go (default runs/eval-DATE-TIME)")
    parser.add_argument("--headless", action="store_true", help="no console: a progress line per task and a table")
    parser.add_argument("--theme", help="console theme: a name or a theme file")
    parser.set_defaults(handler=run_eval)


def _settings(args: argparse.Namespace) -> EvalSettings:
    settings = settings_from_flags(args, EvalSettings)
    validate_settings(settings)
    return settings


DEFAULT_RL_STEPS = 4  # test-time RL's steps where --test-time-mode has rl and --test-time-steps is not given


def _test_time(args: argparse.Namespace) -> TestTimePlan:
    """The plan from the flags: a mode not given is rl with --test-time-steps, else none; a phase's flags
    without that phase in the mode are refused."""
    plan = settings_from_flags(args, TestTimePlan)
    if args.test_time_mode is None and args.test_time_steps:
        plan = dataclasses.replace(plan, mode="rl")
    if args.test_time_steps is not None and "rl" not in plan.phases:
        raise SettingsError(f"--test-time-steps sets test-time RL's steps: use --test-time-mode rl or sft+rl "
                            f"(--test-time-mode is {plan.mode})")
    if args.test_time_pool is not None and not plan.phases:
        raise SettingsError("--test-time-pool chooses among test-time training's candidates: use --test-time-mode "
                            "sft, rl or sft+rl (--test-time-mode is none)")
    given = given_flags(args, SftSettings)
    if given and "sft" not in plan.phases:
        raise SettingsError(f"{given[0]} sets test-time SFT: use --test-time-mode sft or sft+rl (--test-time-mode "
                            f"is {plan.mode})")
    rl = settings_from_flags(args, TestTimeSettings)
    if "rl" in plan.phases and args.test_time_steps is None:
        rl = dataclasses.replace(rl, steps=DEFAULT_RL_STEPS)
    rl = dataclasses.replace(rl, lora_alpha=2 * rl.lora_r)  # alpha 2R, as its --help says
    plan = dataclasses.replace(plan, sft=settings_from_flags(args, SftSettings), rl=rl)
    validate_plan(plan)
    return plan


def _tasks(inputs: EvalInputs) -> list[Any]:
    from arc_console.arc import TaskError, load_tasks, select_tasks

    if inputs.limit < 0:
        raise TaskError(f"--limit must be 0 (all) or more, got {inputs.limit}")
    tasks = load_tasks(inputs.tasks, require_test_output=False)
    ids = [item.strip() for item in inputs.problems.split(",") if item.strip()]
    if ids:
        tasks = select_tasks(tasks, ids)
    return tasks


def _held_out(inputs: EvalInputs, source: Any, tasks: list[Any], header: dict[str, Any]) -> list[Any]:
    """The tasks a run's model is evaluated on: its training problems left out (one line says how many),
    unless --include-trained; then --limit. Raises TaskError when every task was trained on."""
    from arc_console.arc import TaskError
    from arc_console.evaluation.trained_problems import TrainedOn, held_out_or_refuse

    limited = lambda kept: kept[: inputs.limit] if inputs.limit else kept  # noqa: E731
    trained = TrainedOn.from_config(source.run_config) if source.from_a_run else None
    if trained is None:
        if source.from_a_run:
            print("arc-console: warning: the run's settings do not say what it trained on: no task is left out",
                  file=sys.stderr)
        return limited(tasks)
    header["trained_on"] = {"tasks": trained.source, "problems": list(trained.problem_ids)}
    try:
        trained_ids = trained.task_ids()
    except TaskError as exc:
        print(f"arc-console: warning: cannot tell which tasks the run trained on ({one_line(str(exc), 160)}): "
              "no task is left out", file=sys.stderr)
        return limited(tasks)
    if inputs.include_trained:
        included = [t.id for t in tasks if t.id in trained_ids]
        header["included_trained"] = included
        print(f"arc-console: --include-trained: {len(included)} of {len(tasks)} tasks were trained on by this run "
              "and are kept", file=sys.stderr)
        return limited(tasks)
    held_out = held_out_or_refuse(tasks, trained_ids, f"--tasks {one_line(inputs.tasks, 80)}")
    header["excluded_trained"] = held_out.excluded
    print(f"arc-console: leaving out {len(held_out.excluded)} of {len(tasks)} tasks that this run trained on "
          f"({one_line(trained.describe(), 80)}; --include-trained keeps them)", file=sys.stderr)
    return limited(held_out.kept)


def _out_dir(args: argparse.Namespace) -> Path:
    out = args.out or Path("runs") / datetime.now().strftime("eval-%Y%m%d-%H%M%S")
    for name in (SUBMISSION, REPORT):
        if (out / name).exists():
            raise SettingsError(f"{out / name} already exists: pick another --out")
    if out.exists() and not out.is_dir():
        raise SettingsError(f"--out {out}: exists and is not a folder")
    return out


def run_eval(args: argparse.Namespace) -> int:
    inputs = settings_from_flags(args, EvalInputs)
    settings = _settings(args)
    test_time = _test_time(args)
    if args.rank is None and test_time.phases:  # the ranking measured best for test-time training's pool
        settings = dataclasses.replace(settings, rank=TEST_TIME_RANK)
    tasks = _tasks(inputs)
    out = _out_dir(args)
    check_theme(args.theme)
    if not args.headless:
        require_terminal("the eval console", "use --headless for a progress line per task")
    from arc_console.engine.control import RunControl
    from arc_console.evaluation.model_source import NoModelYet, locate_eval_model, saved_backend
    from arc_console.terminal.stop_signals import graceful_stop_signals

    loading = RunControl()

    def announce(signum: int) -> None:
        print(f"arc-console: {signal.Signals(signum).name}: stopping once the model has loaded ...", file=sys.stderr)

    header: dict[str, Any] = {}
    try:
        source = locate_eval_model(inputs.model)  # a model that is not there is refused before torch is imported
    except NoModelYet as exc:
        raise UsageError(f"{exc}: {_next_step(exc.run_dir)}") from None
    tasks = _held_out(inputs, source, tasks, header)  # nothing left to answer is refused before the model loads
    with graceful_stop_signals(loading, announce):  # a stop while the model loads ends the command cleanly
        print(f"arc-console: loading {inputs.model} ...", file=sys.stderr)
        _import_unsloth_first(inputs.backend or saved_backend(source))  # before model.py imports transformers
        from arc_console.evaluation.model import device_name, load_located_model

        engine, described = load_located_model(source, inputs.backend), source.described
    if loading.stop_requested:
        print("arc-console: stopped before the first task: nothing was written", file=sys.stderr)
        return 0
    from arc_console.engine.backends import apply_cpu_threads

    apply_cpu_threads(0, engine.policy)  # as train does: one thread for a small model on the CPU
    hidden = sum(1 for t in tasks if any(p.output is None for p in t.test))
    if hidden:
        print(f"arc-console: {hidden} of {len(tasks)} tasks have hidden test outputs: they go in the submission "
              "and are not scored", file=sys.stderr)
    header = {"command": shlex.join(["arc-console", *sys.argv[1:]]), "tasks_source": inputs.tasks,
              "model_loaded": described, "started": datetime.now().isoformat(timespec="seconds"),
              "excluded_trained": [], **header}
    run = dict(tasks=tasks, engine=engine, settings=settings, out_dir=out, header=header, model_name=inputs.model,
               device=device_name(engine.policy), test_time=test_time.to_dict())
    if test_time.mode != "none":
        from arc_console.evaluation.adapter_reset import attach_trainable_weights
        from arc_console.evaluation.test_time_modes import plan_trainer

        try:
            weights = attach_trainable_weights(engine, test_time.weights, test_time.rl.lora_r, test_time.rl.lora_alpha)
        except ValueError as exc:
            raise UsageError(f"--test-time-weights {test_time.weights}: {exc}") from None
        test_time = test_time.for_weights(weights.kind)  # the learning rates not given, for what trains
        trained = ("every weight, restored per task" if weights.kind == "full" else "fresh LoRA per task"
                   if weights.fresh else "the loaded adapter, restored per task")
        header["test_time"] = run["test_time"] = {**test_time.to_dict(), "trained": trained}
        run["answerer"] = plan_trainer(weights, test_time, settings).answer
        run["engine"] = weights.engine  # the engine over the trainable weights: the one reserved and sampled
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
    from arc_console.evaluation.runner import run_evaluation
    from arc_console.terminal.stop_signals import graceful_stop_signals
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
