"""The ARC domain: tasks, grids, the seed's prompt, response parsing and scoring. No torch here."""

from arc_console.arc.grids import Grid, GridError, grid_to_text, validate_grid
from arc_console.arc.parse import parse_response
from arc_console.arc.prompt import build_prompt
from arc_console.arc.score import GridScore, score_grid
from arc_console.arc.tasks import Pair, Task, TaskError, load_tasks, select_tasks

__all__ = [
    "Grid",
    "GridError",
    "GridScore",
    "Pair",
    "Task",
    "TaskError",
    "build_prompt",
    "grid_to_text",
    "load_tasks",
    "parse_response",
    "score_grid",
    "select_tasks",
    "validate_grid",
]
