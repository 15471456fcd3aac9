"""The fast rollout engine: shared-prompt prefill, then decode steps replayed as one CUDA graph each.

Same contract as rollout_engine.RolloutEngine.generate (K candidates per prompt, per-row temperature, top-p,
stop tokens, abortable, progress reports) and it also returns each sampled token's log-probability.
On a CPU it runs the same code without graphs, which is how the tests check it against transformers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from arc_console.decoding.decoder_ops import EAGER_OPS, DecodeOps
from arc_console.decoding.decoder_weights import DecoderWeights, extract_weights
from arc_console.decoding.device_sampling import sample_rows, sampling_key
from arc_console.decoding.fp8_experts import scaled_grouped_mm_available
from arc_console.decoding.samples import DecodingPolicy, ProgressCallback, Rollout, StopSignal, to_samples
from arc_console.decoding.static_decoder import PREFILL_CHUNK_TOKENS, StaticDecoder, fused_expert_matmul

LENGTH_BUCKET = 256  # caches grow in these steps, so a slightly longer prompt rarely means a new graph
MAX_ROTARY_POSITIONS = 32768
FP8_HEADROOM_BYTES = 12 * 1024**3  # what a rollout and a DAPO update need beyond the loaded 20B (measured 7 GB)
HOST_CHECK_EVERY = 16  # decode steps between looks at finished rows, a stop request and progress


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


@dataclass
class _DecodeState:
    """Everything one captured decode step reads and writes, at fixed addresses."""

    decoder: StaticDecoder
    tokens: torch.Tensor  # [B] the last sampled token of each row
    slot: torch.Tensor  # [1] the cache slot the next token goes to
    step: torch.Tensor  # [1] the index of the next token in the output buffers
    finished: torch.Tensor  # [B] the row has sampled a stop token
    temperatures: torch.Tensor  # [B]
    row_keys: torch.Tensor  # [B] int64: each row's sampling key (device_sampling.counter_uniform)
    out_tokens: torch.Tensor  # [B, max_len]
    out_logprobs: torch.Tensor  # [B, max_len]
    stop_ids: torch.Tensor
    pad_id: int
    top_p: float
    graph: torch.cuda.CUDAGraph | None = None

    def step_once(self) -> None:
        logits = self.decoder.decode(self.tokens, self.slot)
        self._record(*sample_rows(logits, self.temperatures, self.top_p, self.row_keys, self.step))
        self.slot += 1

    def _record(self, tokens: torch.Tensor, logprobs: torch.Tensor) -> None:
        tokens = tokens.masked_fill(self.finished, self.pad_id)
        self.out_tokens.index_copy_(1, self.step, tokens[:, None])
        self.out_logprobs.index_copy_(1, self.step, logprobs[:, None])
        self.finished |= (tokens[:, None] == self.stop_ids[None, :]).any(dim=-1)
        self.tokens.copy_(tokens)
        self.step += 1


def auto_experts_format(causal_lm: Any) -> str:
    """fp8 copies where the scaled grouped GEMM runs and the GPU has room for them beside a training
    step (an H200 with the 20B: 19 GB of copies, 127 GB free), else the experts as the model holds them."""
    device = causal_lm.model.embed_tokens.weight.device
    if not scaled_grouped_mm_available(device):
        return "packed"
    config = causal_lm.config
    per_layer = config.num_local_experts * 3 * config.hidden_size * config.intermediate_size  # gate, up, down
    fp8_bytes = config.num_hidden_layers * per_layer  # one byte a weight
    free, _ = torch.cuda.mem_get_info(device)
    return "fp8" if free >= fp8_bytes + FP8_HEADROOM_BYTES else "packed"


class StaticRolloutEngine:
    """Owns the decoder's weights view, one KV cache per batch size, and the captured decode graphs."""

    def __init__(self, policy: DecodingPolicy, use_graphs: bool | None = None, grouped_experts: bool | None = None,
                 experts_format: str = "auto", fused_experts: bool = True, compiled_ops: bool | None = None,
                 merge_lora: bool = True, on_notice: Callable[[str], None] | None = None,
                 prefill_chunk: int = PREFILL_CHUNK_TOKENS, rows: int = 0, cache_tokens: int = 0) -> None:
        on_gpu = policy.device.type == "cuda"
        self.policy = policy
        self.on_notice = on_notice  # told when the engine gives up grouped experts or CUDA graphs
        self.use_graphs = on_gpu if use_graphs is None else use_graphs
        self.grouped_experts = on_gpu if grouped_experts is None else grouped_experts
        self.experts_format = experts_format  # auto | packed | bf16 | fp8: see extract_weights and auto_experts_format
        self.fused_experts = fused_experts  # grouped decode reads 4-bit or fp8 experts with a fused kernel, where one exists
        # The decode step's elementwise chains fused by torch.compile (GPU default; see decoder_ops).
        self.compiled_ops = on_gpu if compiled_ops is None else compiled_ops
        # A frozen base's adapters folded into the attention weights, re-folded before each rollout
        # (no adapter kernels in a decode step); else run beside the base, as the trainer runs them.
        self.merge_lora = merge_lora
        self.prefill_chunk = prefill_chunk  # a prompt's attention runs this many queries at a time
        # The largest rollout the caller will ask for (rows = prompts x candidates, prompt + new tokens): the
        # one decode state is built that big at once, so no later rollout meets a new shape (which would
        # recompile the compiled ops and recapture the graph). 0: sized by the rollouts as they come.
        self.rows, self.cache_tokens = rows, cache_tokens
        self._ops: DecodeOps | None = None
        self._weights: DecoderWeights | None = None
        self._decode_state: _DecodeState | None = None

    def settings(self) -> dict[str, Any]:
        """The constructor's arguments as this engine runs now (what it gave up stays given up)."""
        return dict(use_graphs=self.use_graphs, grouped_experts=self.grouped_experts, experts_format=self.experts_format,
                    fused_experts=self.fused_experts, compiled_ops=self.compiled_ops, merge_lora=self.merge_lora,
                    on_notice=self.on_notice, prefill_chunk=self.prefill_chunk, rows=self.rows,
                    cache_tokens=self.cache_tokens)

    @property
    def weights(self) -> DecoderWeights:
        if self._weights is None:
            causal_lm = self.policy.base_causal_lm()
            positions = min(int(getattr(causal_lm.config, "max_position_embeddings", 4096)), MAX_ROTARY_POSITIONS)
            if self.experts_format == "auto":
                self.experts_format = auto_experts_format(causal_lm)
            self._weights = extract_weights(causal_lm, positions, self.experts_format, self.merge_lora)
        return self._weights

    def describe(self) -> str:
        dtype = str(self.weights.dtype).removeprefix("torch.")
        experts = {"packed": "packed 4-bit experts", "fp8": "fp8 expert copies"}.get(self.weights.experts_format,
                                                                                   f"{dtype} experts")
        kernel = self._fused_kernel() if self.weights.compact_experts and self.grouped_experts else None
        if kernel is not None:
            experts += f" read by {getattr(kernel, 'kernel_name', 'the scaled fp8 grouped GEMM')}"
        lora = ", LoRA folded into the weights" if self.weights.merged_lora else ""
        return (f"static engine ({'CUDA graphs' if self.use_graphs else 'eager'}, "
                f"{'compiled' if self.compiled_ops else 'plain'} ops, "
                f"{'grouped' if self.grouped_experts else 'dense'} MoE, {experts}{lora})")

    def _fused_kernel(self) -> Any:
        """The kernel that reads the first layer's compact experts, or None where none serves."""
        return fused_expert_matmul(self.weights.layers[0].gate_up, self.weights.dtype) if self.fused_experts else None

    def has_decode_state(self) -> bool:
        """Whether the decode state (the KV cache and decode batch) exists yet: it is built at the first rollout."""
        return self._decode_state is not None

    def memory_bytes(self) -> int:
        """What the engine holds beyond the model: copied weights and KV caches."""
        copied = self._weights.copied_bytes if self._weights else 0
        return copied + (self._decode_state.decoder.cache_bytes if self._decode_state else 0)

    def generate(
        self,
        prompts: list[str],
        temperatures: list[float],
        max_new_tokens: int,
        top_p: float = 1.0,
        control: StopSignal | None = None,
        on_progress: ProgressCallback | None = None,
        sample_keys: list[int] | None = None,
    ) -> Rollout:
        """sample_keys: one per prompt (RolloutEngine.generate); without them, keys drawn from torch's generator."""
        tokenizer = self.policy.tokenizer
        prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        k = len(temperatures)
        width = max(len(ids) for ids in prompt_ids)
        state = self._state(len(prompts) * k, width + max_new_tokens, top_p)
        started = time.perf_counter()
        aborted = False
        with torch.no_grad():
            self.weights.refresh_lora()  # the adapters as the last update left them
            self._prefill(state, prompt_ids, temperatures, width, sample_keys)
            done = 1
            while done < max_new_tokens:
                burst = min(HOST_CHECK_EVERY, max_new_tokens - done)
                for _ in range(burst):
                    if state.graph is not None:
                        state.graph.replay()
                    else:
                        state.step_once()
                done += burst
                if control is not None and control.stop_requested:
                    aborted = True
                    break
                if on_progress is not None:
                    rows = len(prompts) * k
                    on_progress(done, max_new_tokens, done * rows / max(time.perf_counter() - started, 1e-9))
                if bool(state.finished.all()):
                    break
            real_rows = len(prompts) * k  # the rows below are padding
            tokens = state.out_tokens[:real_rows, :done].tolist()
            logprobs = state.out_logprobs[:real_rows, :done].tolist()
        seconds = time.perf_counter() - started
        return Rollout(prompt_ids, to_samples(self.policy, tokens, temperatures, max_new_tokens, logprobs), seconds, aborted)

    # ------------------------------------------------------------------ internals

    def _state(self, rows: int, needed_len: int, top_p: float) -> _DecodeState:
        """The one decode state, reused while it is big enough: fewer rows are padded into it (the padding
        rows start finished) and a shorter prompt leaves cache slots unused, so the compiled step and its
        graph see the same shapes in every rollout. Outgrown, it is rebuilt bigger (a recompilation)."""
        state = self._decode_state
        fits = state is not None and state.decoder.batch >= rows and state.decoder.max_len >= needed_len
        if fits and state.top_p == top_p:
            return state
        held_rows, held_len = (state.decoder.batch, state.decoder.max_len) if state is not None else (0, 0)
        if state is not None:
            if not fits:
                self._notice(f"a rollout of {rows} rows x {needed_len} tokens outgrew the decode step's "
                             f"{held_rows} x {held_len}: rebuilding it (the compiled step recompiles)")
            self._decode_state = state = None
            if self.use_graphs:
                torch.cuda.empty_cache()
        max_len = max(needed_len, self.cache_tokens, held_len)
        max_len = max(needed_len, min(-(-max_len // LENGTH_BUCKET) * LENGTH_BUCKET, self.weights.cos.shape[0]))
        self._decode_state = self._new_state(max(rows, self.rows, held_rows), max_len, top_p)
        return self._decode_state

    def _new_state(self, batch: int, max_len: int, top_p: float) -> _DecodeState:
        weights = self.weights
        device = weights.embed.device
        policy = self.policy
        state = _DecodeState(
            decoder=StaticDecoder(weights, batch, max_len, self.grouped_experts, self.fused_experts, self._decode_ops()),
            tokens=torch.zeros(batch, dtype=torch.long, device=device),
            slot=torch.zeros(1, dtype=torch.long, device=device),
            step=torch.zeros(1, dtype=torch.long, device=device),
            finished=torch.zeros(batch, dtype=torch.bool, device=device),
            temperatures=torch.ones(batch, dtype=torch.float32, device=device),
            row_keys=torch.zeros(batch, dtype=torch.long, device=device),
            out_tokens=torch.zeros(batch, max_len, dtype=torch.long, device=device),
            out_logprobs=torch.zeros(batch, max_len, dtype=torch.float32, device=device),
            stop_ids=torch.tensor(policy.stop_token_ids, dtype=torch.long, device=device),
            pad_id=int(policy.tokenizer.pad_token_id),
            top_p=top_p,
        )
        self._prepare(state)
        return state

    def _prepare(self, state: _DecodeState) -> None:
        """A trial step, then the graph capture, dropping what this GPU or torch build refuses (grouped
        experts, then CUDA graphs) with a notice, rather than failing the run in the middle of a rollout.

        Their random draws come from a forked generator: a state is built when a run first needs it,
        so drawing from the step's own stream would make a resumed run sample differently."""
        device = state.tokens.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            self._try_step_and_capture(state)

    def _try_step_and_capture(self, state: _DecodeState) -> None:
        with torch.no_grad():
            try:
                state.step_once()
            except Exception as exc:  # Triton and the compiler raise their own types
                if self.compiled_ops:
                    self._drop_compiled_ops(state, exc)
                    return
                if state.decoder.fused_kernels is not None:
                    self._drop_fused_kernel(state, exc)
                    return
                if not self.grouped_experts or not isinstance(exc, RuntimeError):
                    raise
                self.grouped_experts = state.decoder.grouped_experts = False
                self._notice(f"grouped experts unavailable ({_first_line(exc)}); using dense experts")
                state.step_once()
        if self.use_graphs:
            try:
                state.graph = self._capture(state)
            except Exception as exc:
                if self.compiled_ops:
                    self._drop_compiled_ops(state, exc)
                    return
                if not isinstance(exc, RuntimeError):
                    raise
                if state.decoder.fused_kernels is not None:
                    self._drop_fused_kernel(state, exc)
                    return
                self.use_graphs = False
                self._notice(f"CUDA-graph capture failed ({_first_line(exc)}); decoding step by step")

    def _decode_ops(self) -> DecodeOps:
        if not self.compiled_ops:
            return EAGER_OPS
        if self._ops is None:
            self._ops = DecodeOps.compiled()
        return self._ops

    def _drop_compiled_ops(self, state: _DecodeState, exc: BaseException) -> None:
        self.compiled_ops = False
        state.decoder.use_ops(EAGER_OPS, self.fused_experts)
        self._notice(f"compiling the decode step failed ({_first_line(exc)}); running its ops uncompiled")
        self._try_step_and_capture(state)

    def _drop_fused_kernel(self, state: _DecodeState, exc: BaseException) -> None:
        self.fused_experts, state.decoder.fused_kernels = False, None
        self._notice(f"fused {self.weights.experts_format} expert kernel failed ({_first_line(exc)}); "
                     "dequantizing experts instead")
        self._try_step_and_capture(state)

    def _notice(self, message: str) -> None:
        if self.on_notice is not None:
            self.on_notice(message)

    @staticmethod
    def _capture(state: _DecodeState) -> torch.cuda.CUDAGraph:
        # Warm-up on a side stream first (cuBLAS workspaces, the caching allocator), as torch.cuda.graphs asks.
        # The warm-up steps scribble on the buffers; every generate() resets them in place.
        with torch.no_grad():
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(2):
                    state.step_once()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                state.step_once()
        return graph

    def _prefill(self, state: _DecodeState, prompt_ids: list[list[int]], temperatures: list[float], width: int,
                 sample_keys: list[int] | None) -> None:
        k = len(temperatures)
        device = state.tokens.device
        rows, padding = len(prompt_ids) * k, state.tokens.shape[0] - len(prompt_ids) * k
        state.finished.zero_()
        state.finished[rows:] = True  # padding rows: sampled as pad tokens, never awaited
        state.decoder.pads[rows:] = width  # they see only their own decode slots
        state.step.zero_()
        state.temperatures.copy_(torch.tensor(temperatures * len(prompt_ids) + [1.0] * padding, dtype=torch.float32))
        if sample_keys is None:
            sample_keys = torch.randint(0, 2**62, (len(prompt_ids),)).tolist()
        keys = [sampling_key(key, candidate) for key in sample_keys for candidate in range(k)]
        state.row_keys.copy_(torch.tensor(keys + [0] * padding))
        first_logits = []
        for group, ids in enumerate(prompt_ids):
            prompt = torch.tensor(ids, dtype=torch.long, device=device)
            logits = state.decoder.prefill(prompt, slice(group * k, (group + 1) * k), width, self.prefill_chunk)
            first_logits.append(logits.expand(k, -1))
        if padding:
            first_logits.append(first_logits[0][:1].expand(padding, -1))
        state._record(*sample_rows(torch.cat(first_logits), state.temperatures, state.top_p, state.row_keys, state.step))
        state.slot.fill_(width)
