"""`arc-console train`: build the config, open the run directory, run the trainer headless or in the dashboard."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from arc_console.cli.app_checks import check_theme, require_terminal
from arc_console.cli.errors import UsageError, describe_os_error
from arc_console.cli.session import train_headless, train_with_dashboard, training_hooks
from arc_console.cli.setting_flags import add_setting_flags, flag_overrides
from arc_console.config import PRESETS, ConfigError, TrainConfig, build_config, resolve_preset, resumed_config
from arc_console.terminal.textsafe import one_line

def add_train_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("train", help="train (live dashboard, or --headless)",
                                   description="Train on ARC tasks. Settings: preset < --config TOML < flags; with --resume: "
                                               "the run's saved settings < --config TOML < flags.")
    parser.add_argument("--preset", help=f"auto (default: gpt-oss-20b with a CUDA GPU, else tiny) | {' | '.join(PRESETS)}")
    parser.add_argument("--config", type=Path, metavar="TOML", help="a TOML file of settings (top level or [train])")
    parser.add_argument("--out", type=Path, metavar="RUN_DIR", help="run directory (default runs/DATE-TIME)")
    parser.add_argument("--resume", type=Path, metavar="PATH", help="a run directory (its latest checkpoint) or a checkpoint")
    parser.add_argument("--headless", action="store_true", help="no dashboard: one progress line per step")
    parser.add_argument("--theme", help="dashboard theme: a name or a theme file")
    parser.add_argument("--nproc", type=int, metavar="N",
                        help="data parallel: N processes on this machine (one per GPU), started through torchrun")
    add_setting_flags(parser)
    parser.set_defaults(handler=run_train)


def _resumed_settings(args: argparse.Namespace, saved: dict[str, Any], saved_origin: str,
                      overrides: dict[str, Any], recorded_preset: Any) -> TrainConfig:
    """A resumed run keeps its saved settings but for those given now (--config, then flags). --preset
    naming the run's own preset (the command the user ran, with --resume added) changes nothing; another
    preset would silently reset every setting it names, so it is refused rather than laid over them.
    Sets args.run_preset: the preset the run records in run.json."""
    args.run_preset = recorded_preset if isinstance(recorded_preset, str) else None
    if args.preset is not None:
        given = resolve_preset(args.preset, _cuda_available() if args.preset == "auto" else False)
        if args.run_preset is None and _preset_matches(given, saved):  # a run from before run.json named it
            args.run_preset = given
        if given != args.run_preset:
            started = f"was started with preset {args.run_preset}" if args.run_preset else \
                f"was not started with preset {given} (model {saved.get('model')!r})"
            raise ConfigError(f"--preset {args.preset}: this run {started}; a resumed run keeps the settings saved "
                              f"in {saved_origin}: leave out --preset, or change single settings with flags or --config")
    return resumed_config(saved, saved_origin, args.config, overrides)


def _preset_matches(preset: str, saved: dict[str, Any]) -> bool:
    """Whether saved settings are `preset`'s as far as a preset decides what a run is: its model and backend."""
    return all(saved.get(key) == PRESETS[preset].get(key) for key in ("model", "backend"))


def _restart_config(args: argparse.Namespace, overrides: dict[str, Any]) -> tuple[TrainConfig, str]:
    """The settings of a run that died before its first checkpoint: logs/run.json's, then what was given
    with --resume; where run.json was never written, the settings given with --resume alone."""
    from arc_console.engine.run_restart import saved_settings
    from arc_console.rundir.files import read_run_settings

    saved = saved_settings(args.resume)
    if saved is None:
        args.run_preset, config = _new_run_config(args, overrides)
        return config, "its settings were never saved: using the settings given with --resume"
    return _resumed_settings(args, saved, str(args.resume / "logs" / "run.json"), overrides,
                             read_run_settings(args.resume).get("preset")), "with its saved settings"


def _cuda_available() -> bool:
    import torch  # seconds to import: only where the answer depends on it

    return torch.cuda.is_available()


def _new_run_config(args: argparse.Namespace, overrides: dict[str, Any]) -> tuple[str, TrainConfig]:
    """A new run's preset and settings. `auto` picks its preset by whether CUDA is present, which takes
    importing torch; settings that both presets refuse with the same message are refused without it,
    since that answer is the same on any machine."""
    if args.preset not in (None, "auto"):
        preset = resolve_preset(args.preset, cuda_available=False)  # a named preset: CUDA plays no part
        return preset, build_config(preset, args.config, overrides)
    refusals = []
    for candidate in (resolve_preset(None, cuda_available=True), resolve_preset(None, cuda_available=False)):
        try:
            build_config(candidate, args.config, overrides)
        except ConfigError as exc:
            refusals.append(str(exc))
    if len(refusals) == 2 and refusals[0] == refusals[1]:
        raise ConfigError(refusals[0])
    preset = resolve_preset(args.preset, _cuda_available())
    return preset, build_config(preset, args.config, overrides)


