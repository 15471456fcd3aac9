"""The headless printer: one rich line per step on stdout, for terminals without the dashboard and for logs."""

from __future__ import annotations

import time

from rich.console import Console
from rich.text import Text

from arc_console.engine import events as ev
from arc_console.rundir.files import stop_words
from arc_console.terminal.textsafe import one_line


def format_score(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def held_out_line(row: dict) -> str:
    """One line for a held-out evaluation (a line of logs/eval.jsonl); its strings made one plain line."""
    return one_line(f"held-out eval at step {row.get('step')}: pass@2 {format_score(row.get('pass_at_2'))} "
                    f"pass@1 {format_score(row.get('pass_at_1'))} oracle {format_score(row.get('oracle'))} "
                    f"on {row.get('tasks')} tasks of {row.get('source', '?')}", 400)


def stopped_line(event: ev.Stopped) -> Text:
    """The line a training run closes with, headless and after the dashboard alike: how it stopped (in
    training.log's words), its last checkpoint and its final model."""
    return Text.assemble(("stopped ", "bold"), f"({stop_words(event.reason)}) after step {event.step}; ",
                         "checkpoint ", (one_line(event.checkpoint or "-", 400), "cyan"), ", final model ",
                         (one_line(event.final_model or "-", 400), "cyan"))


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class HeadlessPrinter:
    """An event sink. Everything from the run (ids, paths) is printed as plain Text, never as markup."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.max_steps = 0
        self.start_step = 1
        self.started = time.monotonic()

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self.max_steps, self.start_step = event.max_steps, event.start_step
            self.started = time.monotonic()
            self.console.print(Text.assemble(
                ("arc-console ", "bold"), f"{one_line(event.model)} on {event.backend} ({one_line(event.device)}), ",
                f"{event.objective}, steps {event.start_step}..{event.max_steps}, run directory ",
                (one_line(event.run_dir, 400), "cyan")))
        elif isinstance(event, ev.StepFinished):
            self.console.print(self._step_line(event))
        elif isinstance(event, ev.HeldOutEvaluated):
            self.console.print(Text(held_out_line(event.row), style="magenta"))
        elif isinstance(event, ev.CheckpointSaved):
            self.console.print(Text.assemble(("checkpoint ", "green"), one_line(event.path, 400)))
        elif isinstance(event, ev.LogLine) and event.level in ("warning", "error"):
            self.console.print(Text(one_line(event.text, 2000), style="yellow" if event.level == "warning" else "red"))
        elif isinstance(event, ev.Stopped):
            self.console.print(stopped_line(event))

    def _step_line(self, event: ev.StepFinished) -> Text:
        m = event.metrics
        done = event.step - self.start_step + 1
        elapsed = time.monotonic() - self.started
        eta = elapsed / done * (self.max_steps - event.step) if done > 0 else 0.0
        line = Text()
        line.append(f"step {event.step}/{self.max_steps} ", style="bold")
        line.append(f"{one_line(event.problem_id, 40):<10} ")
        line.append(f"best {m['best_accuracy']:.2f} ", style="green" if m["perfect"] else "")
        line.append(f"mean {m['mean_accuracy']:.2f} reward {m['reward_mean']:+.3f} ")
        if m["loss"] is not None:
            # A policy-gradient loss sits near 0 (ratio 1, advantages centred): the gradient norm shows the update.
            line.append(f"loss {m['loss']:.4f} grad {m['grad_norm']:.2f} ")
        else:
            line.append("skipped ", style="dim")
        if m.get("groups_drawn", 1) > 1:
            line.append(f"draws {m['groups_drawn']} kept {m['groups_kept']} ")
        line.append(f"{m['tokens_per_s']:.0f} tok/s {m['step_time_s']:.1f}s ETA {format_duration(eta)}")
        if m["perfect"]:
            line.append("  perfect", style="bold green")
        return line
