"""Where the dashboard's UI thread spends its CPU during training.

    python benchmarks/dashboard_profile.py [--steps 30] [--out FILE] [--yappi] [--top 40]

Trains the tiny preset for --steps steps with the dashboard on Textual's headless driver at 160x50,
every panel live, as benchmarks/dashboard_overhead.py's dashboard child does. Reports the UI (main)
thread's CPU (time.thread_time) by phase: before the app runs (imports and the model's load, which
headless pays as well), the app's start, the steps, the close. Then the steps' CPU by what it went to,
each part's own time (what it called that is listed elsewhere is not counted twice): our panels' updates,
Textual's rendering of each kind of widget, its compositing, layout passes and CSS updates, and the rest
(the event loop, message dispatch), the cyclic collector's passes the UI thread paid for (a full pass walks every
object in the process, the model's included), and the rows each kind of widget had to draw anew (a repaint of rows
that did not change shows there). With --yappi the steps also run under yappi (the UI thread alone) and
its tables follow; yappi slows what it measures several times, so read its shares, not its seconds, and
names a method inherited from Widget after the first class that called it.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

PHASES = ("start", "app mounted", "first step started", "stopped", "end")


class OwnTime:
    """Own CPU time of the UI thread in wrapped functions, by a name each call chooses."""

    def __init__(self, thread: threading.Thread) -> None:
        self.thread = thread
        self.own: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.on = False
        self._stack: list[list[Any]] = []

    def wrap(self, owner: type, method: str, name: Callable[[Any], str]) -> None:
        original = getattr(owner, method)

        def timed(this: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.on or threading.current_thread() is not self.thread:
                return original(this, *args, **kwargs)
            started = time.thread_time()
            self._stack.append([name(this), 0.0])
            try:
                return original(this, *args, **kwargs)
            finally:
                label, inner = self._stack.pop()
                spent = time.thread_time() - started
                self.own[label] += spent - inner
                self.calls[label] += 1
                if self._stack:
                    self._stack[-1][1] += spent

        setattr(owner, method, timed)


class Collections:
    """The cyclic collector's passes that ran on one thread (the thread whose allocation set one off pays for it),
    by generation: how many and their CPU."""

    def __init__(self, thread: threading.Thread) -> None:
        self.thread = thread
        self.on = False
        self.count: dict[int, int] = defaultdict(int)
        self.cpu: dict[int, float] = defaultdict(float)
        self._started = 0.0
        gc.callbacks.append(self._seen)

    def _seen(self, phase: str, info: dict[str, int]) -> None:
        if not self.on or threading.current_thread() is not self.thread:
            return
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.count[info["generation"]] += 1
            self.cpu[info["generation"]] += time.thread_time() - self._started


class RedrawnRows:
    """Rows each kind of widget drew anew (not served from Textual's line cache) while on."""

    def __init__(self) -> None:
        self.on = False
        self.rows: dict[str, int] = defaultdict(int)

    def wrap(self) -> None:
        from textual.widget import Widget

        render_lines = Widget.render_lines

        def counted(widget: Any, crop: Any) -> Any:
            if self.on:
                cache = widget._styles_cache  # what Textual will draw anew: dirty rows and rows not cached
                fresh = crop.height if widget.region.width != cache._width else sum(
                    1 for y in crop.line_range if y in cache._dirty_lines or y not in cache._cache)
                self.rows[type(widget).__name__] += fresh
            return render_lines(widget, crop)

        Widget.render_lines = counted


def instrument(timer: OwnTime) -> None:
    from textual._compositor import Compositor
    from textual.app import App
    from textual.screen import Screen
    from textual.widget import Widget

    from arc_console.tui.screens.dashboard import DashboardScreen
    from arc_console.tui.widgets.candidates import CandidatesPanel
    from arc_console.tui.widgets.gpu_panel import GpuPanel
    from arc_console.tui.widgets.history import AccuracyHistory
    from arc_console.tui.widgets.log_tail import LogTail
    from arc_console.tui.widgets.status_bar import StatusBar

    timer.wrap(Widget, "render_lines", lambda w: f"textual: render {type(w).__name__}")
    timer.wrap(Compositor, "_render_chops", lambda c: "textual: compositing a frame")
    timer.wrap(Screen, "_refresh_layout", lambda s: "textual: layout pass")
    timer.wrap(App, "update_styles", lambda a: "textual: CSS update (classes, pseudo-classes)")
    timer.wrap(DashboardScreen, "show_event", lambda s: "ours: events into the RunView")
    timer.wrap(StatusBar, "show", lambda w: "ours: status line update")
    timer.wrap(GpuPanel, "show", lambda w: "ours: hardware panel update")
    timer.wrap(AccuracyHistory, "show", lambda w: "ours: accuracy chart update")
    timer.wrap(CandidatesPanel, "show_step", lambda w: "ours: candidates update")
    timer.wrap(LogTail, "add", lambda w: "ours: log tail update")


def code_version() -> str:
    """Where the arc_console package measured comes from, and its commit where that is a git checkout."""
    import subprocess

    import arc_console

    folder = Path(arc_console.__file__).parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", "arc_console"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    return f"{folder}" + (f" at {commit}" + (" with changes" if dirty else "") if commit else "")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", type=Path, help="write the summary here as well as to stdout")
    parser.add_argument("--yappi", action="store_true", help="also profile the steps with yappi (slower)")
    parser.add_argument("--top", type=int, default=40, help="functions in each yappi table")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(Path(__file__).parent))
    from dashboard_overhead import TINY_SETTINGS
    from headless_dashboard import run_consoles_headless

    main_thread = threading.main_thread()
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        if threading.current_thread() is main_thread and name not in marks:
            marks[name] = time.thread_time()

    mark("start")
    from arc_console.cli.session import train_with_dashboard
    from arc_console.config import build_config
    from arc_console.engine import events as ev
    from arc_console.tui.screens.dashboard import DashboardScreen

    timer = OwnTime(main_thread)
    collections = Collections(main_thread)
    redrawn = RedrawnRows()
    redrawn.wrap()  # inside the timing of render_lines, which instrument wraps around it
    instrument(timer)
    yappi = None
    if args.yappi:
        import yappi

        yappi.set_clock_type("cpu")
    show_event, on_mount = DashboardScreen.show_event, DashboardScreen.on_mount

    def marking_show_event(screen: DashboardScreen, event: ev.Event) -> None:
        if isinstance(event, ev.StepStarted) and "first step started" not in marks:
            mark("first step started")
            timer.on = collections.on = redrawn.on = True
            if yappi:
                yappi.start(profile_threads=False)  # the UI thread alone
        show_event(screen, event)
        if isinstance(event, ev.Stopped) and "stopped" not in marks:
            mark("stopped")
            timer.on = collections.on = redrawn.on = False
            if yappi:
                yappi.stop()

    def marking_on_mount(screen: DashboardScreen) -> None:
        mark("app mounted")
        on_mount(screen)

    DashboardScreen.show_event = marking_show_event
    DashboardScreen.on_mount = marking_on_mount
    run_consoles_headless()  # 160x50 on Textual's headless driver, q once the run has finished
    config = build_config("tiny", None, {**TINY_SETTINGS, "checkpoint_every": 10_000, "max_steps": args.steps})
    run_dir = Path(tempfile.mkdtemp(prefix="bench-profile-")) / "run"
    real_stdout, sys.stdout = sys.stdout, open(os.devnull, "w")
    try:
        train_with_dashboard(config, run_dir, None, None)
    finally:
        sys.stdout = real_stdout
    mark("end")

    out = io.StringIO()
    print(f"dashboard profile: tiny preset, {args.steps} steps, 160x50 headless driver, every panel live", file=out)
    print(f"code: {code_version()}; machine: {os.cpu_count()} cores shared with other jobs, load average "
          f"{os.getloadavg()[0]:.1f} at the end", file=out)
    print(f"command: python benchmarks/dashboard_profile.py --steps {args.steps}" + (" --yappi" if yappi else ""),
          file=out)
    print(f"\nUI (main) thread CPU by phase (time.thread_time{', yappi on in the steps' if yappi else ''}):", file=out)
    for before, after in zip(PHASES, PHASES[1:]):
        print(f"  {before:>20} -> {after:<20} {marks[after] - marks[before]:7.3f} s", file=out)
    steps_cpu = marks["stopped"] - marks["first step started"]
    print(f"  the steps, per step: {steps_cpu / args.steps:.4f} s", file=out)
    print("\nThe steps' UI CPU by what it went to (own time; per step, share, calls per step):", file=out)
    rows = sorted(timer.own.items(), key=lambda item: -item[1])
    rows.append(("the rest: event loop, message dispatch, timers", steps_cpu - sum(timer.own.values())))
    for label, spent in rows:
        calls = timer.calls.get(label)
        print(f"  {spent / args.steps:8.4f} s  {100 * spent / steps_cpu:5.1f}%  "
              f"{calls / args.steps if calls else float('nan'):6.1f}  {label}", file=out)
    print("\nThe cyclic collector's passes on the UI thread in the steps (per step: passes, CPU):", file=out)
    for generation in sorted(collections.count):
        print(f"  generation {generation}: {collections.count[generation] / args.steps:6.2f}  "
              f"{collections.cpu[generation] / args.steps:8.4f} s", file=out)
    print("\nRows drawn anew per step, by widget:", file=out)
    for name, rows in sorted(redrawn.rows.items(), key=lambda item: -item[1]):
        print(f"  {rows / args.steps:7.1f}  {name}", file=out)
    if yappi:
        stats = yappi.get_func_stats()
        total = sum(s.tsub for s in stats)
        for title, key in (("own time", "tsub"), ("time with callees", "ttot")):
            stats.sort(key, "desc")
            print(f"\nyappi, the steps, by {title} (share of {total:.2f} s profiled):", file=out)
            for stat in list(stats)[: args.top]:
                value = getattr(stat, key)
                where = f"{Path(stat.module).parent.name}/{Path(stat.module).name}:{stat.lineno}"
                print(f"  {100 * value / total:6.1f}%  {stat.ncall:>8}  {stat.name}  ({where})", file=out)
    text = out.getvalue()
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
