"""Test-time training as eval runs it: the plan (--test-time-mode, --test-time-weights) as a TestTimeTrainer
whose adapt phases are SFT (test_time_sft.SupervisedPhase), RL (test_time_rl.TestTimeRL) or SFT then RL.

Both phases train the same weights (adapter_reset.py: a LoRA or every weight), which start every task
from the same tensors, so a task's attempts never depend on the tasks before it; the trainer resets them,
adapts, answers the task exactly as plain eval does (views, votes or product of experts), and resets again.
"""

from __future__ import annotations

from arc_console.evaluation.adapter_reset import TrainableWeights
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.test_time import AdaptPhase, TestTimeTrainer
from arc_console.evaluation.test_time_rl import TestTimeRL
from arc_console.evaluation.test_time_settings import TestTimePlan
from arc_console.evaluation.test_time_sft import SupervisedPhase


def plan_trainer(weights: TrainableWeights, plan: TestTimePlan, eval_settings: EvalSettings) -> TestTimeTrainer:
    """The trainer that adapts `weights` by `plan`'s phases, in order, before each task is answered; each
    learning rate not given is that of what trains."""
    plan = plan.for_weights(weights.kind)
    phases: list[AdaptPhase] = []
    if "sft" in plan.phases:
        phases.append(SupervisedPhase(weights, plan.sft, eval_settings))
    if "rl" in plan.phases:
        phases.append(TestTimeRL(weights, plan.rl, eval_settings))
    return TestTimeTrainer(weights, plan.rl, eval_settings, phases, plan.mode, plan.pool)
