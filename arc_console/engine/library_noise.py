"""Messages from the libraries under the trainer that read as failures where nothing failed, silenced one
by one: each by its exact wording, at the one module that emits it, so that any other warning from the
same library still shows. docs/library-messages.md lists them. Installed before those libraries are
imported (they speak at import time); importing this module imports none of them."""

from __future__ import annotations

import logging
import warnings

# bitsandbytes, on a CPU with AVX512-BF16, tries to fetch a faster 4-bit GEMM from the hub at import
# time; offline (or without `kernels`) it logs this and uses its own kernel, which is what runs anyway.
BNB_CPU_KERNEL_LOGGER = "bitsandbytes.backends.cpu.ops"
BNB_CPU_KERNEL_MESSAGE = "Failed to load CPU gemm_4bit_forward from kernels-community: "

# peft (0.17+) asks the model `is_gradient_checkpointing` when it wraps it in a LoRA; transformers 5
# deprecated that name. Nothing to change on our side: peft's question, transformers' answer.
GRADIENT_CHECKPOINTING_MODULE = r"transformers\.modeling_utils"
GRADIENT_CHECKPOINTING_MESSAGE = r"`is_gradient_checkpointing` is deprecated and will be removed in v6"


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(self.prefix))


_installed = False


def quiet_library_noise() -> None:
    """Silence the messages above (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    logging.getLogger(BNB_CPU_KERNEL_LOGGER).addFilter(_DropMessage(BNB_CPU_KERNEL_MESSAGE))
    warnings.filterwarnings("ignore", message=GRADIENT_CHECKPOINTING_MESSAGE, category=FutureWarning,
                            module=GRADIENT_CHECKPOINTING_MODULE)
