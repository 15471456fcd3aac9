"""The status line fitted to the terminal's width (tui/widgets/status_bar.py): whole fields shorten or go, one
at a time, the least needed first; what fits holds still through a step's phases."""

from arc_console.engine import events as ev
from arc_console.tui.run_view import RunView
from arc_console.tui.widgets.status_bar import status_text


def running_view() -> RunView:
    view = RunView()
    view.apply(ev.RunStarted("/home/me/runs/arc-experiment-7", "tiny", "hf", "cpu", "dapo", 1, 500, 8, ["af902bf9"]))
    view.step, view.problem_id, view.early_stop_perfect, view.phase = 12, "af902bf9", 3, "generating"
    view.max_tokens, view.tokens, view.tokens_per_s = 512, 7, 950.0
    view.step_durations = [2.5, 2.4]
    view.history = [{"groups_drawn": 2, "groups_kept": 1, "time_rollout_s": 2.1, "time_update_s": 0.3}]
    return view


def test_the_fields_that_fit_hold_still_through_a_step() -> None:
    for width in range(60, 200, 3):
        seen = set()
        for phase, tokens in (("generating", 7), ("generating", 511), ("scoring", 0), ("update", 0)):
            view = running_view()
            view.phase, view.tokens = phase, tokens
            text = status_text(view, width=width)
            assert text.cell_len <= width, (width, text.plain)
            seen.add(tuple(word for word in ("arc-console", "experiment", "tok/s", "last", "draws", "ETA", "af902bf9")
                           if word in text.plain))
        assert len(seen) == 1, (width, seen)


def test_the_step_the_phase_and_the_perfect_count_always_stay() -> None:
    view = running_view()
    whole = status_text(view).plain
    assert all(word in whole for word in ("arc-console", "arc-experiment-7", "draws 2 kept 1", "ETA", "tok/s"))
    narrow = status_text(view, width=60).plain
    assert "step 12/500" in narrow and "generating" in narrow and "perfect 0/3" in narrow, narrow
    assert "arc-console" not in narrow and "draws" not in narrow  # the name and the breakdown went first
    # A run directory too long for the bar keeps its tail (its last folder) before it goes.
    view.run_dir = "/very/long/path/" + "x" * 80 + "/arc-experiment-7"
    mid = status_text(view, width=150).plain
    assert "…" in mid and "arc-experiment-7" in mid, mid
    # Narrower than the fields that always stay: they stay, and the terminal cuts the line.
    tiny = status_text(view, width=10)
    assert "step 12/500" in tiny.plain and "perfect" in tiny.plain
