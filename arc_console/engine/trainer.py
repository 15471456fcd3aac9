"""The training loop: pick problems, roll out K candidates, score, update, log, checkpoint, stop.

It talks to the world only through events (events.py) and obeys a RunControl at safe points.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from arc_console.arc import Task, TaskError, build_prompt, load_tasks, parse_response, score_grid, select_tasks
from arc_console.atomic import staged_folder
from arc_console.config import TrainConfig
from arc_console.engine import events as ev
from arc_console.engine.backends import BackendError, load_policy
from arc_console.engine.checkpoint import TrainerState, find_checkpoint, restore_checkpoint, save_checkpoint
from arc_console.engine.control import RunControl
from arc_console.engine.logprobs import build_batch, completion_logprobs
from arc_console.engine.objectives import dapo_loss, grpo_loss, group_advantages, informative_groups, preference_loss
from arc_console.engine.rewards import RewardWeights, grid_reward, overlong_penalty
from arc_console.engine.rollout import Rollout, Sample, generate_candidates
from arc_console.engine.static_rollout import StaticRolloutEngine
from arc_console.engine.runlog import RunLog


@dataclass
class Problem:
    task: Task
    prompt: str
    examples_used: int


@dataclass
class Group:
    """One problem's K candidates, scored."""

    problem: Problem
    prompt_ids: list[int]
    samples: list[Sample]
    candidates: list[dict[str, Any]] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)

    @property
    def accuracies(self) -> list[float]:
        return [c["accuracy"] for c in self.candidates]

    def record(self, step: int) -> dict[str, Any]:
        """The seed's step schema (plus per-candidate extras and the test input)."""
        best = max(range(len(self.candidates)), key=lambda i: self.candidates[i]["accuracy"])
        return {
            "step": step,
            "problem_id": self.problem.task.id,
            "prompt": self.problem.prompt,
            "target_grid": self.problem.task.test_output,
            "candidates": self.candidates,
            "best_candidate_id": self.candidates[best]["candidate_id"],
            "best_accuracy": self.candidates[best]["accuracy"],
            "timestamp": datetime.now().isoformat(timespec="seconds"),
            "test_input": self.problem.task.test_input,
        }