def _resolve(args: argparse.Namespace) -> tuple[TrainConfig, Path, Path | None, str, bool]:
    """(config, run directory, checkpoint to resume, a sentence saying what was chosen, whether the run
    directory holds a run without a checkpoint that starts again from step 1)."""
    from arc_console.engine.checkpoint_files import CheckpointError, find_checkpoint, read_state
    from arc_console.engine.run_restart import is_run_without_checkpoint
    from arc_console.rundir.files import read_run_settings

    overrides = flag_overrides(args)
    if args.resume is not None:
        try:
            checkpoint = find_checkpoint(args.resume)
        except CheckpointError as exc:
            if not is_run_without_checkpoint(args.resume):
                raise ConfigError(str(exc)) from None
            if args.out is not None and args.out.resolve() != args.resume.resolve():
                raise ConfigError(f"--out {args.out} differs from the resumed run's directory {args.resume}") from None
            config, how = _restart_config(args, overrides)
            preflight(config)
            return (config, args.resume, None,
                    f"{args.resume} has no complete checkpoint: starting it again from step 1, {how}", True)
        state = read_state(checkpoint)
        run_dir = checkpoint.parent.parent
        config = _resumed_settings(args, state.config, str(checkpoint), overrides,
                                   read_run_settings(run_dir).get("preset"))
        if args.out is not None and args.out.resolve() != run_dir.resolve():
            raise ConfigError(f"--out {args.out} differs from the resumed run's directory {run_dir}")
        preflight(config)  # tasks, problems or a model given now are checked before the run is touched
        if config.max_steps <= state.step:  # nothing to train: refused before the model loads or a file changes
            raise ConfigError(f"{args.resume} is already at step {state.step} ({checkpoint.name}): --max-steps must be "
                              f"larger than {state.step} to train on (got {config.max_steps})")
        return config, run_dir, checkpoint, f"resuming {run_dir} from {checkpoint.name}", False
    preset, config = _new_run_config(args, overrides)
    args.run_preset = preset
    run_dir = args.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    if (run_dir / "logs" / "metrics.jsonl").exists() or any((run_dir / "checkpoints").glob("step_*")):
        raise ConfigError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, or pick another --out")
    preflight(config)
    if args.preset in (None, "auto"):
        why = "a CUDA GPU is present" if preset == "gpt-oss-20b" else "no CUDA GPU found"
        chosen = f"preset {preset} ({why}): model {config.model} on the {config.backend} backend"
    else:
        chosen = f"preset {preset}: model {config.model} on the {config.backend} backend"
    return config, run_dir, None, chosen, False


def _start_again(run_dir: Path, chosen: str) -> None:
    """Move a checkpoint-less run's partial logs aside and say so on stderr and in the new training.log."""
    from arc_console.engine.run_restart import abandon_partial_logs
    from arc_console.rundir.runlog import RunLog

    moved = abandon_partial_logs(run_dir)
    where = f"; its partial logs moved to {moved}" if moved else ""
    print(f"arc-console: {chosen}{where}", file=sys.stderr)
    RunLog(run_dir).log(f"{chosen}{where}", "warning")


def preflight(config: TrainConfig) -> None:
    """The checks that would otherwise fail inside the trainer's setup, made before any run directory
    exists: the tasks load, every problem id names one of them, the model names a folder or a hub id."""
    from arc_console.arc import load_tasks, select_tasks
    from arc_console.engine.model_path import BackendError, resolve_model_path

    tasks = load_tasks(config.tasks)
    if config.problems:
        select_tasks(tasks, config.problems)
    if config.eval_every:
        load_tasks(config.eval_tasks)
    try:
        resolve_model_path(config.model)
    except BackendError as exc:
        raise ConfigError(str(exc)) from None


def _resolve_checked(args: argparse.Namespace, world_size: int) -> tuple[TrainConfig, Path, Path | None, str, bool]:
    from arc_console.distributed.preflight import check_divisible
    from arc_console.reporting.targets import check_installed

    resolved = _resolve(args)  # its ConfigError, TaskError, CheckpointError ... are UserErrors: one line, exit 2
    check_installed(resolved[0].report_to)  # ReportingError, the same
    problem = check_divisible(resolved[0].problems_per_step, world_size)
    if problem:
        raise UsageError(problem)
    return resolved


def run_train(args: argparse.Namespace) -> int:
    from arc_console.distributed.preflight import launched_by_torchrun

    check_theme(args.theme)
    if args.nproc is not None and not launched_by_torchrun():  # the --nproc shortcut
        return _launch_ranks(args)
    if launched_by_torchrun():  # one rank of a torchrun launch
        from arc_console.cli.rank_train import train_as_rank

        return train_as_rank(args, _resolve_checked, _train_one_process, training_hooks)
    resolved = _resolve_checked(args, 1)
    _require_dashboard_terminal(args)
    return _train_one_process(args, *resolved)


def _require_dashboard_terminal(args: argparse.Namespace) -> None:
    """Checked after the input (whose errors come first) and before anything is created."""
    if not args.headless:
        require_terminal("the training dashboard", "use --headless for one progress line per step")


def _launch_ranks(args: argparse.Namespace) -> int:
    from arc_console.cli.torchrun import run_under_torchrun

    if args.nproc < 1:
        raise UsageError(f"--nproc must be at least 1, got {args.nproc}")
    _resolve_checked(args, args.nproc)  # refuse bad input before any process starts
    _require_dashboard_terminal(args)
    if args.nproc == 1:
        return _train_one_process(args, *_resolve_checked(args, 1))
    return run_under_torchrun(args.nproc, args.argv)


def _train_one_process(args: argparse.Namespace, config: TrainConfig, run_dir: Path, checkpoint: Path | None,
                       chosen: str, restart: bool, ranks: Any = None) -> int:
    if restart:
        try:
            _start_again(run_dir, one_line(chosen, 400))
        except OSError as exc:
            print(f"arc-console: error: {describe_os_error(exc)}", file=sys.stderr)
            return 1
    else:
        print(f"arc-console: {one_line(chosen, 400)}", file=sys.stderr)
    _import_unsloth_first(config)
    preset = getattr(args, "run_preset", None)  # set by _resolve: recorded in run.json
    if args.headless:
        return train_headless(config, run_dir, checkpoint, ranks, preset=preset)
    return train_with_dashboard(config, run_dir, checkpoint, args.theme, ranks=ranks, preset=preset)


def _import_unsloth_first(config: TrainConfig) -> None:
    from arc_console.engine.unsloth_first import import_unsloth_first

    import_unsloth_first(config.backend)
