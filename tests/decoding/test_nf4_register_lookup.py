"""The PTX that looks NF4 levels up from registers (decoding/nf4_register_lookup.py), run by a small
emulator of the instructions it uses (PTX ISA semantics of mov, and, or, shl, shr, prmt in its
default mode, lop3) over every byte value in every position of the packed register. The GPU runs the
same text inside our kernel in tests/test_gpu.py."""

import random

import bitsandbytes.functional as bnb_functional
import pytest
import torch

from arc_console.decoding.nf4_register_lookup import bf16_bits, register_lookup_asm

MASK = 0xFFFFFFFF


def prmt(a: int, b: int, selector: int) -> int:
    source = a | (b << 32)
    out = 0
    for i in range(4):
        field = (selector >> (4 * i)) & 0xF
        byte = (source >> (8 * (field & 7))) & 0xFF
        if field & 8:  # sign mode: the selected byte's top bit, replicated
            byte = 0xFF if byte & 0x80 else 0
        out |= byte << (8 * i)
    return out


def lop3(a: int, b: int, c: int, table: int) -> int:
    out = 0
    for bit in range(32):
        index = (((a >> bit) & 1) << 2) | (((b >> bit) & 1) << 1) | ((c >> bit) & 1)
        out |= ((table >> index) & 1) << bit
    return out


def run_ptx(asm: str, word: int) -> list[int]:
    registers = {"$4": word}

    def value(token: str) -> int:
        token = token.strip()
        return registers[token] if token in registers else int(token, 0)

    for line in asm.splitlines():
        line = line.split("//")[0].strip()
        if not line or line in "{}" or line.startswith(".reg"):
            continue
        opcode, operands = line.rstrip(";").split(None, 1)
        target, *sources = [part.strip() for part in operands.split(",")]
        args = [value(s) for s in sources]
        if opcode == "mov.b32":
            result = args[0]
        elif opcode == "and.b32":
            result = args[0] & args[1]
        elif opcode == "or.b32":
            result = args[0] | args[1]
        elif opcode == "shl.b32":
            result = (args[0] << args[1]) & MASK
        elif opcode == "shr.b32":
            result = args[0] >> args[1]
        elif opcode == "prmt.b32":
            result = prmt(*args)
        elif opcode == "lop3.b32":
            result = lop3(*args)
        else:
            raise AssertionError(f"the emulator does not know {opcode}")
        registers[target] = result & MASK
    return [registers[f"${i}"] for i in range(4)]


def test_the_register_lookup_gives_each_nibble_its_nf4_level() -> None:
    code = bnb_functional.get_4bit_type("nf4", device="cpu").float().tolist()
    bits = bf16_bits(code)
    asm = register_lookup_asm(tuple(bits))
    words = [sum(((i + 67 * j) % 256) << (8 * j) for j in range(4)) for i in range(256)]
    rng = random.Random(0)
    words += [rng.getrandbits(32) for _ in range(200)] + [0, MASK]
    for word in words:
        high_01, high_23, low_01, low_23 = run_ptx(asm, word)
        for element in range(4):
            byte = (word >> (8 * element)) & 0xFF
            high = (high_01, high_23)[element // 2] >> (16 * (element % 2)) & 0xFFFF
            low = (low_01, low_23)[element // 2] >> (16 * (element % 2)) & 0xFFFF
            assert high == bits[byte >> 4], (hex(word), element)
            assert low == bits[byte & 15], (hex(word), element)


def test_the_levels_are_the_bf16_patterns_of_the_code() -> None:
    code = [-1.0, 0.0, 0.5, 1.0] + [0.25] * 12
    assert bf16_bits(code)[:4] == [0xBF80, 0x0000, 0x3F00, 0x3F80]
    assert torch.tensor(bf16_bits(code)[:4], dtype=torch.int32).to(torch.int16).view(torch.bfloat16).tolist()[:2] == [-1.0, 0.0]
    with pytest.raises(ValueError):
        register_lookup_asm((0,) * 15)
