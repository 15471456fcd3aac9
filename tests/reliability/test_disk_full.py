"""A full disk while training: one clear line, a non-zero exit, and every earlier file intact."""

import json
import resource
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

from arc_console.engine.backends import tiny_model_path
from arc_console.engine.checkpoint import STATE
from arc_console.rundir.files import list_step_files, load_step_file

CLI = [sys.executable, "-m", "arc_console"]
ARGS = ["train", "--headless", "--preset", "tiny", "--model", "tiny-random", "--max-steps", "100000",
        "--checkpoint-every", "2", "--max-new-tokens", "16", "--overlong-buffer", "4", "--num-candidates", "4"]


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 3 MB tmpfs, or, where mounting is not allowed, a 200 kB per-file size limit (RLIMIT_FSIZE)."""
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                             capture_output=True, timeout=120).returncode == 0
    if mounted:
        yield mount, None
        subprocess.run(["umount", "-l", str(mount)], check=False, timeout=120)
    else:
        def limit() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        yield mount, limit


@pytest.mark.timeout(660)
def test_disk_full_is_one_clear_line_and_earlier_files_survive(small_disk) -> None:
    folder, limit = small_disk
    tiny_model_path()  # the model cache lives elsewhere; build it before space runs out
    run = folder / "run"
    out = subprocess.run([*CLI, *ARGS, "--out", str(run)], capture_output=True, text=True, timeout=600,
                         preexec_fn=limit)
    assert out.returncode == 1, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("arc-console: error: ") and ("No space left" in last or "File too large" in last), last
    assert "Traceback" not in out.stderr
    files = list_step_files(run / "logs/responses")
    assert files, "some steps were written before the disk filled"
    for step_file in files:
        load_step_file(step_file.path)
    for line in (run / "logs/metrics.jsonl").read_text().splitlines():
        json.loads(line)
    for checkpoint in (run / "checkpoints").glob("step_*"):
        json.loads((checkpoint / STATE).read_text())
