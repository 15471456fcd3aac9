"""The 16 NF4 levels looked up from registers: PTX for Triton's inline_asm_elementwise.

A lookup in memory costs one gather per byte, and a warp's gathers into a table land on many cache
lines; here the table lives in eight registers (each level's low bytes in four, its high bytes in
four) and `prmt` picks bytes from them. prmt selects from eight bytes by a 3-bit index, so each half
of the table (levels 0-7, 8-15) is read and the nibble's top bit chooses between them byte by byte
(prmt's sign mode turns that bit into a byte mask).

One asm instance takes four packed bytes (pack=4, one register) and writes two bf16 outputs of four
elements each (two registers each): $0 $1 the high nibbles' levels (the even columns), $2 $3 the low
nibbles' (the odd columns). The selectors come out in byte order 0, 2, 1, 3 (the cheapest way to put
four nibbles where prmt reads them); the last two prmt of each half put the bf16 halves back in order.
"""

from __future__ import annotations

REGISTER_LOOKUP_CONSTRAINTS = "=r,=r,=r,=r,r"


def bf16_bits(levels: list[float]) -> list[int]:
    import torch

    return [int(v) & 0xFFFF for v in torch.tensor(levels, dtype=torch.float32).to(torch.bfloat16).view(torch.int16)]


def register_lookup_asm(level_bits: tuple[int, ...]) -> str:
    """PTX for the 16 bf16 bit patterns `level_bits` (index = nibble)."""
    if len(level_bits) != 16:
        raise ValueError(f"NF4 has 16 levels, got {len(level_bits)}")
    low_bytes = [bits & 0xFF for bits in level_bits]
    high_bytes = [(bits >> 8) & 0xFF for bits in level_bits]

    def words(table: list[int]) -> list[int]:
        return [sum(table[4 * w + i] << (8 * i) for i in range(4)) for w in range(4)]

    tables = [f"mov.b32 lo{w}, {value:#010x};" for w, value in enumerate(words(low_bytes))]
    tables += [f"mov.b32 hi{w}, {value:#010x};" for w, value in enumerate(words(high_bytes))]

    def half(selector: str, mask_source: str, first: str, second: str) -> list[str]:
        return [
            f"prmt.b32 mask, {mask_source}, {mask_source}, 0xB9A8;",  # each byte: 0xFF where its nibble >= 8
            f"prmt.b32 a, lo0, lo1, {selector};",
            f"prmt.b32 b, lo2, lo3, {selector};",
            "lop3.b32 low_byte, b, a, mask, 0xE4;",  # mask ? b : a
            f"prmt.b32 a, hi0, hi1, {selector};",
            f"prmt.b32 b, hi2, hi3, {selector};",
            "lop3.b32 high_byte, b, a, mask, 0xE4;",
            f"prmt.b32 {first}, low_byte, high_byte, 0x6240;",  # elements 0, 1 (selectors were 0, 2, 1, 3)
            f"prmt.b32 {second}, low_byte, high_byte, 0x7351;",  # elements 2, 3
        ]

    lines = ["{",
             ".reg .b32 lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3, nibbles, shifted, selector, mask, a, b, low_byte, high_byte;",
             *tables,
             # high nibbles, bit 3 cleared: nibble fields 0..3 of the selector = bytes 0, 2, 1, 3
             "and.b32 nibbles, $4, 0x70707070;",
             "shr.b32 selector, nibbles, 4;",
             "shr.b32 shifted, nibbles, 16;",
             "or.b32 selector, selector, shifted;",
             *half("selector", "$4", "$0", "$1"),
             # low nibbles: the same, and their bit 3 moved to each byte's top for the mask
             "and.b32 nibbles, $4, 0x07070707;",
             "shr.b32 shifted, nibbles, 12;",
             "or.b32 selector, nibbles, shifted;",
             "shl.b32 shifted, $4, 4;",
             *half("selector", "shifted", "$2", "$3"),
             "}"]
    return "\n".join(lines)
