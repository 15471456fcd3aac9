"""Messages from worker threads to the app. Floods coalesce: a burst of the trainer's events is one message
(EventInbox), a newer hardware sample replaces one not yet shown (can_replace)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from textual.message import Message

from arc_console.engine import events as ev
from arc_console.monitor.hardware import HardwareSample


class EventsQueued(Message):
    """The source has put events in the app's EventInbox."""


class EventInbox:
    """The trainer's events on their way to the app's thread, in order. The first event of a burst posts one
    EventsQueued; the app takes every event queued by the time it handles it. A step's dozens of events
    (phases, tokens, each candidate scored) cost the app one message dispatch instead of one each."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._events: deque[ev.Event] = deque()
        self._posted = threading.Event()

    def put(self, event: ev.Event) -> None:
        """From any thread (the source's sink)."""
        self._events.append(event)
        if not self._posted.is_set():
            self._posted.set()
            self._post(EventsQueued())

    def take_all(self) -> list[ev.Event]:
        """From the app's thread, on EventsQueued: what is queued, oldest first."""
        self._posted.clear()  # before taking: an event put from now on posts again, none is stranded
        taken = []
        while self._events:
            taken.append(self._events.popleft())
        return taken


class HardwareSampled(Message):
    def __init__(self, sample: HardwareSample) -> None:
        super().__init__()
        self.sample = sample

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HardwareSampled)


class RunFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error
