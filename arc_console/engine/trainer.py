"""The training loop: pick problems, roll out K candidates, score, update, log, checkpoint, stop.

It talks to the world only through events (events.py) and obeys a RunControl at safe points. A step
goes through the functions its ranks and test-time training share: draw_groups (dynamic_sampling.py)
over rollouts scored by scored_groups (scoring.py), then policy_update (update.py) with the run's
objective (objective_registry.py); the step's own state is a StepRun (step_run.py).
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from arc_console.arc import load_tasks, select_tasks
from arc_console.arc.seeds import step_seed
from arc_console.config import TrainConfig
from arc_console.decoding.device_sampling import sampling_key
from arc_console.decoding.rollout_engine import EngineChoiceError, RolloutEngine, choose_rollout_engine
from arc_console.distributed.control_sync import sync_control, wait_while_paused
from arc_console.distributed.ranks import Ranks, single_process
from arc_console.distributed.roles import describe as describe_ranks
from arc_console.engine import events as ev
from arc_console.engine.augmented_problems import ProblemViews
from arc_console.engine.backends import BackendError, apply_cpu_threads, device_label, load_policy
from arc_console.engine.checkpoint import (TrainerState, find_checkpoint, restore_checkpoint, save_checkpoint,
                                           save_final_model)
from arc_console.engine.compile_cache import activate_for_training
from arc_console.engine.control import RunControl
from arc_console.engine.dynamic_sampling import Draws, draw_groups
from arc_console.engine.failure import OOM_HINT, is_out_of_memory, one_line, traceback_lines
from arc_console.engine.objective_registry import get_objective
from arc_console.engine.optimizer import build_optimizer
from arc_console.engine.prompt_fitting import fit_prompts, longest_rollout_tokens, token_counter
from arc_console.engine.rewards import RewardWeights
from arc_console.engine.scoring import RewardRule, scored_groups
from arc_console.engine.step_groups import Group, Problem, step_record
from arc_console.engine.step_hooks import HookContext, StepHook, StepHooks
from arc_console.engine.step_metrics import step_metrics, step_summary
from arc_console.engine.step_run import SlotProblems, StepRun
from arc_console.engine.update import policy_update
from arc_console.engine.warm_up import WarmUpClock
from arc_console.rundir.runlog import RunLog, stop_words


class Trainer:
    def __init__(self, config: TrainConfig, run_dir: Path, emit: ev.EventSink, control: RunControl | None = None,
                 resume_from: Path | None = None, ranks: Ranks | None = None, hooks: Sequence[StepHook] = ()) -> None:
        self.config = config
        self.hooks = StepHooks(hooks)  # run at step boundaries: e.g. the held-out evaluation the CLI builds
        self.ranks = ranks or single_process()  # distributed (issue 18): this process's rank and the collectives
        self.run_dir = run_dir
        self.emit = emit
        self.control = control or RunControl()
        self.resume_from = resume_from
        self.objective = get_objective(config.objective)
        self.rewards = RewardRule(config.reward, RewardWeights(config.reward_size_bonus, config.reward_perfect_bonus,
                                                               config.reward_no_grid_penalty),
                                  config.max_new_tokens, config.overlong_buffer)
        self.runlog = RunLog(run_dir)
        self.step = 0  # last completed step
        self.cursor = 0
        self.perfect_problems: list[str] = []
        self.history: list[dict[str, Any]] = []
        self.last_checkpoint_step: int | None = None
        self.last_checkpoint: Path | None = None
        self.last_checkpoint_time = time.monotonic()
        self.warm_up = WarmUpClock()  # first_step_s, recompiles_after_step1

    def setup(self) -> None:
        """Load tasks, model, optimizer and, when resuming, the checkpoint. Raises clear errors."""
        config = self.config
        for leftover in self.runlog.removed_leftovers:
            self._log(f"removed {leftover}, left half-written by an earlier process", "warning")
        checkpoint = find_checkpoint(self.resume_from) if self.resume_from else None
        tasks = load_tasks(config.tasks)
        if config.problems:
            tasks = select_tasks(tasks, config.problems)
        self._log(f"loading model {config.model} on backend {config.backend}; {activate_for_training(config, self.ranks)}")
        started = time.perf_counter()
        self.policy = load_policy(config.model, config.backend, config.lora_r, config.lora_alpha,
                                  config.max_seq_length, config.load_in_4bit, config.seed)
        trainable = sum(p.numel() for p in self.policy.trainable_parameters().values())
        threads = apply_cpu_threads(config.cpu_threads, self.policy)
        self._log(f"model ready in {time.perf_counter() - started:.1f}s on {self.device_name()}"
                  + (f" ({threads} thread{'s' if threads > 1 else ''})" if self.policy.device.type == "cpu" else "") + ": "
                  f"{trainable:,} trainable parameters ({'LoRA r=%d' % config.lora_r if config.lora_r else 'all weights'})")
        if self.ranks.distributed:
            self._log(describe_ranks(self.ranks, config.problems_per_step))
        self.problems = fit_prompts(tasks, self.policy.tokenizer, config.max_seq_length, config.max_new_tokens,
                                    warn=lambda message: self._log(message, "warning"))
        self._choose_rollout_engine()
        # issue 16: problems under random views (--augment).
        self.views = ProblemViews(config.augment, config.seed, config.max_seq_length - config.max_new_tokens,
                                  token_counter(self.policy.tokenizer))
        context = HookContext(self.run_dir, self.emit, self.control, self._log, [p.task.id for p in self.problems])
        self.hooks.attach(context)
        self.optimizer, self.scheduler = build_optimizer(self.policy, config)
        if checkpoint is not None:
            state = restore_checkpoint(checkpoint, self.policy, self.optimizer, self.scheduler)
            self.step, self.cursor = state.step, state.problem_cursor
            self.perfect_problems, self.history = state.perfect_problems, state.history
            self.last_checkpoint_step, self.last_checkpoint = state.step, checkpoint
            removed = self.runlog.rewind_to(state.step)
            self.hooks.rewind_to(state.step)
            self._log(f"resumed from {checkpoint} at step {state.step}"
                      + (f"; step files {removed[0]}..{removed[-1]} will be rewritten" if removed else ""))

    def _choose_rollout_engine(self) -> None:
        config = self.config  # the static engine sized once for the largest rollout: no new shape after step 1
        try:
            self.engine: RolloutEngine = choose_rollout_engine(
                self.policy, config.rollout_engine, config.rollout_experts, lambda message: self._log(message, "warning"),
                rows=-(-config.problems_per_step // self.ranks.world_size) * config.num_candidates,  # a rank's share
                cache_tokens=config.max_seq_length if config.augment != "none" else  # a view may be longer
                longest_rollout_tokens(self.problems, self.policy.tokenizer, config.max_new_tokens))
        except EngineChoiceError as exc:
            raise BackendError(str(exc)) from None
        self._log(f"rollouts: {self.engine.describe()}")

    def device_name(self) -> str:
        return device_label(self.policy.device)

    def run(self) -> ev.Stopped:
        """Train until max_steps, early stop, or a stop request. Always leaves a resumable checkpoint."""
        config = self.config
        started = ev.RunStarted(
            run_dir=str(self.run_dir), model=config.model, backend=self.policy.backend,
            device=self.device_name() + (f", {self.ranks.world_size} ranks" if self.ranks.distributed else ""),
            objective=config.objective, start_step=self.step + 1, max_steps=config.max_steps,
            num_candidates=config.num_candidates, problems=[p.task.id for p in self.problems],
            resumed_from=str(self.last_checkpoint) if self.last_checkpoint else None,
        )
        self.runlog.write_run_info({**started.__dict__, "early_stop_perfect": config.early_stop_perfect,
                                    "started": datetime.now().isoformat(timespec="seconds"), "config": config.to_dict(),
                                    "pid": os.getpid()})
        self.emit(started)
        self._log(f"training {config.objective} from step {self.step + 1} to {config.max_steps}: "
                  f"{len(self.problems)} problems, {config.num_candidates} candidates, run directory {self.run_dir}")
        self.last_checkpoint_time = time.monotonic()
        try:
            reason = self._loop()
        except Exception as exc:  # noqa: BLE001 - every failure must still leave a checkpoint and the model
            return self._fail(exc)
        return self._finish(reason)

    def _loop(self) -> str:
        config = self.config
        if self.step >= config.max_steps:
            self._log(f"already at step {self.step} of {config.max_steps}: nothing to do")
        self.hooks.before_training(self.step, self.engine)
        while self.step < config.max_steps:
            if not self._safe_point(self.step + 1):
                return "stop_requested"
            if not self._run_step(self.step + 1):
                return "stop_requested"
            self.hooks.after_step(self.step, self.engine)
            if self._early_stop_reached():
                self._log(f"early stop: perfect solutions on {len(self.perfect_problems)} problems "
                          f"({', '.join(self.perfect_problems)})")
                return "early_stop"
            periodic = self.step % config.checkpoint_every == 0
            timed = time.monotonic() - self.last_checkpoint_time >= config.checkpoint_minutes * 60
            if self.control.take_save_request() or periodic or timed:
                self._checkpoint("periodic" if periodic else "timed" if timed else "requested")
        return "max_steps"

    def _early_stop_reached(self) -> bool:
        target = self.config.early_stop_perfect
        return target > 0 and len(self.perfect_problems) >= target

    def _safe_point(self, step: int) -> bool:
        """Obey pause, save and stop requests. False when the run must stop."""
        # distributed: rank 0's pause, any rank's stop, on every rank; decided on what the ranks agreed
        paused, stopping = sync_control(self.control, self.ranks)
        if self.control.take_save_request():
            self._checkpoint("requested")
        if paused and not stopping:
            self.emit(ev.Paused(step))
            self.emit(ev.PhaseChanged(step, "paused"))
            self._log(f"paused before step {step}")
            while not wait_while_paused(self.control, self.ranks, timeout=0.1):
                self.runlog.heartbeat()  # paused is alive: watch must not call it stalled
                if self.control.take_save_request():
                    self._checkpoint("requested")
            self.emit(ev.Resumed(step))
            self._log("resumed")
            _, stopping = sync_control(self.control, self.ranks)  # a stop while paused
        return not stopping

    def _run_step(self, step: int) -> bool:
        """One step: draws (rollouts and scoring, refilled by dynamic sampling), update, files. False when
        generation was aborted by a stop: the step is discarded and the cursor stays where it was."""
        run = self._begin_step(step)
        draws = draw_groups(lambda problems, slots: self._roll_out(run, problems, slots), run.problems,
                            self.objective, self.config.problems_per_step, self.config.max_extra_draws, self.ranks)
        if draws is None:
            return False
        self.cursor += len(draws.groups)
        update = self._update(run, draws)
        self._write_step(run, draws, update)
        return True

    def _begin_step(self, step: int) -> StepRun:
        # Every step's randomness derives from (seed, step) alone: a resumed run samples exactly
        # what an uninterrupted one would.
        seed = step_seed(self.config.seed, step)
        torch.manual_seed(seed)
        random.seed(seed)
        self.views.begin_step(step)
        if self.policy.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.policy.device)
        return StepRun(step, SlotProblems(self.problems, self.cursor, self.views))

    def _roll_out(self, run: StepRun, problems: list[Problem], slots: list[int]) -> list[Group] | None:
        """Roll out the problems at these slots of the step: a slot's candidates depend on (seed, step, slot) only."""
        config, step = self.config, run.number
        if not run.announced:
            first = problems[0]
            self.emit(ev.StepStarted(step, first.task.id, first.task.test_input, first.task.test_output,
                                     config.temperatures()))
            run.announced = True
        self.emit(ev.PhaseChanged(step, "generating"))

        def progress(tokens: int, max_tokens: int, rate: float) -> None:
            self.emit(ev.RolloutProgress(step, tokens, max_tokens, rate))

        with run.timer.phase("rollout"):
            rollout = self.engine.generate(
                [p.prompt for p in problems], config.temperatures(), config.max_new_tokens,
                config.top_p, self.control, progress,
                sample_keys=[sampling_key(config.seed, step, slot) for slot in slots])
        run.tokens_generated += rollout.tokens_generated
        if rollout.aborted:
            self._log(f"step {step}: generation stopped by request; the step is discarded")
            return None
        self.emit(ev.PhaseChanged(step, "scoring"))
        with run.timer.phase("scoring"):
            return scored_groups(problems, rollout, self.rewards, lambda group, candidate: self.emit(
                ev.CandidateScored(step, group.problem.task.id, candidate)))

    def _update(self, run: StepRun, draws: Draws) -> dict[str, float | None]:
        if not draws.kept:
            self._log(f"step {run.number}: all {len(draws.groups)} groups drawn had equal rewards, no gradient "
                      "(skipped update)")
            return {}
        self.emit(ev.PhaseChanged(run.number, "updating"))
        # distributed: each rank trains on the kept groups it rolled out; the update sums their gradients
        return policy_update(self.policy, self.optimizer, self.scheduler, self.config, draws.mine, self.ranks,
                             run.timer)

    def _write_step(self, run: StepRun, draws: Draws, update: dict[str, float | None]) -> None:
        step, groups, kept = run.number, draws.groups, draws.kept
        tokens_generated = int(self.ranks.all_reduce_sum([run.tokens_generated])[0])  # distributed: all ranks'
        head = groups[0]
        record = step_record(step, groups, kept, self.config.objective)
        self.emit(ev.PhaseChanged(step, "writing"))
        with run.timer.phase("writing"):
            self.runlog.write_step(record)
        for group in groups:
            if any(c["perfect_match"] for c in group.candidates) and group.problem.task.id not in self.perfect_problems:
                self.perfect_problems.append(group.problem.task.id)
        gpu_peak = (torch.cuda.max_memory_allocated(self.policy.device) / 1024**3
                    if self.policy.device.type == "cuda" else None)
        metrics = step_metrics(step, groups, kept, update, len(self.perfect_problems), tokens_generated,
                               run.timer.as_metrics(), time.perf_counter() - run.started,
                               self.scheduler.get_last_lr()[0], gpu_peak, record["timestamp"]) \
            | self.warm_up.step_metrics(self._log)
        self.runlog.append_metrics(metrics)
        self.runlog.heartbeat(force=True)
        self.history.append(metrics)
        self.step = step
        self._log(step_summary(metrics, groups, kept))
        self.emit(ev.StepFinished(step, head.problem.task.id, metrics, record))

    def _checkpoint(self, reason: str) -> Path | None:
        if not self.ranks.is_main:  # distributed: rank 0 owns the run directory; every rank holds the same weights
            self.last_checkpoint_step, self.last_checkpoint_time = self.step, time.monotonic()
            return None
        self.emit(ev.PhaseChanged(self.step, "checkpointing"))
        state = TrainerState(self.step, self.cursor, list(self.perfect_problems), list(self.history),
                             self.config.to_dict())
        path = save_checkpoint(self.runlog.checkpoints, self.policy, self.optimizer, self.scheduler, state)
        self.last_checkpoint_step, self.last_checkpoint = self.step, path
        self.last_checkpoint_time = time.monotonic()
        self._log(f"checkpoint saved ({reason}): {path}")
        self.emit(ev.CheckpointSaved(self.step, str(path), reason))
        return path

    def _save_final_model(self) -> Path:
        target = self.runlog.final_model
        if not self.ranks.is_main:  # distributed: rank 0 saves it
            return target
        save_final_model(target, self.policy)
        self._log(f"final model saved: {target}")
        return target

    def _finish(self, reason: str) -> ev.Stopped:
        if reason != "stop_requested":
            self.hooks.at_end(self.step, self.engine)
        if self.last_checkpoint_step != self.step:
            self._checkpoint("final")
        final_model = self._save_final_model()
        self._log(f"stopped ({stop_words(reason)}) after step {self.step}")
        self.runlog.record_stop(reason, self.step)
        stopped = ev.Stopped(self.step, reason, str(self.last_checkpoint), str(final_model), list(self.perfect_problems))
        self.emit(stopped)
        return stopped

    def _fail(self, exc: Exception) -> ev.Stopped:
        """A step raised: log it, keep what the last completed step earned (its checkpoint and the model),
        and report reason "error". Nothing here may raise again (a full disk fails the log too)."""
        error = f"step {self.step + 1} failed: {one_line(exc)}"
        self._log_safely(error)
        for line in traceback_lines(exc):
            self._log_safely(line, to_sink=False)
        if is_out_of_memory(exc):
            self._log_safely(OOM_HINT)
            if self.policy.device.type == "cuda":
                torch.cuda.empty_cache()
        # The checkpoint carries the last completed step's number, cursor and history. A failure after
        # the failed step's optimizer.step would leave its update in the saved weights; before it (rollout,
        # scoring, the forward and backward passes: where OOM strikes) the weights are the completed step's.
        final_model = None
        try:
            if self.last_checkpoint_step != self.step:
                self._checkpoint("error")
            final_model = str(self._save_final_model())
        except Exception as save_exc:  # noqa: BLE001 - the original error is what the user must see
            self._log_safely(f"could not save after the failure: {one_line(save_exc)}")
        self._log_safely(f"stopped (error) after step {self.step}")
        with contextlib.suppress(OSError):  # a full disk: the log line above is the record then
            self.runlog.record_stop("error", self.step, error=error)
        stopped = ev.Stopped(self.step, "error", str(self.last_checkpoint) if self.last_checkpoint else None,
                             final_model, list(self.perfect_problems), error=error)
        self.emit(stopped)
        return stopped

    def _log_safely(self, text: str, to_sink: bool = True) -> None:
        try:
            line = self.runlog.log(text, "error")
        except OSError:
            line = text
        if to_sink:
            self.emit(ev.LogLine(line, "error"))

    def _log(self, text: str, level: str = "info") -> None:
        line = self.runlog.log(text, level)
        self.emit(ev.LogLine(line, level))
