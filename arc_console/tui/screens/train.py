"""The live training screen: the dashboard with the keys that steer a run (pause, save, stop)."""

from __future__ import annotations

from textual.binding import Binding

from arc_console.engine import events as ev
from arc_console.terminal.textsafe import one_line
from arc_console.tui.screens.confirm_stop import ConfirmStop
from arc_console.tui.screens.dashboard import VIEW_BINDINGS, DashboardScreen
from arc_console.rundir.files import stop_words


class TrainScreen(DashboardScreen):
    BINDINGS = [
        Binding("p", "toggle_pause", "Pause/Resume", id="pause",
                tooltip="pause / resume training (it pauses at the next safe point)"),
        Binding("s", "save", "Save", id="save", tooltip="save a checkpoint now (at the end of the current step)"),
        Binding("q", "stop", "Stop", id="stop",
                tooltip="stop: asks first; saves a checkpoint and the final model, then exits"),
        # The same key once the run has ended (finished, or failed): the footer then says what q does.
        Binding("q", "close", "Quit", id="quit", tooltip="quit (the run has ended)"),
        Binding("ctrl+c", "stop_now", "Stop now", show=False, priority=True, id="stop-now", key_display="Ctrl+C",
                tooltip="stop without asking (same as a confirmed q)"),
        *VIEW_BINDINGS,
    ]

    @property
    def live(self) -> bool:
        """The run is going and can still be steered."""
        return self.view.finished is None and self.failure is None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_pause", "save"):
            return True if self.live and not self.view.stopping else None
        if action in ("stop", "close"):  # one q in the footer: Stop while the run goes, Quit after
            return self.live == (action == "stop")
        return True

    def action_close(self) -> None:
        self.app.exit(0 if self.failure is None else 1)

    def on_checkpoint_saved(self, event: ev.CheckpointSaved) -> None:
        # The answer to `s` pops up; the periodic and timed saves are in the log tail (with a checkpoint every
        # step or two their pop-ups stacked over the panels).
        if event.reason == "requested":
            self.notify(one_line(f"checkpoint saved: {event.path}"), title="checkpoint", timeout=6, markup=False)

    def on_stopped(self, event: ev.Stopped) -> None:
        if self.view.stopping or event.reason == "error":
            self.app.exit(0 if event.reason != "error" else 1)
        else:
            self.notify(one_line(f"run finished ({stop_words(event.reason)}); q quits"), timeout=30, markup=False)

    def action_toggle_pause(self) -> None:
        assert self.control is not None
        if self.control.toggle_pause():
            self.view.pause_pending = True
        else:
            self.view.pause_pending = False
            self.view.paused = False
        self.status_bar.show(self.view, self.WATCHING)
        self.refresh_bindings()

    def action_save(self) -> None:
        assert self.control is not None
        self.control.request_save()
        self.notify("checkpoint requested: it is written at the end of this step", timeout=4)

    def action_stop(self) -> None:
        if not self.live:
            self.app.exit(0 if self.failure is None else 1)
            return
        if self.view.stopping:
            return

        def confirmed(answer: bool | None) -> None:
            if answer:  # the run may have ended while the question was open: stop_now then just closes
                self.stop_now()

        self.app.push_screen(ConfirmStop(), confirmed)

    def action_stop_now(self) -> None:
        self.stop_now()

    def stop_now(self) -> None:
        if not self.live:
            self.action_close()
            return
        self.begin_stop()

    def begin_stop(self) -> None:
        if self.view.stopping or self.control is None:
            return
        self.view.stopping = True
        self.control.request_stop()
        self.notify("stopping: saving a checkpoint and the final model …", timeout=30)
        self.status_bar.show(self.view, self.WATCHING)
        self.refresh_bindings()
