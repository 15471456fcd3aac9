"""`arc-console train` as a user runs it: a subprocess, real files, signals, bad input. The runs trained only
to be read or resumed are fresh processes from the warm launcher (tests/support/warm_cli.py); the printed
resume command, the signals (through the interpreter's own exit) and bad input run `python -m arc_console`."""

import json
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from arc_console.config import DEMO_PROBLEMS, SEED_PROBLEMS, build_config
from child_output import ChildOutput
from faults import fault_env
from paths import REPO

CLI = [sys.executable, "-m", "arc_console"]
FAST = ["--max-new-tokens", "12", "--overlong-buffer", "4", "--num-candidates", "4"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def files_of(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below `folder`: its bytes and its modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_headless_five_steps_then_extend_by_resume(tmp_path: Path, warm_cli) -> None:
    run = tmp_path / "run"
    # A fresh process from the warm launcher, its sys.argv as `python -m arc_console` sets it; the resume
    # command it prints is then run as typed, by a shell: a real `python -m arc_console` start.
    out = warm_cli.run(["train", "--headless", "--preset", "tiny", "--max-steps", "5", "--out", str(run), *FAST],
                       timeout=300)
    assert out.returncode == 0, out.stderr
    assert "preset tiny" in out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("step ")]
    assert len(lines) == 5 and lines[0].startswith(f"step 1/5 {DEMO_PROBLEMS[0]}") and "ETA" in lines[0]
    resume = next(line for line in out.stdout.splitlines() if line.startswith("resume with: "))
    words = shlex.split(resume.removeprefix("resume with: "))  # the interpreter may be named relative to the cwd
    assert Path(words[0]).resolve() == Path(sys.executable).resolve(), resume
    # a run that stopped at its --max-steps is resumed with a larger one (its own would be refused)
    assert words[1:] == ["-m", "arc_console", "train", "--resume", str(run), "--max-steps", "10", "--headless"], resume
    assert len(list((run / "logs/responses").glob("step_*.json"))) == 5
    metrics = [json.loads(line) for line in (run / "logs/metrics.jsonl").read_text().splitlines()]
    for line, step in zip(lines, metrics):  # each line shows its update's gradient norm, or that it was skipped
        expected = f"grad {step['grad_norm']:.2f} " if step["loss"] is not None else " skipped "
        assert expected in line, (line, step)
    # A finished run is extended by resuming with a larger --max-steps; its saved settings carry over.
    # The printed command runs as typed, in a shell (here with a --max-steps of our own after it).
    out = subprocess.run(resume.removeprefix("resume with: ") + " --max-steps 7", shell=True, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "resuming" in out.stderr
    assert len(list((run / "logs/responses").glob("step_*.json"))) == 7
    state = json.loads((run / "checkpoints/step_7/trainer_state.json").read_text())
    assert state["config"]["max_new_tokens"] == 12 and state["step"] == 7
    # Resuming with nothing left to train (a smaller --max-steps, or the finished run's own) is refused in
    # one line before the model loads: not a file of the run is rewritten.
    before = files_of(run)
    for args in (["--max-steps", "3"], []):
        out = run_cli("train", "--headless", "--resume", str(run), *args)
        assert out.returncode == 2, out.stderr
        assert out.stderr.strip().splitlines()[-1] == (
            f"arc-console: error: {run} is already at step 7 (step_7): --max-steps must be larger than 7 to train on "
            f"(got {args[1] if args else 7})"), out.stderr
        assert "loading" not in out.stderr and "Traceback" not in out.stderr
    assert files_of(run) == before
    # Starting a new run over an existing one is refused, nothing touched.
    before = (run / "logs/metrics.jsonl").read_text()
    out = run_cli("train", "--headless", "--preset", "tiny", "--out", str(run))
    assert out.returncode == 2 and "already holds a run" in out.stderr
    assert (run / "logs/metrics.jsonl").read_text() == before


@pytest.mark.slow
def test_toml_config(tmp_path: Path, warm_cli) -> None:
    config = tmp_path / "run.toml"
    config.write_text('[train]\nmax_steps = 2\nnum_candidates = 3\nmax_new_tokens = 8\noverlong_buffer = 2\n'
                      'tasks = "arc1-training"\nproblems = ["a85d4709"]\n')
    out = warm_cli.run(["train", "--headless", "--preset", "tiny", "--config", str(config), "--out",
                        str(tmp_path / "run")], timeout=300)
    assert out.returncode == 0, out.stderr
    record = json.loads((tmp_path / "run/logs/responses/step_002.json").read_text())
    assert record["problem_id"] == "a85d4709" and len(record["candidates"]) == 3


def test_a_presets_problems_go_with_its_tasks(tmp_path: Path) -> None:
    assert build_config("tiny", None, {}).problems == DEMO_PROBLEMS
    assert build_config("gpt-oss-20b", None, {}).problems == SEED_PROBLEMS
    # Other tasks without ids: every task of them (the preset's ids name tasks of its own source).
    assert build_config("tiny", None, {"tasks": "arc1-training"}).problems == []
    assert build_config("tiny", None, {"tasks": "arc1-training", "problems": "af902bf9"}).problems == ["af902bf9"]
    assert build_config("gpt-oss-20b", None, {"tasks": "arc1-training"}).problems == SEED_PROBLEMS  # its own source
    config = tmp_path / "run.toml"
    config.write_text('tasks = "arc1-training"\n')
    assert build_config("tiny", config, {}).problems == []


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])  # SIGHUP: the terminal closed
def test_signal_stops_at_once_saves_and_exits_0(tmp_path: Path, signum: int) -> None:
    run = tmp_path / "run"
    proc = subprocess.Popen([*CLI, "train", "--headless", "--preset", "tiny", "--max-steps", "100000", "--out",
                             str(run), "--max-new-tokens", "64", "--overlong-buffer", "8"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with ChildOutput(proc) as child:
        child.wait_for_line(lambda line: line.startswith("step 2/"), timeout=240)
        proc.send_signal(signum)
        assert child.finish(timeout=120) == 0, child.transcript()
    rest, err = child.stdout, child.stderr
    assert "stopping, saving a checkpoint" in rest and "resume with:" in rest
    checkpoints = sorted((run / "checkpoints").glob("step_*"))
    assert checkpoints and (checkpoints[-1] / "trainer_state.json").exists()
    assert (run / "final_model/config.json").exists()
    assert "Traceback" not in err


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_a_second_ctrl_c_gives_up_the_save_and_the_run_says_interrupted(tmp_path: Path) -> None:
    """The second SIGINT, sent once the first one's announcement is out (the final save held back by a
    fault the test injects, so the stop is still being saved), ends the process at once: exit 130, no
    traceback, no final model. training.log and run.json record the run as stopped (interrupted) at its last complete
    checkpoint, so `runs` does not call it crashed, and stderr says how to resume from there."""
    run = tmp_path / "run"
    proc = subprocess.Popen([*CLI, "train", "--headless", "--preset", "tiny", "--max-steps", "100000", "--out",
                             str(run), "--max-new-tokens", "64", "--overlong-buffer", "8", "--checkpoint-every", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=fault_env(stall_final_save=120))
    with ChildOutput(proc) as child:
        child.wait_for_line(lambda line: line.startswith("step 2/"), timeout=240)
        proc.send_signal(signal.SIGINT)
        child.wait_for_line(lambda line: "stopping, saving a checkpoint" in line, timeout=120)
        proc.send_signal(signal.SIGINT)
        assert child.finish(timeout=120) == 130, child.transcript()
    err = child.stderr
    assert "Traceback" not in err
    interrupted, resume = err.strip().splitlines()[-2:]
    assert interrupted == "arc-console: interrupted; whatever was saved before stays", err
    assert resume.startswith("arc-console: resume from the last complete checkpoint with: ")
    assert resume.endswith(f"train --resume {run} --headless"), err
    settings = json.loads((run / "logs/run.json").read_text())
    assert settings["stopped"]["reason"] == "interrupted" and settings["max_steps"] == 100000
    step = settings["stopped"]["step"]
    assert step >= 1 and (run / f"checkpoints/step_{step}/trainer_state.json").exists()
    assert not (run / "final_model").exists()
    assert f"stopped (interrupted) after step {step}" in (run / "logs/training.log").read_text()
    listed = json.loads(run_cli("runs", str(tmp_path), "--json").stdout)
    assert [(r["state"], r["why"]) for r in listed] == [("stopped", "interrupted")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-steps", "-3"], "max_steps must be at least 1"),
        (["--max-steps", "ten"], "expected an integer"),
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--model", "/nonexistent/model"], "no such model folder"),
        (["--tasks", "/nonexistent/tasks"], "no such file or folder"),
        (["--problems", "af902bf9,nope0000"], "unknown problem id"),
        (["--objective", "ppo"], "objective must be one of"),
        (["--top-p", "0"], "top_p must be in"),
        (["--resume", "/nonexistent/run"], "neither a run directory nor a checkpoint"),
        (["--config", "/nonexistent.toml"], "cannot read config"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    out = run_cli("train", "--headless", "--preset", "tiny", "--out", str(tmp_path / "run"), *args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("arc-console: error:") and message in lines[-1], out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run").exists()  # nothing is created before the input is validated


def test_a_failed_start_leaves_no_run_directory(tmp_path: Path) -> None:
    # No --out: the default runs/DATE-TIME below the working directory must not appear either.
    for args in (["--problems", "nosuchid"], ["--model", str(tmp_path / "nomodel")]):
        out = run_cli("train", "--headless", "--preset", "tiny", *args, cwd=tmp_path)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert not (tmp_path / "runs").exists(), args
    # A folder without config.json passes the first check and fails in setup: the new run folder goes too.
    (tmp_path / "notamodel").mkdir()
    out = run_cli("train", "--headless", "--preset", "tiny", "--model", str(tmp_path / "notamodel"),
                  "--out", str(tmp_path / "run"))
    assert out.returncode == 2 and "not a model folder" in out.stderr
    assert not (tmp_path / "run").exists()


def test_settings_errors_all_at_once_with_suggestions_and_their_file(tmp_path: Path) -> None:
    config = tmp_path / "typos.toml"
    config.write_text("max_step = 5\nnum_candidates = 1\nlearning_rat = 1e-4\ntop_p = 2.0\n")
    out = run_cli("train", "--headless", "--preset", "tiny", "--config", str(config), "--max-steps", "0",
                  "--out", str(tmp_path / "run"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    error = out.stderr.strip().splitlines()[-1]
    assert error.startswith("arc-console: error:")
    assert f"{config}: unknown setting 'max_step' (did you mean max_steps?)" in error
    assert f"{config}: unknown setting 'learning_rat' (did you mean learning_rate?)" in error
    assert f"{config}: num_candidates must be 2..256, got 1" in error
    assert f"{config}: top_p must be in (0, 1], got 2.0" in error
    assert "--max-steps: max_steps must be at least 1, got 0" in error
    assert not (tmp_path / "run").exists()


def test_the_resume_command_names_the_launcher_in_use(tmp_path: Path) -> None:
    from arc_console.cli.launcher import command_line

    import shlex

    make = command_line(["train", "--resume", "runs/a b"], launcher="make")
    assert shlex.split(make) == ["make", "train", "ARGS=--resume 'runs/a b'"]
    assert command_line(["train", "--resume", "runs/x"], launcher="", argv0="/opt/venv/bin/arc-console") == \
        "/opt/venv/bin/arc-console train --resume runs/x"
    # `make train` exports the launcher; what the CLI then prints is a make command that make accepts.
    makefile = REPO / "Makefile"
    dry = subprocess.run(["make", "-n", "-f", str(makefile), "train", "ARGS=--resume runs/x"], capture_output=True,
                         text=True, cwd=makefile.parent, timeout=60)
    assert "ARC_CONSOLE_LAUNCHER=make .venv/bin/arc-console train --resume runs/x" in dry.stdout, dry.stdout + dry.stderr


def test_bad_task_files_are_one_line_and_exit_2(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "ragged.json").write_text(json.dumps({"train": [{"input": [[1, 2], [3]], "output": [[1]]}],
                                                   "test": [{"input": [[1]], "output": [[1]]}]}))
    out = run_cli("train", "--headless", "--preset", "tiny", "--tasks", str(tasks), "--problems", "",
                  "--out", str(tmp_path / "run"))
    assert out.returncode == 2 and "ragged.json: task ragged" in out.stderr and "rows differ" in out.stderr
    assert "Traceback" not in out.stderr
