"""The README's screenshot: the train dashboard at 160x50, on the CPU, with the built-in model.

    python scripts/screenshot.py [--steps 40] [--out docs/images/dashboard.png]

Runs the tiny preset (`make train`'s first run) with its trainer on its own thread, as `arc-console train`
does, and saves Textual's SVG screenshot once `--steps` steps have finished; then stops the run (written
to a temporary folder and removed). An --out ending in .png is converted by rsvg-convert
(`apt-get install librsvg2-bin`); one ending in .svg is Textual's SVG as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from arc_console.cli.session import EventForwarder
from arc_console.config import build_config
from arc_console.engine import events as ev
from arc_console.engine.control import RunControl
from arc_console.engine.trainer import Trainer
from arc_console.engine.trainer_thread import TrainerThread
from arc_console.tui.app import ConsoleApp

SIZE = (160, 50)


class StopShowingAfter:
    """The dashboard's sink until step `steps` has finished and its log line is out; then the trainer is paused
    and nothing more is shown, so the screenshot holds that step's candidates (the next step clears them)."""

    def __init__(self, steps: int, control: RunControl) -> None:
        self.steps, self.control = steps, control
        self.sink: Any = None
        self.shut = threading.Event()

    def __call__(self, event: Any) -> None:
        if isinstance(event, ev.StepStarted) and event.step > self.steps:
            self.control.pause()
            self.shut.set()
        if not self.shut.is_set():
            self.sink(event)


async def capture(app: ConsoleApp, worker: TrainerThread, gate: StopShowingAfter, out: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        while worker.is_alive() and not gate.shut.is_set():
            await pilot.pause(0.2)
        for _ in range(100):  # until every change reached the screen
            await pilot.pause(0.1)
            if app.painted:
                break
        app.save_screenshot(filename=out.name, path=str(out.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="steps finished before the screenshot")
    parser.add_argument("--out", type=Path, default=Path("docs/images/dashboard.png"))
    args = parser.parse_args()
    png = args.out.suffix == ".png"
    if png and shutil.which("rsvg-convert") is None:
        parser.error("a PNG needs rsvg-convert (apt-get install librsvg2-bin), or pass --out FILE.svg")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    config = build_config("tiny", None, {"max_steps": args.steps + 20})
    out = args.out.resolve()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # the status line shows the run directory as `make train` names it: runs/DATE-TIME
        control = RunControl()
        forward = EventForwarder()
        gate = StopShowingAfter(args.steps, control)
        run_dir = Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
        worker = TrainerThread(Trainer(config, run_dir, forward, control))
        worker.start()
        worker.ready.wait()
        if worker.setup_error is not None:
            raise worker.setup_error

        def source(sink: Any, closing: threading.Event) -> None:
            gate.sink = sink
            forward.attach(gate)
            worker.start_training()
            while worker.is_alive() and not closing.wait(0.2):
                pass

        app = ConsoleApp(source, mode="train", control=control, early_stop_perfect=config.early_stop_perfect)
        svg = Path(folder) / "dashboard.svg" if png else out
        asyncio.run(capture(app, worker, gate, svg))
        if png:
            subprocess.run(["rsvg-convert", "-w", "1600", str(svg), "-o", str(out)], check=True, timeout=120)
        control.request_stop()
        control.resume()
        worker.join()
        os.chdir(Path(__file__).resolve().parent.parent)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
