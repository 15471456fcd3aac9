"""RunControl: how any thread (a key press, a signal handler) steers the trainer.

The trainer polls it at safe points; generation polls `stop_requested` between tokens.
"""

from __future__ import annotations

import threading


class RunControl:
    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._save = threading.Event()

    # Requests, from any thread.
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def toggle_pause(self) -> bool:
        """Pause or resume; returns True when now paused."""
        if self.pause_requested:
            self.resume()
            return False
        self.pause()
        return True

    def request_save(self) -> None:
        self._save.set()

    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused trainer must wake up to stop

    # Reads, for the trainer.
    @property
    def pause_requested(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def take_save_request(self) -> bool:
        """True once per save request."""
        if self._save.is_set():
            self._save.clear()
            return True
        return False

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block until resumed or stopped; True when running again."""
        return self._running.wait(timeout)
