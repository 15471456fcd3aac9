"""Where the tests' files are, independent of the directory pytest runs from."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
STEP_FILE = DATA / "step_003.json"
