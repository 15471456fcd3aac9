"""Watching a run from outside, torch-free: the run directory read back as the trainer's events (follow.py)
and the hardware sampled (hardware.py: NVML, psutil). The consoles draw what these report."""
