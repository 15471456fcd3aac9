"""arc-console: train GPT-OSS on ARC puzzles with DAPO, and watch the run from a terminal."""

__version__ = "0.1.0"
