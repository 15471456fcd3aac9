"""Run an evaluation behind the Textual console: the evaluation in the app's thread worker, events as messages."""

from __future__ import annotations

import sys
from typing import Any

from arc_console.engine.control import RunControl
from arc_console.evaluation.runner import run_evaluation
from arc_console.terminal.hung_up import tolerate_hung_up_terminal
from arc_console.terminal.stop_signals import graceful_stop_signals
from arc_console.tui.eval_app import EvalApp


def eval_with_console(run: dict[str, Any], theme: str | None) -> int:
    control = RunControl()
    app = EvalApp(lambda sink: run_evaluation(emit=sink, control=control, **run), control.request_stop, theme=theme,
                  handle_signals=True, stop_requested=lambda: control.stop_requested)
    # Until the app has installed its own handlers, a stop signal still stops the evaluation (the app
    # then sees it and closes once the answers are written).
    with tolerate_hung_up_terminal(), graceful_stop_signals(control):
        code = app.run()
    if app.gave_up:
        raise KeyboardInterrupt  # the process ends at once (cli.console)
    control.request_stop()  # the app is closed: a worker still running stops at its next token
    if app.failure:
        print(f"arc-console: error: {app.failure}", file=sys.stderr)
        return 1
    if app.finished is not None:
        totals = app.finished.totals
        print(f"pass@2 {totals['pass_at_2']}  pass@1 {totals['pass_at_1']}  oracle {totals['oracle']}  "
              f"({totals['tasks_answered']} of {totals['tasks_total']} tasks{', stopped' if app.finished.stopped else ''}); "
              f"wrote {', '.join(app.finished.files)}")
    return code if isinstance(code, int) else 0
