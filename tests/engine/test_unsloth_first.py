"""On the unsloth backend, `arc-console train` imports unsloth before anything imports transformers."""

import subprocess
import sys


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
