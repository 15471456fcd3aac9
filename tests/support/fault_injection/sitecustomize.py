"""Started by Python in a test's child process (this folder is on its PYTHONPATH: faults.fault_env): once
arc_console.engine.trainer is imported, faults.install_from_environment patches it. Nothing is imported
before that, so the child starts and refuses bad input exactly as it does without the faults."""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path
from typing import Any

TARGET = "arc_console.engine.trainer"
FAULTS = Path(__file__).resolve().parent.parent / "faults.py"  # loaded by its path: nothing else joins sys.path


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != TARGET:
            return None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    break
        else:
            return None
        load = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            load(module)
            faults_spec = importlib.util.spec_from_file_location("_arc_console_test_faults", FAULTS)
            faults = importlib.util.module_from_spec(faults_spec)
            faults_spec.loader.exec_module(faults)
            faults.install_from_environment(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _PatchOnImport())