class Trainer:
    def __init__(self, config: TrainConfig, run_dir: Path, emit: ev.EventSink, control: RunControl | None = None,
                 resume_from: Path | None = None) -> None:
        self.config = config
        self.run_dir = run_dir
        self.emit = emit
        self.control = control or RunControl()
        self.resume_from = resume_from
        self.weights = RewardWeights(config.reward_size_bonus, config.reward_perfect_bonus, config.reward_no_grid_penalty)
        self.runlog = RunLog(run_dir)
        self.step = 0  # last completed step
        self.cursor = 0
        self.perfect_problems: list[str] = []
        self.history: list[dict[str, Any]] = []
        self.last_checkpoint_step: int | None = None
        self.last_checkpoint: Path | None = None

    # ---------------------------------------------------------------- setup

    def setup(self) -> None:
        """Load tasks, model, optimizer and, when resuming, the checkpoint. Raises clear errors."""
        config = self.config
        for leftover in self.runlog.removed_leftovers:
            self._log(f"removed {leftover}, left half-written by an earlier process", "warning")
        checkpoint = find_checkpoint(self.resume_from) if self.resume_from else None
        tasks = load_tasks(config.tasks)
        if config.problems:
            tasks = select_tasks(tasks, config.problems)
        self._log(f"loading model {config.model} on backend {config.backend}")
        started = time.perf_counter()
        self.policy = load_policy(config.model, config.backend, config.lora_r, config.lora_alpha,
                                  config.max_seq_length, config.load_in_4bit, config.seed)
        trainable = sum(p.numel() for p in self.policy.trainable_parameters().values())
        self._log(f"model ready in {time.perf_counter() - started:.1f}s on {self.device_name()}: "
                  f"{trainable:,} trainable parameters ({'LoRA r=%d' % config.lora_r if config.lora_r else 'all weights'})")
        self._choose_rollout_engine()
        self.problems = self._fit_prompts(tasks)
        self.optimizer = torch.optim.AdamW(self.policy.trainable_parameters().values(), lr=config.learning_rate,
                                           weight_decay=config.weight_decay)
        warmup = config.warmup_steps
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda updates: min(1.0, (updates + 1) / (warmup + 1)) if warmup else 1.0)
        if checkpoint is not None:
            state = restore_checkpoint(checkpoint, self.policy, self.optimizer, self.scheduler)
            self.step, self.cursor = state.step, state.problem_cursor
            self.perfect_problems, self.history = state.perfect_problems, state.history
            self.last_checkpoint_step, self.last_checkpoint = state.step, checkpoint
            removed = self.runlog.rewind_to(state.step)
            self._log(f"resumed from {checkpoint} at step {state.step}"
                      + (f"; step files {removed[0]}..{removed[-1]} will be rewritten" if removed else ""))

    def _choose_rollout_engine(self) -> None:
        config, policy = self.config, self.policy
        gpt_oss = getattr(policy.base_causal_lm().config, "model_type", None) == "gpt_oss"
        engine = config.rollout_engine if config.rollout_engine != "auto" else ("static" if gpt_oss else "generate")
        if engine == "static" and not gpt_oss:
            raise BackendError("rollout_engine static runs GPT-OSS models only; use --rollout-engine generate")
        policy.rollout_engine = engine
        if engine == "static":
            policy.static_engine = StaticRolloutEngine(policy, experts_format=config.rollout_experts,
                                                       on_notice=lambda message: self._log(message, "warning"))
            static = policy.static_engine
            self._log(f"rollouts: {static.describe()}, holding {static.memory_bytes() / 1024**3:.1f} GB beyond the model"
                      + (" (--rollout-experts packed holds less, decodes slower)" if static.experts_format == "fp8" else ""))
        else:
            self._log("rollouts: transformers' generate")

    def _fit_prompts(self, tasks: list[Task]) -> list[Problem]:
        """Each task's prompt within max_seq_length - max_new_tokens tokens, dropping train examples if needed."""
        budget = self.config.max_seq_length - self.config.max_new_tokens
        problems = []
        for task in tasks:
            for used in range(len(task.train), 0, -1):
                prompt = build_prompt(task.train[:used], task.test_input)
                if len(self.policy.tokenizer(prompt, add_special_tokens=False)["input_ids"]) <= budget:
                    problems.append(Problem(task, prompt, used))
                    if used < len(task.train):
                        self._log(f"problem {task.id}: kept {used} of {len(task.train)} examples to fit "
                                  f"{budget} prompt tokens", "warning")
                    break
            else:
                self._log(f"problem {task.id}: skipped, one example does not fit {budget} prompt tokens", "warning")
        if not problems:
            raise TaskError(f"no problem fits max_seq_length {self.config.max_seq_length} with "
                            f"max_new_tokens {self.config.max_new_tokens}")
        return problems

    def device_name(self) -> str:
        device = self.policy.device
        if device.type == "cuda":
            return f"cuda:{device.index or 0} ({torch.cuda.get_device_name(device)})"
        return "cpu"

    # ---------------------------------------------------------------- the loop

    def run(self) -> ev.Stopped:
        """Train until max_steps, early stop, or a stop request. Always leaves a resumable checkpoint."""
        config = self.config
        started = ev.RunStarted(
            run_dir=str(self.run_dir), model=config.model, backend=self.policy.backend, device=self.device_name(),
            objective=config.objective, start_step=self.step + 1, max_steps=config.max_steps,
            num_candidates=config.num_candidates, problems=[p.task.id for p in self.problems],
            resumed_from=str(self.last_checkpoint) if self.last_checkpoint else None,
        )
        self.runlog.write_run_info({**started.__dict__, "early_stop_perfect": config.early_stop_perfect,
                                    "started": datetime.now().isoformat(timespec="seconds"), "config": config.to_dict()})
        self.emit(started)
        self._log(f"training {config.objective} from step {self.step + 1} to {config.max_steps}: "
                  f"{len(self.problems)} problems, {config.num_candidates} candidates, run directory {self.run_dir}")
        reason = "max_steps"
        if self.step >= config.max_steps:
            self._log(f"already at step {self.step} of {config.max_steps}: nothing to do")
        while self.step < config.max_steps:
            if not self._safe_point(self.step + 1):
                reason = "stop_requested"
                break
            if not self._run_step(self.step + 1):
                reason = "stop_requested"
                break
            if self._early_stop_reached():
                reason = "early_stop"
                self._log(f"early stop: perfect solutions on {len(self.perfect_problems)} problems "
                          f"({', '.join(self.perfect_problems)})")
                break
            periodic = self.step % config.checkpoint_every == 0
            if self.control.take_save_request() or periodic:
                self._checkpoint("periodic" if periodic else "requested")
        return self._finish(reason)

    def _early_stop_reached(self) -> bool:
        target = self.config.early_stop_perfect
        return target > 0 and len(self.perfect_problems) >= target

    def _safe_point(self, step: int) -> bool:
        """Obey pause, save and stop requests. False when the run must stop."""
        if self.control.take_save_request():
            self._checkpoint("requested")
        if self.control.pause_requested and not self.control.stop_requested:
            self.emit(ev.Paused(step))
            self.emit(ev.PhaseChanged(step, "paused"))
            self._log(f"paused before step {step}")
            while not self.control.wait_while_paused(timeout=0.1):
                if self.control.take_save_request():
                    self._checkpoint("requested")
            self.emit(ev.Resumed(step))
            self._log("resumed")
        return not self.control.stop_requested

    def _seed_step(self, step: int) -> None:
        # Every step's randomness derives from (seed, step) alone: a resumed run samples exactly
        # what an uninterrupted one would.
        step_seed = (self.config.seed * 1_000_003 + step) % (2**63)
        torch.manual_seed(step_seed)
        random.seed(step_seed)

    def _next_problem(self) -> Problem:
        problem = self.problems[self.cursor % len(self.problems)]
        self.cursor += 1
        return problem

    def _run_step(self, step: int) -> bool:
        """One step: rollout, scoring, update, files. False when generation was aborted by a stop."""
        config = self.config
        started = time.perf_counter()
        self._seed_step(step)
        if self.policy.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.policy.device)
        cursor_before = self.cursor
        first = [self._next_problem() for _ in range(config.problems_per_step)]
        self.emit(ev.StepStarted(step, first[0].task.id, first[0].task.test_input, first[0].task.test_output,
                                 config.temperatures()))
        groups, generate_seconds, tokens = self._rollout(step, first)
        if groups is None:
            self.cursor = cursor_before
            return False
        kept = self._informative(groups)
        extra_draws = 0
        while (config.objective == "dapo" and config.problems_per_step > 1 and len(kept) < config.problems_per_step
               and extra_draws < config.max_extra_draws):
            wanted = min(config.problems_per_step - len(kept), config.max_extra_draws - extra_draws)
            extra_draws += wanted
            more, seconds, more_tokens = self._rollout(step, [self._next_problem() for _ in range(wanted)])
            if more is None:
                self.cursor = cursor_before
                return False
            groups += more
            generate_seconds += seconds
            tokens += more_tokens
            kept = self._informative(groups)
        if config.objective == "dapo":
            kept = kept[: config.problems_per_step]
        update = self._update(step, kept) if kept else {}
        if not kept:
            self._log(f"step {step}: all rewards equal, no gradient (skipped update)")
        self._write_step(step, groups, kept, update, started, generate_seconds, tokens)
        return True

    def _informative(self, groups: list[Group]) -> list[Group]:
        """Groups that carry a gradient. DAPO's dynamic sampling drops all-equal groups; GRPO keeps
        every group (they add zero advantage but still count in its mean); the seed's rule needs a
        best and a worst that differ."""
        if self.config.objective == "grpo":
            return list(groups)
        if not groups:
            return []
        rewards = torch.tensor([g.rewards for g in groups])
        accuracies = torch.tensor([g.accuracies for g in groups])
        useful = informative_groups(rewards if self.config.objective == "dapo" else accuracies)
        return [g for g, keep in zip(groups, useful.tolist()) if keep]

    def _rollout(self, step: int, problems: list[Problem]) -> tuple[list[Group] | None, float, int]:
        config = self.config
        self.emit(ev.PhaseChanged(step, "generating"))

        def progress(tokens: int, max_tokens: int, rate: float) -> None:
            self.emit(ev.RolloutProgress(step, tokens, max_tokens, rate))

        rollout: Rollout = generate_candidates(
            self.policy, [p.prompt for p in problems], config.temperatures(), config.max_new_tokens,
            config.top_p, self.control, progress)
        if rollout.aborted:
            self._log(f"step {step}: generation stopped by request; the step is discarded")
            return None, rollout.seconds, rollout.tokens_generated
        self.emit(ev.PhaseChanged(step, "scoring"))
        k = config.num_candidates
        groups = []
        for index, problem in enumerate(problems):
            group = Group(problem, rollout.prompt_ids[index], rollout.samples[index * k : (index + 1) * k])
            self._score(step, group)
            groups.append(group)
        return groups, rollout.seconds, rollout.tokens_generated

    def _score(self, step: int, group: Group) -> None:
        target = group.problem.task.test_output
        for number, sample in enumerate(group.samples, start=1):
            predicted = parse_response(sample.text)
            score = score_grid(predicted, target)
            reward = grid_reward(score, self.weights) + overlong_penalty(
                sample.num_tokens, self.config.max_new_tokens, self.config.overlong_buffer)
            candidate = {
                "candidate_id": number,
                "response_text": sample.text,
                "predicted_grid": predicted,
                "accuracy": score.accuracy,
                "has_grid": score.has_grid,
                "correct_size": score.correct_size,
                "perfect_match": score.perfect_match,
                "temperature": sample.temperature,
                "reward": round(reward, 6),
                "tokens": sample.num_tokens,
                "truncated": sample.truncated,
            }
            group.candidates.append(candidate)
            group.rewards.append(reward)
            self.emit(ev.CandidateScored(step, group.problem.task.id, candidate))

    def _update(self, step: int, groups: list[Group]) -> dict[str, float]:
        config = self.config
        self.emit(ev.PhaseChanged(step, "updating"))
        k = config.num_candidates
        samples = [s for g in groups for s in g.samples]
        batch = build_batch([g.prompt_ids for g in groups for _ in g.samples], [s.completion_ids for s in samples],
                            [s.temperature for s in samples], self.policy.tokenizer.pad_token_id, self.policy.device)
        rewards = torch.tensor([g.rewards for g in groups], dtype=torch.float32, device=self.policy.device)
        advantages = group_advantages(rewards).flatten()
        accuracies = torch.tensor([a for g in groups for a in g.accuracies], device=self.policy.device)
        params = list(self.policy.trainable_parameters().values())
        self.policy.for_training()
        old_logp = None
        if config.updates_per_rollout > 1 and config.objective != "preference":
            old_logp, _ = completion_logprobs(self.policy, batch, config.logprob_chunk_tokens, with_grad=False)
        stats: dict[str, float] = {}
        for update in range(config.updates_per_rollout):
            logp, entropy = completion_logprobs(self.policy, batch, config.logprob_chunk_tokens, with_grad=True)
            reference = old_logp if old_logp is not None else logp.detach()
            if config.objective == "dapo":
                loss, loss_stats = dapo_loss(logp, reference, advantages, batch.completion_mask, config.eps_low, config.eps_high)
            elif config.objective == "grpo":
                loss, loss_stats = grpo_loss(logp, reference, advantages, batch.completion_mask, config.grpo_eps)
            else:
                loss, loss_stats = preference_loss(logp, batch.completion_mask, accuracies, k)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            self.optimizer.step()
            if update == 0:
                mask = batch.completion_mask
                stats = {"entropy": float((entropy * mask).sum() / mask.sum().clamp(min=1))}
            stats.update(loss=loss_stats.loss, grad_norm=float(grad_norm), clip_fraction=loss_stats.clip_fraction,
                         clip_low_fraction=loss_stats.clip_low_fraction, clip_high_fraction=loss_stats.clip_high_fraction)
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return stats

    def _write_step(self, step: int, groups: list[Group], kept: list[Group], update: dict[str, float],
                    started: float, generate_seconds: float, tokens: int) -> None:
        head = groups[0]
        record = head.record(step)
        record["objective"] = self.config.objective
        record["skipped"] = head not in kept
        if len(groups) > 1:
            record["extra_groups"] = [dict(g.record(step), skipped=g not in kept) for g in groups[1:]]
        self.emit(ev.PhaseChanged(step, "writing"))
        self.runlog.write_step(record)
        for group in groups:
            if any(c["perfect_match"] for c in group.candidates) and group.problem.task.id not in self.perfect_problems:
                self.perfect_problems.append(group.problem.task.id)
        accuracies = head.accuracies
        rewards = torch.tensor([r for g in groups for r in g.rewards])
        metrics = {
            "step": step,
            "problem_id": head.problem.task.id,
            "best_accuracy": max(accuracies),
            "mean_accuracy": sum(accuracies) / len(accuracies),
            "worst_accuracy": min(accuracies),
            "reward_mean": float(rewards.mean()),
            "reward_std": float(rewards.std(unbiased=False)),
            "perfect": any(c["perfect_match"] for c in head.candidates),
            "perfect_problems": len(self.perfect_problems),
            "grids": sum(c["has_grid"] for c in head.candidates),
            "loss": update.get("loss"),
            "grad_norm": update.get("grad_norm"),
            "clip_fraction": update.get("clip_fraction"),
            "clip_low_fraction": update.get("clip_low_fraction"),
            "clip_high_fraction": update.get("clip_high_fraction"),
            "entropy": update.get("entropy"),
            "skipped_groups": len(groups) - len(kept),
            "groups": len(groups),
            "tokens_generated": tokens,
            "tokens_per_s": tokens / generate_seconds if generate_seconds > 0 else 0.0,
            "generate_s": generate_seconds,
            "step_time_s": time.perf_counter() - started,
            "lr": self.scheduler.get_last_lr()[0],
            "gpu_peak_gb": (torch.cuda.max_memory_allocated(self.policy.device) / 1024**3
                            if self.policy.device.type == "cuda" else None),
            "timestamp": record["timestamp"],
        }
        self.runlog.append_metrics(metrics)
        self.history.append(metrics)
        self.step = step
        loss_text = (f"loss {metrics['loss']:.4f} grad norm {metrics['grad_norm']:.2f}" if metrics["loss"] is not None
                     else "no update")
        self._log(f"step {step} problem {head.problem.task.id} best {metrics['best_accuracy']:.2f} "
                  f"mean {metrics['mean_accuracy']:.2f} reward {metrics['reward_mean']:+.3f} {loss_text} "
                  f"grids {metrics['grids']}/{len(accuracies)} {metrics['tokens_per_s']:.0f} tok/s "
                  f"{metrics['step_time_s']:.1f}s")
        self.emit(ev.StepFinished(step, head.problem.task.id, metrics, record))

    # ---------------------------------------------------------------- saving and ending

    def _checkpoint(self, reason: str) -> Path:
        self.emit(ev.PhaseChanged(self.step, "checkpointing"))
        state = TrainerState(self.step, self.cursor, list(self.perfect_problems), list(self.history),
                             self.config.to_dict())
        path = save_checkpoint(self.runlog.checkpoints, self.policy, self.optimizer, self.scheduler, state)
        self.last_checkpoint_step, self.last_checkpoint = self.step, path
        self._log(f"checkpoint saved ({reason}): {path}")
        self.emit(ev.CheckpointSaved(self.step, str(path), reason))
        return path

    def _save_final_model(self) -> Path:
        target = self.runlog.final_model
        with staged_folder(target) as staging:
            self.policy.model.save_pretrained(staging)
            self.policy.tokenizer.save_pretrained(staging)
        self._log(f"final model saved: {target}")
        return target

    def _finish(self, reason: str) -> ev.Stopped:
        if self.last_checkpoint_step != self.step:
            self._checkpoint("final")
        final_model = self._save_final_model()
        self._log(f"stopped ({reason}) after step {self.step}")
        stopped = ev.Stopped(self.step, reason, str(self.last_checkpoint), str(final_model), list(self.perfect_problems))
        self.emit(stopped)
        return stopped

    def _log(self, text: str, level: str = "info") -> None:
        line = self.runlog.log(text, level)
        self.emit(ev.LogLine(line, level))
