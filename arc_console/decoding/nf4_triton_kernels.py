"""The Triton kernel behind nf4_triton.py: the grouped GEMM over bitsandbytes NF4 expert stacks (layout,
tiles and lookups are described there), with the helpers it calls.

Imported only when a kernel is first launched: Triton reads TRITON_INTERPRET when it decorates, and
the machines without Triton never import this module. Triton finds the helpers a kernel calls among
the globals of the kernel's module, so they live at module level here.
"""

import triton
import triton.language as tl


@triton.jit
def byte_levels(codes, pairs_ptr, levels_ptr, LOOKUP: tl.constexpr, LOOKUP_ASM: tl.constexpr):
    """Each byte's two levels as bf16: the high nibble's (even column) and the low nibble's (odd)."""
    if LOOKUP == 2:  # from registers (nf4_register_lookup.py): no memory access
        high, low = tl.inline_asm_elementwise(LOOKUP_ASM, "=r,=r,=r,=r,r", [codes],
                                              dtype=(tl.bfloat16, tl.bfloat16), is_pure=True, pack=4)
    elif LOOKUP == 1:  # one load a weight from a 32-byte table (one cache sector)
        nibbles = codes.to(tl.int32)
        high = tl.load(levels_ptr + (nibbles >> 4))
        low = tl.load(levels_ptr + (nibbles & 15))
    else:  # one load a byte from a 1 KB table of level pairs
        pair = tl.load(pairs_ptr + codes.to(tl.int32))
        high = (pair & 0xFFFF).to(tl.int16).to(tl.bfloat16, bitcast=True)
        low = (pair >> 16).to(tl.int16).to(tl.bfloat16, bitcast=True)
    return high, low


@triton.jit
def decode_scales(absmax_ptr, nested_absmax_ptr, nested_code_ptr, offset, block, mask,
                  NESTED: tl.constexpr, NESTED_BLOCK: tl.constexpr):
    """The absmax scales of quantization blocks `block`, decoding the double quantization."""
    if NESTED:
        quantized = tl.load(absmax_ptr + block, mask=mask, other=0).to(tl.int32)
        nested_scale = tl.load(nested_absmax_ptr + block // NESTED_BLOCK, mask=mask, other=0.0)
        scale = tl.load(nested_code_ptr + quantized) * nested_scale + offset
    else:
        scale = tl.load(absmax_ptr + block, mask=mask, other=0.0)
    return scale


@triton.jit
def nf4_grouped_kernel(x_ptr, packed_ptr, absmax_ptr, nested_absmax_ptr, nested_code_ptr, pairs_ptr, levels_ptr,
                       row_ends_ptr, out_ptr, offset, K, row_bytes, blocks_per_row, stride_x, stride_out,
                       BLOCK: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_M: tl.constexpr,
                       NESTED: tl.constexpr, NESTED_BLOCK: tl.constexpr, DOT: tl.constexpr,
                       USE_DOT: tl.constexpr, ROW_SCALES: tl.constexpr,
                       LEVELS_TF32: tl.constexpr, LOOKUP: tl.constexpr, LOOKUP_ASM: tl.constexpr):
    column_tile = tl.program_id(0)
    expert = tl.program_id(1)
    row_start = tl.load(row_ends_ptr + expert - 1, mask=expert > 0, other=0)
    row_end = tl.load(row_ends_ptr + expert)
    if row_end > row_start:
        half: tl.constexpr = BLOCK_N // 2
        blocks_in_tile: tl.constexpr = BLOCK_N // BLOCK
        byte_columns = tl.arange(0, half)
        tile_blocks = tl.arange(0, blocks_in_tile)
        k_range = tl.arange(0, BLOCK_K)
        expert64 = expert.to(tl.int64)
        expert_blocks = expert64 * K * blocks_per_row + column_tile * blocks_in_tile
        expert_bytes = expert64 * K * row_bytes + column_tile * half
        for m0 in range(row_start, row_end, BLOCK_M):
            rows = m0 + tl.arange(0, BLOCK_M)
            row_ok = rows < row_end
            even = tl.zeros((BLOCK_M, half), dtype=tl.float32)
            odd = tl.zeros((BLOCK_M, half), dtype=tl.float32)
            for k0 in range(0, K, BLOCK_K):
                k = k0 + k_range
                k_ok = k < K
                x = tl.load(x_ptr + rows[:, None] * stride_x + k[None, :],
                            mask=row_ok[:, None] & k_ok[None, :], other=0.0)
                codes = tl.load(packed_ptr + expert_bytes + k[:, None] * row_bytes + byte_columns[None, :],
                                mask=k_ok[:, None], other=0)
                high, low = byte_levels(codes, pairs_ptr, levels_ptr, LOOKUP, LOOKUP_ASM)
                if ROW_SCALES and USE_DOT and blocks_in_tile == 1:
                    # The tile is one quantization block wide: its scale depends on k alone, so it
                    # scales the rows (BLOCK_M x BLOCK_K products) instead of every weight.
                    block_k = expert_blocks + k * blocks_per_row
                    scale_k = decode_scales(absmax_ptr, nested_absmax_ptr, nested_code_ptr, offset, block_k,
                                            k_ok, NESTED, NESTED_BLOCK)
                    scaled = x.to(tl.float32) * scale_k[None, :]
                    if LEVELS_TF32:  # bf16 widened to float32 is exact: the tensor cores take tf32
                        even += tl.dot(scaled, high.to(tl.float32), input_precision="tf32")
                        odd += tl.dot(scaled, low.to(tl.float32), input_precision="tf32")
                    else:
                        xd = scaled.to(DOT)
                        even += tl.dot(xd, high.to(DOT))
                        odd += tl.dot(xd, low.to(DOT))
                else:
                    block = expert_blocks + k[:, None] * blocks_per_row + tile_blocks[None, :]  # [BLOCK_K, blocks]
                    scale = decode_scales(absmax_ptr, nested_absmax_ptr, nested_code_ptr, offset, block,
                                          k_ok[:, None], NESTED, NESTED_BLOCK)
                    scale = tl.reshape(tl.broadcast_to(scale[:, :, None], (BLOCK_K, blocks_in_tile, BLOCK // 2)),
                                       (BLOCK_K, half))
                    high = high.to(tl.float32)
                    low = low.to(tl.float32)
                    if USE_DOT:
                        xd = x.to(DOT)
                        even += tl.dot(xd, (high * scale).to(DOT))
                        odd += tl.dot(xd, (low * scale).to(DOT))
                    else:
                        xf = x.to(tl.float32)[:, :, None]
                        even += tl.sum(xf * (high * scale)[None, :, :], axis=1)
                        odd += tl.sum(xf * (low * scale)[None, :, :], axis=1)
            columns = column_tile * BLOCK_N + 2 * byte_columns
            target = out_ptr + rows[:, None] * stride_out + columns[None, :]
            tl.store(target, even.to(out_ptr.dtype.element_ty), mask=row_ok[:, None])
            tl.store(target + 1, odd.to(out_ptr.dtype.element_ty), mask=row_ok[:, None])
