"""The --report-to targets: which package each needs, checked before a run starts, and building them."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from arc_console import UserError
from arc_console.reporting.base import Reporter

# target -> the package it imports; each target is also the name of its pyproject extra
REQUIRED_PACKAGE = {"tensorboard": "tensorboard", "trackio": "trackio", "wandb": "wandb"}


class ReportingError(UserError, ValueError):
    """A --report-to value that cannot be served; one line saying what to do."""


def chosen_targets(names: list[str]) -> list[str]:
    """The targets to build from a validated report_to ('none' means none); duplicates dropped, order kept."""
    return list(dict.fromkeys(n for n in names if n != "none"))


def check_installed(names: list[str]) -> None:
    """Raise a ReportingError naming the pip command when a chosen target's package is missing."""
    for name in chosen_targets(names):
        package = REQUIRED_PACKAGE[name]
        try:
            importlib.import_module(package)
        except ImportError as exc:
            raise ReportingError(f"--report-to {name} needs the {package} package ({exc}): "
                                 f"pip install 'arc-console[{name}]'") from None


def _factory(name: str) -> Callable[[], Reporter]:
    if name == "tensorboard":
        from arc_console.reporting.tensorboard_reporter import TensorBoardReporter
        return TensorBoardReporter
    if name == "wandb":
        from arc_console.reporting.wandb_reporter import WandbReporter
        return WandbReporter
    from arc_console.reporting.trackio_reporter import TrackioReporter
    return TrackioReporter


def build_reporters(names: list[str]) -> list[Reporter]:
    check_installed(names)
    return [_factory(name)() for name in chosen_targets(names)]
