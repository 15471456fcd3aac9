"""transformers' generate as a rollout engine: K candidates per prompt in ONE batched generate call,
each row at its own temperature (rollout_engine.RolloutEngine calls it where the static engine does not run)."""

from __future__ import annotations

import functools
import inspect
import time
import warnings
from collections.abc import Callable

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList, TopPLogitsWarper

from arc_console.decoding.samples import DecodingPolicy, ProgressCallback, Rollout, Sample, StopSignal, to_samples


class PerRowTemperature(LogitsProcessor):
    """Divide each row's logits by that row's temperature (generate's own warper takes one value)."""

    def __init__(self, temperatures: torch.Tensor) -> None:
        self.temperatures = temperatures.view(-1, 1)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return scores / self.temperatures.to(scores.dtype)


class WatchControl(StoppingCriteria):
    """Aborts generation when a stop is requested and reports progress, between tokens."""

    def __init__(self, control: StopSignal | None, prompt_length: int, max_new_tokens: int, batch: int,
                 on_progress: ProgressCallback | None, every_s: float = 0.25) -> None:
        self.control = control
        self.prompt_length = prompt_length
        self.max_new_tokens = max_new_tokens
        self.batch = batch
        self.on_progress = on_progress
        self.every_s = every_s
        self.started = time.perf_counter()
        self.last_report = 0.0
        self.aborted = False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object) -> torch.BoolTensor:
        now = time.perf_counter()
        if self.on_progress is not None and now - self.last_report >= self.every_s:
            self.last_report = now
            tokens = input_ids.shape[1] - self.prompt_length
            self.on_progress(tokens, self.max_new_tokens, tokens * self.batch / max(now - self.started, 1e-9))
        self.aborted = self.control is not None and self.control.stop_requested
        return torch.full((input_ids.shape[0],), self.aborted, dtype=torch.bool, device=input_ids.device)


def _prefill_shared_prompt(policy: DecodingPolicy, prompt: torch.Tensor, copies: int) -> dict[str, object]:
    """Run the prompt once and hand generate a KV cache copied to every candidate row.

    All K rows share the prompt, so K prefills would compute the same keys and values K times;
    on the CPU the prefill of a long ARC prompt dominates a short rollout, and on the GPU the K
    copies of eager attention's [heads, L, L] scores set the memory peak of a step.
    """
    from transformers import DynamicCache

    causal_lm = policy.base_causal_lm()
    cache = DynamicCache(config=causal_lm.config)
    name = cache_argument(type(causal_lm))
    # Only the cache is wanted: the head runs on the last position alone, not over the whole prompt.
    policy.model(input_ids=prompt[:, :-1], use_cache=True, logits_to_keep=1, **{name: cache})
    cache.batch_repeat_interleave(copies)
    return {name: cache}


def length_set_by_call_only(policy: DecodingPolicy) -> None:
    """Every call gives max_new_tokens, so the model's own max_length (Unsloth sets it to the context
    length) only makes generate warn "Both `max_new_tokens` and `max_length` seem to have been set"."""
    config = getattr(policy.base_causal_lm(), "generation_config", None)
    if config is not None and config.max_length is not None:
        config.max_length = None


@functools.cache
def cache_argument(model_class: type) -> str:
    """transformers renamed `past_key_values` to `cache` after 5.17; the GPU image has 5.17."""
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


def generate_with_transformers(
    policy: DecodingPolicy,
    prompts: list[str],
    temperatures: list[float],
    max_new_tokens: int,
    top_p: float = 1.0,
    control: StopSignal | None = None,
    on_progress: ProgressCallback | None = None,
    share_prefill: bool = True,
    sample_keys: list[int] | None = None,
) -> Rollout:
    """len(temperatures) candidates for every prompt, all rows in one generate call (see RolloutEngine.generate
    for sample_keys: with them each prompt runs on its own, torch seeded with its key)."""
    if sample_keys is not None:
        return _generate_keyed(policy, prompts, temperatures, max_new_tokens, top_p, control, on_progress,
                               share_prefill, sample_keys)
    tokenizer = policy.tokenizer
    prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    k = len(temperatures)
    rows = [ids for ids in prompt_ids for _ in range(k)]
    width = max(len(ids) for ids in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in rows], device=policy.device)
    attention_mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in rows], device=policy.device)
    row_temperatures = torch.tensor(temperatures * len(prompts), dtype=torch.float32, device=policy.device)

    processors = LogitsProcessorList([PerRowTemperature(row_temperatures)])
    if top_p < 1.0:
        processors.append(TopPLogitsWarper(top_p))  # after the temperature, as samplers apply them
    watch = WatchControl(control, width, max_new_tokens, len(rows), on_progress)
    policy.for_inference()
    length_set_by_call_only(policy)
    started = time.perf_counter()
    generate_args = dict(
        input_ids=input_ids,
        attention_mask=attention_mask,
        do_sample=True,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        max_new_tokens=max_new_tokens,
        logits_processor=processors,
        stopping_criteria=StoppingCriteriaList([watch]),
        eos_token_id=policy.stop_token_ids,
        pad_token_id=pad,
        use_cache=True,
    )
    with torch.no_grad():
        output = None
        if len(prompts) == 1 and share_prefill and policy.share_prefill:
            try:
                # A cache handed in replaces whatever cache kind the model's generation config names.
                output = policy.model.generate(**generate_args, **_prefill_shared_prompt(policy, input_ids[:1], k),
                                               cache_implementation=None)
            except (ValueError, TypeError, NotImplementedError) as exc:
                policy.share_prefill = False  # this backend's generate wants its own cache: stop trying
                warnings.warn(f"shared-prompt prefill unavailable on {policy.backend}: {exc}", stacklevel=2)
        if output is None:
            output = policy.model.generate(**generate_args)
    seconds = time.perf_counter() - started
    sequences = output if isinstance(output, torch.Tensor) else output.sequences
    completions = sequences[:, width:].clone().tolist()  # clone: unsloth generates under inference mode
    return Rollout(prompt_ids, to_samples(policy, completions, temperatures, max_new_tokens), seconds, watch.aborted)


def _generate_keyed(policy: DecodingPolicy, prompts: list[str], temperatures: list[float], max_new_tokens: int, top_p: float,
                    control: StopSignal | None, on_progress: ProgressCallback | None, share_prefill: bool,
                    sample_keys: list[int]) -> Rollout:
    if len(sample_keys) != len(prompts):
        raise ValueError(f"{len(sample_keys)} sample keys for {len(prompts)} prompts")
    prompt_ids: list[list[int]] = []
    samples: list[Sample] = []
    seconds = 0.0
    with torch.random.fork_rng(devices=[policy.device] if policy.device.type == "cuda" else []):
        for index, (prompt, key) in enumerate(zip(prompts, sample_keys)):
            torch.manual_seed(key)
            part = generate_with_transformers(policy, [prompt], temperatures, max_new_tokens, top_p, control,
                                              on_progress, share_prefill)
            prompt_ids += part.prompt_ids
            for sample in part.samples:
                sample.group = index
            samples += part.samples
            seconds += part.seconds
            if part.aborted:
                return Rollout(prompt_ids, samples, seconds, True)
    return Rollout(prompt_ids, samples, seconds, False)

