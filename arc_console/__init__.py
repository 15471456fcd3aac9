"""arc-console: train GPT-OSS on ARC puzzles with DAPO, and watch the run from a terminal."""

__version__ = "0.1.0"


class UserError(Exception):
    """A problem the user can fix (input that cannot be used, a missing file or model, a setting out of range):
    every command shows it as one line, `arc-console: error: ...`, and exits with `exit_code`. Each layer's
    own error types derive from it. It lives in the package root, which every module loads anyway, so that
    arc/ and rundir/ can derive from it and still import nothing else of ours."""

    exit_code = 2
