"""Messages from worker threads to the app. Floods of progress coalesce (can_replace)."""

from __future__ import annotations

from textual.message import Message

from arc_console.engine import events as ev
from arc_console.monitor.hardware import HardwareSample


class EngineEvent(Message):
    def __init__(self, event: ev.Event) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        # An older rollout-progress message is worthless once a newer one is queued behind it.
        return (isinstance(self.event, ev.RolloutProgress) and isinstance(message, EngineEvent)
                and isinstance(message.event, ev.RolloutProgress))


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
