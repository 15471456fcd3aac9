"""Tests that need an NVIDIA GPU. They run on the GPU machine; CI has none, so they are skipped there."""

import pytest

from arc_console.gpu import HardwareSampler

sampler = HardwareSampler()
has_gpu = bool(sampler.sample().gpus)


@pytest.mark.skipif(not has_gpu, reason="NVML finds no GPU on this machine (CI has none)")
def test_nvml_reads_every_gpu_and_this_process_share() -> None:
    import torch

    before = sampler.sample()
    block = torch.empty(512 * 1024 * 1024, dtype=torch.uint8, device="cuda")  # 0.5 GiB held by this process
    after = sampler.sample()
    del block
    assert after.gpus and after.gpus[0].memory_total > 10 * 1024**3
    gpu = after.gpus[0]
    assert "H" in gpu.name or "A" in gpu.name or gpu.name
    assert gpu.process_memory is not None and gpu.process_memory >= 512 * 1024 * 1024
    assert gpu.utilization is not None and 0 <= gpu.utilization <= 100
    assert gpu.temperature is not None and 10 < gpu.temperature < 110
    assert gpu.power_w is not None and gpu.power_w > 0
    assert after.gpus[0].memory_used >= before.gpus[0].memory_used


@pytest.mark.skipif(not has_gpu, reason="NVML finds no GPU on this machine (CI has none)")
def test_gpu_panel_renders_the_h200(tmp_path) -> None:
    from rich.console import Console

    from arc_console.tui.widgets.gpu_panel import hardware_table

    console = Console(record=True, width=100)
    console.print(hardware_table(sampler.sample()))
    text = console.export_text()
    assert "GPU 0" in text and "GB" in text and "util" in text
