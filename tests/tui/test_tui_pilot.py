"""The dashboard driven by Pilot at 160x50, with a real tiny training run inside it."""

import asyncio
import threading
from pathlib import Path

import pytest

from arc_console.config import DEMO_PROBLEMS
from arc_console.engine import events as ev
from arc_console.engine.control import RunControl
from arc_console.tui.app import ConsoleApp
from arc_console.tui.screens.confirm_stop import ConfirmStop
from arc_console.tui.widgets.candidates import CandidatesPanel
from arc_console.tui.widgets.gpu_panel import GpuPanel
from arc_console.tui.widgets.log_tail import LogTail
from arc_console.tui.widgets.status_bar import PHASE_LABELS, StatusBar

from helpers import make_trainer
from tui_fixtures import FixedSampler, replay_source, screen_text, step_events, until, until_painted

SIZE = (160, 50)


class Recorder:
    """Wraps the app's sink: records events and lets a test await one of a kind."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.arrived = threading.Condition()

    def wrap(self, sink):
        def record(event):
            with self.arrived:
                self.events.append(event)
                self.arrived.notify_all()
            sink(event)
        return record

    async def wait_for(self, predicate, timeout: float = 60.0) -> ev.Event:
        def wait() -> ev.Event:
            with self.arrived:
                found = self.arrived.wait_for(lambda: next((e for e in self.events if predicate(e)), None), timeout)
                assert found, "event never came"
                return found
        return await asyncio.to_thread(wait)


def training_source(trainer, recorder: Recorder):
    def source(sink, closing) -> None:
        trainer.emit = recorder.wrap(sink)
        trainer.run()
    return source


def status_of(app: ConsoleApp) -> str:
    return app.query_one(StatusBar).render().plain


async def test_pause_save_and_stop_a_real_run(tmp_path: Path) -> None:
    control = RunControl()
    recorder = Recorder()
    run = tmp_path / "run"
    trainer, _ = make_trainer(run, control=control, max_steps=10_000, max_new_tokens=24)
    app = ConsoleApp(training_source(trainer, recorder), control=control, early_stop_perfect=3)
    async with app.run_test(size=SIZE) as pilot:
        await recorder.wait_for(lambda e: isinstance(e, ev.StepFinished))
        panel = app.query_one(CandidatesPanel)
        await until(pilot, lambda: len(panel.candidate_cards) == 4 and app.dashboard.log_tail.line_count >= 2)
        # The steps are fast: by now the panel may show a later step than the first.
        assert any(problem in str(panel.border_title) for problem in DEMO_PROBLEMS)
        assert "hardware" in str(app.query_one(GpuPanel).border_title)
        assert app.query_one(LogTail).line_count >= 2

        await pilot.press("p")
        assert "PAUSED" in status_of(app)  # at once, before the trainer reaches its safe point
        paused = await recorder.wait_for(lambda e: isinstance(e, ev.Paused))
        await pilot.pause()
        assert "PAUSED" in status_of(app) and control.pause_requested
        steps_when_paused = trainer.step

        await pilot.press("s")
        saved = await recorder.wait_for(lambda e: isinstance(e, ev.CheckpointSaved) and e.reason == "requested")
        await pilot.pause()
        assert Path(saved.path).name == f"step_{steps_when_paused}"
        assert any(saved.path in str(n.message) for n in app._notifications)
        assert trainer.step == steps_when_paused == paused.step - 1

        await pilot.press("p")
        await recorder.wait_for(lambda e: isinstance(e, ev.StepFinished) and e.step > steps_when_paused)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmStop)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmStop) and not control.stop_requested
        await pilot.press("q")
        await pilot.press("y")
        assert control.stop_requested
        assert "STOPPING" in status_of(app) or "finished: stop requested" in status_of(app)
        stopped = await recorder.wait_for(lambda e: isinstance(e, ev.Stopped))
        await pilot.pause()
    assert app.return_code == 0
    assert stopped.reason == "stop_requested"
    steps = sorted(int(p.stem[5:]) for p in (run / "logs/responses").glob("step_*.json"))
    assert steps == list(range(1, stopped.step + 1))
    assert (run / f"checkpoints/step_{stopped.step}/trainer_state.json").exists()
    assert (run / "final_model/config.json").exists()


def long_run_app(tmp_path: Path) -> tuple[ConsoleApp, RunControl, Recorder]:
    """The dashboard over a real tiny run long enough to be stopped mid-way."""
    control = RunControl()
    recorder = Recorder()
    trainer, _ = make_trainer(tmp_path / "run", control=control, max_steps=10_000, max_new_tokens=200,
                              overlong_buffer=8)
    return ConsoleApp(training_source(trainer, recorder), control=control, sampler_factory=None), control, recorder


async def test_ctrl_c_stops_without_asking(tmp_path: Path) -> None:
    app, control, recorder = long_run_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await recorder.wait_for(lambda e: isinstance(e, ev.RolloutProgress))
        await pilot.press("ctrl+c")
        stopped = await recorder.wait_for(lambda e: isinstance(e, ev.Stopped))
        await pilot.pause()
    assert app.return_code == 0 and stopped.reason == "stop_requested"
    assert (tmp_path / f"run/checkpoints/step_{stopped.step}/trainer_state.json").exists()


async def test_keys_that_do_not_apply_are_disabled() -> None:
    control = RunControl()
    app = ConsoleApp(replay_source(step_events() + [ev.Stopped(3, "max_steps", "c", "f", [])]), control=control,
                     sampler_factory=FixedSampler)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert app.view.finished is not None
        assert app.dashboard.check_action("toggle_pause", ()) is None and app.dashboard.check_action("save", ()) is None
        await pilot.press("p", "s")
        assert not control.pause_requested and not control.take_save_request()
        await pilot.pause()
        footer = [line for line in screen_text(app).splitlines() if line.strip()][-1]
        assert "q Quit" in footer and "Stop" not in footer, footer  # the footer says what q does now
        await pilot.press("q")  # a finished run quits without asking
    assert app.return_code == 0


HOSTILE = "[bold red]boom[/] \x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ [link=x]y[/link]"


async def test_model_text_with_markup_and_escapes_shows_literally() -> None:
    app = ConsoleApp(replay_source(step_events(hostile_text=HOSTILE)), sampler_factory=FixedSampler)
    async with app.run_test(size=SIZE) as pilot:
        await until_painted(pilot, app)
        response = app.query_one("#response").render()
        plain = response.plain
        assert "[bold red]boom[/]" in plain and "[link=x]y[/link]" in plain
        assert "\\x1b[31mred" in plain and "\\x1b]0;pwned\\x07" in plain
        assert "\x1b" not in plain and "\x07" not in plain
        # Nothing of it became a style: the text carries only the label's bold.
        assert [(span.start, span.end) for span in response.spans] == [(0, len("#1 ★ › "))]
        svg = app.export_screenshot()
        assert "[bold red]boom[/]" in svg.replace("&#160;", " ")


@pytest.mark.parametrize("width", [80, 120, 160])
async def test_the_status_line_gives_up_whole_fields_to_fit(width: int) -> None:
    """A status line too long for the terminal leaves out whole fields, the run directory and the name
    first, never the step, the phase, the ETA or the perfect count, and nothing is cut mid-word."""
    events = step_events()
    app = ConsoleApp(replay_source(events), sampler_factory=FixedSampler, early_stop_perfect=3)
    async with app.run_test(size=(width, 40)) as pilot:
        await until_painted(pilot, app)
        status = status_of(app)
        assert len(status) <= width and "…" not in status, status
        for field in ("step 3/50", "perfect ", "/3"):
            assert field in status, (field, status)
        if width >= 160:
            assert "arc-console" in status, status


async def test_only_a_requested_checkpoint_pops_up() -> None:
    """The answer to `s` is a notification; periodic, timed and final saves go to the log tail only (with a
    checkpoint every step their notifications stacked over the panels)."""
    saves = [ev.CheckpointSaved(3, f"runs/demo/checkpoints/step_3_{reason}", reason)
             for reason in ("periodic", "timed", "final", "requested")]
    app = ConsoleApp(replay_source(step_events() + saves), sampler_factory=FixedSampler)
    async with app.run_test(size=SIZE) as pilot:
        # The events arrive in order: once the requested save's notification is there, the others were handled.
        await until(pilot, lambda: any("step_3_requested" in str(n.message) for n in app._notifications))
        await pilot.pause()
        shown = [str(n.message) for n in app._notifications]
        assert [m for m in shown if "checkpoint saved" in m] == ["checkpoint saved: runs/demo/checkpoints/step_3_requested"]


async def test_theme_switching_and_a_broken_theme_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "broken"\nprimary = 12\n')
    app = ConsoleApp(replay_source(step_events()), sampler_factory=FixedSampler, theme=str(broken))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "arc-dark"
        assert any("primary must be a colour" in str(n.message) or "needs a primary" in str(n.message)
                   for n in app._notifications)
        seen = {app.theme}
        for _ in range(3):
            await pilot.press("t")
            seen.add(app.theme)
        assert {"arc-dark", "arc-light", "arc-high-contrast"} <= seen
    app = ConsoleApp(replay_source(step_events()), sampler_factory=FixedSampler, theme="arc-light")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "arc-light"


async def test_real_hardware_panel_without_gpu(monkeypatch) -> None:
    """The real sampler where NVML cannot start (no driver): on any machine, with a GPU or without."""
    import pynvml

    def no_driver() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_driver)
    app = ConsoleApp(replay_source([]))
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(GpuPanel)
        await until(pilot, lambda: "GPU" in str(panel.border_title), timeout=2.5)
        assert str(panel.border_title) == "hardware (no GPU)"
        screen = app.export_screenshot().replace("&#160;", " ")
        assert "no NVIDIA GPU" in screen and "CPU" in screen and "RAM" in screen


async def test_real_hardware_panel_shows_this_machine() -> None:
    """The real sampler as it finds this machine: its GPUs by name where NVML sees any, else none."""
    from arc_console.monitor.hardware import HardwareSampler

    gpus = HardwareSampler().sample().gpus
    app = ConsoleApp(replay_source([]))
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(GpuPanel)
        await until(pilot, lambda: "GPU" in str(panel.border_title), timeout=5)
        assert str(panel.border_title) == ("GPU" if gpus else "hardware (no GPU)")
        screen = app.export_screenshot().replace("&#160;", " ")
        assert all(gpu.name[:12] in screen for gpu in gpus[:1])


async def test_a_redraw_racing_shutdown_is_harmless() -> None:
    # CI once saw the redraw timer fire while the panels were being removed at exit.
    app = ConsoleApp(replay_source(step_events()), sampler_factory=FixedSampler)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.dashboard.candidates_panel
        await panel.remove()
        panel.refresh_cards()
        app.dashboard._dirty |= {"candidates", "status"}
        app.dashboard._paint()  # what a late redraw does: everything dirty, the removed panel's too
        assert not app.dashboard._dirty  # all was painted (the removed panel's skipped), nothing left undone
        assert not panel.is_attached
        await pilot.pause()
        assert app.is_running and app._exception is None  # the app goes on, nothing raised in it
        app.dashboard._dirty.add("candidates")
        app.exit()
        app.dashboard._redraw()  # the timer firing as the app closes
    assert app._exception is None


async def test_the_log_tail_follows_and_looks_back() -> None:
    lines = [ev.LogLine(f"line {n:02d}") for n in range(40)]
    app = ConsoleApp(replay_source(lines), sampler_factory=FixedSampler)
    async with app.run_test(size=SIZE) as pilot:
        await until_painted(pilot, app)
        log = app.dashboard.log_tail
        assert log.line_count == 40
        assert "line 39" in str(log.render()) and "line 20" not in str(log.render())
        log.focus()
        await pilot.press("pageup", "up")
        assert log.lines_back == 9 and "9 lines back" in str(log.border_subtitle)
        shown = str(log.render())
        assert "line 30" in shown and "line 39" not in shown
        log.add("line 40")  # a new line while looking back: the view stays put
        assert str(log.render()) == shown and log.lines_back == 10
        await pilot.press("end")
        assert log.lines_back == 0 and "line 40" in str(log.render())
        for _ in range(20):
            await pilot.press("pageup")
        assert "line 00" in str(log.render())  # stops at the oldest line


def test_the_trend_is_the_mean_of_the_last_steps() -> None:
    from arc_console.tui.widgets.history import trailing_mean

    assert trailing_mean([], 3) == []
    assert trailing_mean([0.0, 0.3, 0.6, 0.9, 0.0], 3) == pytest.approx([0.0, 0.15, 0.3, 0.6, 0.5])


async def test_status_line_shows_the_draws_and_phase_times_of_the_last_step(tmp_path: Path) -> None:
    recorder = Recorder()
    trainer, _ = make_trainer(tmp_path / "run", max_steps=2, max_extra_draws=1)
    app = ConsoleApp(training_source(trainer, recorder), control=RunControl(), early_stop_perfect=3)
    async with app.run_test(size=SIZE) as pilot:
        await recorder.wait_for(lambda e: isinstance(e, ev.Stopped))
        await until_painted(pilot, app)
        last = trainer.history[-1]
        status = status_of(app)
        assert f"draws {last['groups_drawn']}" in status, status
        # Each phase that took 0.05 s or more is shown with its time; shorter ones are left out.
        shown = [(key, label) for key, label in PHASE_LABELS if last[key] is not None and last[key] >= 0.05]
        assert shown, last
        for key, label in shown:
            assert f"{label} {last[key]:.1f}" in status, status


async def test_a_second_stop_signal_gives_up_on_the_save(tmp_path: Path) -> None:
    """SIGTERM or SIGINT (the handlers' target, called as the event loop would): the first stops the run and
    the console waits for the save; a second one before the save is done closes it at once (exit 130, gave_up),
    which the CLI turns into its one line (cli.console)."""
    app, control, recorder = long_run_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await recorder.wait_for(lambda e: isinstance(e, ev.RolloutProgress))
        app.stop_signalled()
        assert control.stop_requested and app.view.stopping and not app.gave_up
        app.stop_signalled()
        await pilot.pause()
    assert app.gave_up and app.return_value == 130
    await recorder.wait_for(lambda e: isinstance(e, ev.Stopped))  # the trainer thread still saves (the CLI does not wait)
