"""`arc-console replay` and `arc-console watch`: the console over files, never writing to them."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from arc_console.cli.app_checks import check_theme, require_terminal
from arc_console.cli.errors import UsageError


def add_view_parsers(subparsers: Any) -> None:
    replay = subparsers.add_parser("replay", help="open a saved step file or a run directory",
                                   description="Open step_NNN.json (or a run directory at its last step).")
    replay.add_argument("path", type=Path, metavar="PATH", help="a step file, a run directory, or a folder of step files")
    replay.add_argument("--print", action="store_true", dest="print_only", help="render the step to stdout and exit")
    replay.add_argument("--digits", action="store_true", help="with --print: colour numbers in the cells")
    replay.add_argument("--theme", help="a theme name")
    replay.set_defaults(handler=run_replay)
    watch = subparsers.add_parser("watch", help="follow a run directory live, read-only",
                                  description="The dashboard without controls, fed by a run directory.")
    watch.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    watch.add_argument("--theme", help="a theme name or theme file")
    watch.set_defaults(handler=run_watch)


def _locate(path: Path):  # -> (files, index, run_dir)
    from arc_console.rundir.files import StepFile, list_step_files, run_dir_of_step_file, step_number

    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    if path.is_dir():
        run_dir = path if (path / "logs" / "responses").is_dir() else None
        folder = path / "logs" / "responses" if run_dir else path
        files = list_step_files(folder)
        if not files:
            raise UsageError(f"{path}: no step_NNN.json files here")
        return files, len(files) - 1, run_dir
    number = step_number(path)
    if number is None:
        return [StepFile(path, 0)], 0, None
    files = list_step_files(path.parent)
    index = next(i for i, f in enumerate(files) if f.path.name == path.name)
    return files, index, run_dir_of_step_file(path)


def run_replay(args: argparse.Namespace) -> int:
    from arc_console.rundir.files import load_step_file

    check_theme(args.theme)
    files, index, run_dir = _locate(args.path)
    record = load_step_file(files[index].path)  # a RunFileError is a UserError: one line, exit 2
    if args.print_only:
        from arc_console.tui.replay_print import print_step

        print_step(record, str(files[index].path), digits=args.digits)
        return 0
    require_terminal("replay", "use --print to render the step to stdout")
    from arc_console.tui.replay_app import ReplayApp

    result = ReplayApp(files, index, run_dir, theme=args.theme).run()
    return result if isinstance(result, int) else 0


def run_watch(args: argparse.Namespace) -> int:
    from arc_console.terminal.textsafe import one_line

    run_dir: Path = args.run_dir
    check_theme(args.theme)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run directory")
    log, folder = shlex.quote(str(run_dir / "logs" / "training.log")), shlex.quote(str(run_dir))
    require_terminal("watch", f"follow the run's log with tail -f {log}, or print its latest step with "
                              f"arc-console replay {folder} --print")
    if not (run_dir / "logs").is_dir() and not (run_dir / "checkpoints").is_dir():
        print(f"arc-console: {one_line(str(run_dir))} has no run yet; waiting for one to start", file=sys.stderr)
    from arc_console.cli.launcher import resume_for
    from arc_console.monitor.follow import RunDirFollower
    from arc_console.monitor.hardware import HardwareSampler
    from arc_console.rundir.files import read_trainer_pid
    from arc_console.tui.app import ConsoleApp

    def trainer_sampler() -> HardwareSampler:  # the trainer's memory and GPU share, not this watcher's
        return HardwareSampler(watched_pid=lambda: read_trainer_pid(run_dir))

    result = ConsoleApp(watch_source(run_dir), mode="watch", theme=args.theme, sampler_factory=trainer_sampler).run()
    died = trainer_died(run_dir)
    if died is not None:  # the run will not go on by itself: say how to go on
        print(f"arc-console: {one_line(died, 4000)}; resume it with: {one_line(resume_for(run_dir), 4000)}",
              file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


def trainer_died(run_dir: Path) -> str | None:
    """What says the run's trainer is gone without recording a stop, or None (running, finished, unknown)."""
    import time

    from arc_console.rundir.files import read_run_settings
    from arc_console.rundir.liveness import assess, heartbeat_age
    from arc_console.rundir.runlog import HEARTBEAT_FILE

    verdict = assess(read_run_settings(run_dir), heartbeat_age(run_dir / "logs" / HEARTBEAT_FILE, time.time()), [])
    return verdict.detail if verdict.state == "died" else None


def watch_source(run_dir: Path) -> Any:
    """The run directory's events for the watch dashboard; where the trainer died, what it says ends with
    the command that resumes the run (the notification and the log tail)."""
    from dataclasses import replace

    from arc_console.cli.launcher import resume_for
    from arc_console.engine import events as ev
    from arc_console.monitor.follow import RunDirFollower

    follower = RunDirFollower(run_dir)

    def source(sink: Any, closing: Any) -> None:
        def with_next_step(event: Any) -> None:
            if isinstance(event, ev.TrainerLiveness) and event.state == "died":
                resume = resume_for(run_dir)
                event = replace(event, detail=f"{event.detail}; resume it with: {resume}")
                sink(event)
                sink(ev.LogLine(f"watch: resume it with: {resume}", "warning"))
                return
            sink(event)

        follower(with_next_step, closing)

    return source
