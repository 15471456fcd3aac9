"""The pieces that keep the live dashboard cheap (issue 35 item 10): the trainer's events arrive in bursts
of one message, and the chart is drawn straight into rows."""

import threading

from rich.segment import Segment

from arc_console.engine import events as ev
from arc_console.tui.messages import EventInbox, EventsQueued
from arc_console.tui.widgets.line_chart import BRAILLE_BASE, Series, render_chart


def test_a_burst_of_events_is_one_message_and_keeps_its_order() -> None:
    posted = []
    inbox = EventInbox(posted.append)
    events = [ev.PhaseChanged(1, "generating"), *(ev.RolloutProgress(1, n, 32, 100.0) for n in range(50))]
    worker = threading.Thread(target=lambda: [inbox.put(event) for event in events])
    worker.start()
    worker.join(timeout=10)
    assert len(posted) == 1 and isinstance(posted[0], EventsQueued)
    assert inbox.take_all() == events
    inbox.put(ev.LogLine("after"))  # a new burst once the app has taken the last: a new message
    assert len(posted) == 2 and inbox.take_all() == [ev.LogLine("after")]


def text(row: list[Segment]) -> str:
    return "".join(segment.text for segment in row)


def test_the_chart_draws_each_series_inside_its_axes() -> None:
    rising = Series([(1, 0.0), (5, 1.0)], "green")
    star = Series([(3, 1.0)], "yellow", lines=False, glyph="★")
    rows = render_chart([rising, star], width=40, height=12, x_ticks=[1, 2, 3, 4, 5], y_range=(0.0, 1.0),
                        x_label="step", marked_x=4)
    assert len(rows) == 12 and all(sum(s.cell_length for s in row) <= 40 for row in rows)
    lines = [text(row) for row in rows]
    assert lines[0].startswith("1.00┤") and any(line.startswith("0.00┤") for line in lines)
    assert "★" in lines[0]  # at y = 1.0: the top row
    assert lines[-3].lstrip().startswith("└") and lines[-3].count("┬") == 5
    assert lines[-2].split() == ["1", "2", "3", "4", "5"] and lines[-1].strip() == "step"
    plot = lines[:-3]
    dots = [(y, x) for y, line in enumerate(plot) for x, char in enumerate(line) if ord(char) > BRAILLE_BASE]
    assert dots[0][0] == 0 and dots[-1][0] == len(plot) - 1  # the rising line spans the plot, top right to bottom left
    assert min(x for y, x in dots if y == 0) > max(x for y, x in dots if y == len(plot) - 1)
    assert sum(line[5:].count("│") for line in plot) >= len(plot) - 1  # the marked step: a line down the plot
