"""Test-time training as eval runs it: per task, reset the weights, adapt them (SFT, RL or SFT then RL),
answer the task exactly as plain eval does (views, votes or product of experts), reset them again.

The adapt phases are supervised (test_time_sft.SupervisedPhase) and RL (test_time.TestTimeTrainer's
DAPO steps); both train the same weights (adapter_reset.py: a LoRA or every weight), which start every
task from the same tensors, so a task's attempts never depend on the tasks before it.
"""

from __future__ import annotations

import time
from typing import Any

from arc_console.arc import Task
from arc_console.decoding.samples import ProgressCallback
from arc_console.engine.control import RunControl
from arc_console.evaluation import events as ev
from arc_console.evaluation.adapter_reset import TrainableWeights
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import answer_task
from arc_console.evaluation.solver_types import TaskAnswer
from arc_console.evaluation.test_time import TestTimeTrainer
from arc_console.evaluation.test_time_settings import TestTimePlan
from arc_console.evaluation.test_time_sft import SupervisedPhase

SINGLE_PAIR = "a single train pair: no pseudo-test"


class AdaptThenAnswer:
    """run_evaluation's `answerer` for a test-time mode other than none."""

    def __init__(self, weights: TrainableWeights, plan: TestTimePlan, eval_settings: EvalSettings) -> None:
        self.weights = weights
        self.plan = plan = plan.for_weights(weights.kind)  # a learning rate not given is that of what trains
        self.eval_settings = eval_settings
        self.supervised = SupervisedPhase(weights, plan.sft, eval_settings) if "sft" in plan.phases else None
        self.reinforced = TestTimeTrainer(weights, plan.rl, eval_settings) if "rl" in plan.phases else None

    @property
    def engine(self) -> Any:
        return self.weights.engine  # samples the live weights

    def answer(self, task: Task, control: RunControl, on_progress: ProgressCallback | None,
               emit: ev.EvalSink) -> TaskAnswer:
        started = time.perf_counter()
        self.weights.reset(self.eval_settings.seed, task.id)
        try:
            record = self.adapt(task, control, on_progress, emit)
            answer = answer_task(task, self.engine, self.eval_settings, control, on_progress)
        finally:
            self.weights.reset(self.eval_settings.seed, task.id)
        answer.seconds = time.perf_counter() - started
        record["seconds"] = round(answer.seconds, 4)
        answer.test_time = record
        return answer

    def adapt(self, task: Task, control: RunControl, on_progress: ProgressCallback | None,
              emit: ev.EvalSink) -> dict[str, Any]:
        """Run the plan's phases on `task`; what each did, and why the task was answered plainly if it was."""
        record: dict[str, Any] = {"mode": self.plan.mode, "fallback": None}
        if len(task.train) < 2:
            emit(ev.EvalLog(f"{task.id}: plain eval ({SINGLE_PAIR})"))
            record["fallback"] = SINGLE_PAIR
            return record
        reasons = []
        if self.supervised is not None:
            sft = self.supervised.train(task, control, emit)
            record["sft"] = sft.to_dict()
            reasons.append(sft.fallback)
        if self.reinforced is not None:
            rl = self.reinforced.train(task, control, on_progress, emit)
            record["rl"] = rl.to_dict()
            reasons.append(rl.fallback)
        if all(reasons):  # no phase trained: the task was answered plainly
            record["fallback"] = reasons[0]
        return record
