"""Hardware sampling: NVML for GPUs (nvidia-ml-py), psutil for the host. Plain data, no UI."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import psutil


@dataclass(frozen=True)
class GpuSample:
    index: int
    name: str
    memory_used: int  # bytes
    memory_total: int
    process_memory: int | None  # this process's bytes on the GPU, when NVML can tell
    utilization: int | None  # percent
    temperature: int | None  # degrees C
    power_w: float | None


@dataclass(frozen=True)
class HostSample:
    cpu_percent: float
    memory_used: int
    memory_total: int
    process_rss: int


@dataclass(frozen=True)
class HardwareSample:
    gpus: list[GpuSample] = field(default_factory=list)
    host: HostSample | None = None
    gpu_note: str = ""  # why there is no GPU data, when there is none


class HardwareSampler:
    """Call sample() about once a second from a worker thread; NVML is initialised once."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid or os.getpid()
        self._process = psutil.Process(self.pid)
        self._nvml = None
        self._note = ""
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            if pynvml.nvmlDeviceGetCount() == 0:
                self._note = "NVML found no GPU"
        except Exception as exc:  # no driver, no library: any NVML failure means "no GPU data"
            self._note = f"no NVIDIA GPU ({type(exc).__name__})"
        psutil.cpu_percent(None)  # the first reading is meaningless; prime it

    def sample(self) -> HardwareSample:
        gpus = self._sample_gpus() if self._nvml is not None else []
        memory = psutil.virtual_memory()
        host = HostSample(psutil.cpu_percent(None), memory.total - memory.available, memory.total,
                          self._process.memory_info().rss)
        return HardwareSample(gpus, host, "" if gpus else (self._note or "NVML found no GPU"))

    def _sample_gpus(self) -> list[GpuSample]:
        nv = self._nvml
        samples = []
        try:
            count = nv.nvmlDeviceGetCount()
        except Exception:
            return []
        for index in range(count):
            handle = nv.nvmlDeviceGetHandleByIndex(index)
            name = nv.nvmlDeviceGetName(handle)
            memory = nv.nvmlDeviceGetMemoryInfo(handle)
            samples.append(GpuSample(
                index=index,
                name=name.decode() if isinstance(name, bytes) else str(name),
                memory_used=int(memory.used),
                memory_total=int(memory.total),
                process_memory=self._process_memory(handle),
                utilization=_maybe(lambda: nv.nvmlDeviceGetUtilizationRates(handle).gpu),
                temperature=_maybe(lambda: nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU)),
                power_w=_maybe(lambda: nv.nvmlDeviceGetPowerUsage(handle) / 1000.0),
            ))
        return samples

    def _process_memory(self, handle: object) -> int | None:
        nv = self._nvml
        try:
            processes = nv.nvmlDeviceGetComputeRunningProcesses(handle)
        except Exception:
            return None
        used = [p.usedGpuMemory for p in processes if p.pid == self.pid and p.usedGpuMemory is not None]
        return int(sum(used)) if used else 0

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
            self._nvml = None


def _maybe(read):  # type: ignore[no-untyped-def]
    try:
        return read()
    except Exception:
        return None
