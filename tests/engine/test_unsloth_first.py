"""On the unsloth backend, `arc-console train` imports unsloth before anything imports transformers."""

import subprocess
import sys

import pytest


def test_nothing_imports_transformers_before_the_trainer_module() -> None:
    # Everything `train` imports before it calls import_unsloth_first and then imports the trainer.
    code = (
        "import sys\n"
        "import arc_console.cli, arc_console.cli.train, arc_console.config, arc_console.arc\n"
        "import arc_console.engine.checkpoint, arc_console.engine.control, arc_console.engine.run_restart\n"
        "import arc_console.engine.unsloth_first, arc_console.tui.headless, arc_console.tui.app\n"
        "assert 'transformers' not in sys.modules, 'transformers imported before unsloth could be'\n"
        "import arc_console.engine.trainer\n"
        "assert 'transformers' in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_other_backends_and_cpu_machines_import_nothing() -> None:
    from arc_console.engine.unsloth_first import import_unsloth_first

    import torch

    assert import_unsloth_first("hf") is False
    if not torch.cuda.is_available():
        assert import_unsloth_first("unsloth") is False and "unsloth" not in sys.modules


@pytest.mark.slow
def test_eval_imports_unsloth_before_transformers_on_the_backend_the_run_trained_on(tmp_path) -> None:
    """`eval` calls import_unsloth_first before anything imports transformers (Unsloth warned "should be
    imported before [transformers, peft]" on the GPU), with the backend it will load on: --backend, else
    the run's. The real command, with import_unsloth_first replaced by a recorder (no unsloth on a CPU)."""
    import json

    run_dir = tmp_path / "run"
    (run_dir / "final_model").mkdir(parents=True)
    (run_dir / "final_model" / "config.json").write_text("{}")  # the command stops once the model loads
    (run_dir / "logs").mkdir()
    (run_dir / "logs" / "run.json").write_text(json.dumps({"config": {"model": "tiny", "backend": "unsloth"}}))
    code = (
        "import sys\n"
        "import arc_console.engine.unsloth_first as first\n"
        "calls = []\n"
        "first.import_unsloth_first = lambda backend: calls.append((backend, 'transformers' in sys.modules))\n"
        "from arc_console.cli import main\n"
        "try:\n"
        f"    main(['eval', '--headless', '--model', {str(run_dir)!r}, '--limit', '1', '--out', {str(tmp_path / 'e')!r}]"
        " + sys.argv[1:])\n"
        "except BaseException:\n"
        "    pass\n"
        "print(calls)\n"
    )
    for extra, backend in (([], "unsloth"), (["--backend", "hf"], "hf")):
        out = subprocess.run([sys.executable, "-c", code, *extra], capture_output=True, text=True, timeout=300)
        assert out.stdout.splitlines()[-1] == str([(backend, False)]), out.stdout + out.stderr
