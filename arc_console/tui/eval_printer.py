"""The headless evaluation printer: a progress bar per task on stdout, then a final table."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from arc_console.evaluation import events as ev
from arc_console.terminal.textsafe import one_line
from arc_console.tui.headless import format_duration

BAR_WIDTH = 24


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    filled = round(width * done / total) if total else width
    return "█" * filled + "░" * (width - filled)


def format_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


class EvalPrinter:
    """An evaluation event sink; task ids and paths are printed as plain Text, never as markup."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.total = 0
        self.started = time.monotonic()

    def __call__(self, event: ev.EvalEvent) -> None:
        if isinstance(event, ev.EvalStarted):
            self.total, self.started = len(event.tasks), time.monotonic()
            s = event.settings
            self.console.print(Text.assemble(
                ("arc-console eval ", "bold"), one_line(event.model), f" on {event.device}: {self.total} tasks, ",
                f"{s['augment']} ({event.views} views) x {s['samples']} samples, ranked by {s['rank']}"))
        elif isinstance(event, ev.TestTimeStep):
            self.console.print(test_time_line(event))
        elif isinstance(event, ev.TaskAnswered):
            self.console.print(self._task_line(event))
        elif isinstance(event, ev.EvalLog) and event.level in ("warning", "error"):
            self.console.print(Text(one_line(event.text), style="yellow" if event.level == "warning" else "red"))
        elif isinstance(event, ev.EvalFinished):
            self.console.print(final_table(event))

    def _task_line(self, event: ev.TaskAnswered) -> Text:
        done = event.index + 1
        elapsed = time.monotonic() - self.started
        eta = elapsed / done * (self.total - done)
        answer, totals = event.answer, event.totals
        line = Text()
        line.append(f"{progress_bar(done, self.total)} {done}/{self.total} ", style="bold")
        line.append(f"{one_line(event.task_id, 40):<28} ")
        if answer["pass_at_2"] is None:
            line.append("hidden ", style="dim")
        else:
            right = answer["pass_at_2"] == 1.0
            line.append(f"{'✓' if right else '✗'} {answer['pass_at_2']:.2f} ", style="green" if right else "red")
        line.append(f"pass@2 {format_score(totals['pass_at_2'])} oracle {format_score(totals['oracle'])} ")
        if answer.get("test_time") is not None:
            line.append(test_time_summary(answer["test_time"]), style="dim")
        line.append(f"{answer['seconds']:.1f}s ETA {format_duration(eta)}")
        return line


def test_time_summary(record: dict) -> str:
    """What test-time training did to a task (its record in eval.json), in a few words."""
    if record.get("fallback"):
        return "plain (single pair) " if "single train pair" in str(record["fallback"]) else "plain (no prompt fits) "
    parts = []
    sft = record.get("sft")
    if sft and sft.get("loss_before") is not None:
        parts.append(f"sft loss {sft['loss_before']:.2f}->{sft['loss_after']:.2f}")
    if record.get("reward_before") is not None:
        parts.append(f"test-time reward {record['reward_before']:.2f}->{record['reward_after']:.2f}")
    return "".join(f"{part} " for part in parts)


def test_time_line(event: ev.TestTimeStep) -> Text:
    metrics = event.history[-1]
    loss = "no update (equal rewards)" if metrics["loss"] is None else f"loss {metrics['loss']:+.4f}"
    return Text.assemble("  test-time ", (f"{event.step}/{event.steps} ", "bold"), one_line(event.problem_id, 60),
                         f" best {metrics['best_accuracy']:.2f} mean {metrics['mean_accuracy']:.2f} "
                         f"reward {metrics['reward_mean']:+.3f} {loss}", style="dim")


def final_table(event: ev.EvalFinished) -> Table:
    totals = event.totals
    table = Table(title="stopped: the tasks answered so far" if event.stopped else "evaluation", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("pass@2 (the ARC Prize score)", format_score(totals["pass_at_2"]))
    table.add_row("pass@1", format_score(totals["pass_at_1"]))
    table.add_row("oracle (any candidate right)", format_score(totals["oracle"]))
    table.add_row("tasks answered / scored / total",
                  f"{totals['tasks_answered']} / {totals['tasks_scored']} / {totals['tasks_total']}")
    hidden = totals["tasks_answered"] - totals["tasks_scored"]
    if hidden:
        table.add_row("hidden test outputs", f"{hidden} tasks: in the submission, not scored")
    table.add_row("tokens generated", f"{totals['tokens']:,}")
    table.add_row("seconds", f"{totals['seconds']:.1f}")
    for path in event.files:
        table.add_row("wrote", Text(path))
    return table
