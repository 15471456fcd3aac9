"""Hardware sampling: NVML for GPUs (nvidia-ml-py), psutil for the host. Plain data, no UI."""

from __future__ import annotations

import os
from collections.abc import Callable
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
    process_rss: int | None  # the watched process's resident memory; None when it is not running


@dataclass(frozen=True)
class HardwareSample:
    gpus: list[GpuSample] = field(default_factory=list)
    host: HostSample | None = None
    gpu_note: str = ""  # why there is no GPU data, when there is none
    process_label: str = "this process"  # whose memory process_rss and process_memory are


class HardwareSampler:
    """Call sample() about once a second from a worker thread; NVML is initialised once.

    watched_pid: asked at every sample for the process whose memory to show (`watch` reads the
    trainer's pid from run.json); None from it means no such process is running now."""

    def __init__(self, pid: int | None = None, watched_pid: Callable[[], int | None] | None = None) -> None:
        self.pid: int | None = pid or os.getpid()
        self._watched_pid = watched_pid
        self._process: psutil.Process | None = psutil.Process(self.pid)
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
        label = "this process"
        if self._watched_pid is not None:
            self._follow(self._watched_pid())
            label = f"trainer (pid {self.pid})" if self._process is not None else "trainer (not running)"
        gpus = self._sample_gpus() if self._nvml is not None else []
        memory = psutil.virtual_memory()
        host = HostSample(psutil.cpu_percent(None), memory.total - memory.available, memory.total, self._rss())
        if self._process is None and self._watched_pid is not None:  # it ended during this sample
            label = "trainer (not running)"
        return HardwareSample(gpus, host, "" if gpus else (self._note or "NVML found no GPU"), label)

    def _follow(self, pid: int | None) -> None:
        if pid == self.pid and (self._process is None or self._process.is_running()):
            return
        self.pid = pid
        try:
            self._process = psutil.Process(pid) if pid else None
        except (psutil.Error, ValueError):
            self._process = None

    def _rss(self) -> int | None:
        if self._process is None:
            return None
        try:
            return self._process.memory_info().rss
        except psutil.Error:  # it ended since the last sample
            self._process = None
            return None

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
        if self._process is None:
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
