import subprocess
import sys

from arc_console import __version__


def test_version_and_help() -> None:
    out = subprocess.run([sys.executable, "-m", "arc_console", "--version"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == f"arc-console {__version__}"
    out = subprocess.run([sys.executable, "-m", "arc_console", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "usage: arc-console" in out.stdout
