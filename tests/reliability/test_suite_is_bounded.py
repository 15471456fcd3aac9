"""The suite cannot hang: every subprocess call in tests/ has a deadline, and a child's output is read only
through tests/support/child_output.py (whose every wait has one). Read from the tests' own source."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from paths import REPO

TESTS = REPO / "tests"
HELPER = TESTS / "support" / "child_output.py"
BLOCKING = {"run", "call", "check_call", "check_output"}  # subprocess's functions that wait for the child


def sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in sorted(TESTS.rglob("*.py"))]


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(REPO)}:{node.lineno}"


def keywords(call: ast.Call) -> set[str | None]:
    return {k.arg for k in call.keywords}


def popen_names(tree: ast.Module) -> set[str]:
    """Names bound to a Popen in this module: `x = subprocess.Popen(...)`, or the first of a tuple returned by a
    function of the module that makes one (`proc, master = start_in_pty(...)`)."""
    starters = {f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                and any(isinstance(c, ast.Attribute) and c.attr == "Popen" for c in ast.walk(f))}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            target = node.targets[0]
            first = target.elts[0] if isinstance(target, ast.Tuple) else target
            if isinstance(first, ast.Name) and (called == "Popen" or called in starters):
                names.add(first.id)
    return names


def test_every_subprocess_call_has_a_timeout() -> None:
    missing = []
    for path, tree in sources():
        waited = popen_names(tree) | {"proc"}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            func = node.func
            receiver = func.value.id if isinstance(func.value, ast.Name) else None
            if receiver == "subprocess" and func.attr in BLOCKING and "timeout" not in keywords(node):
                missing.append(where(path, node))
            if func.attr == "communicate" and "timeout" not in keywords(node):
                missing.append(where(path, node))
            if func.attr == "wait" and receiver in waited and not node.args and "timeout" not in keywords(node):
                missing.append(where(path, node))
    assert not missing, f"subprocess calls without a timeout: {missing}"


def test_a_childs_output_is_read_only_through_the_helper() -> None:
    """`for line in proc.stdout`, readline() on a pipe, or os.read() on a terminal wait for ever on a child that
    hangs without closing its output: ChildOutput's waits fail the test with what was read instead."""
    found = []
    for path, tree in sources():
        if path == HELPER:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.For) and isinstance(node.iter, ast.Attribute) and node.iter.attr in ("stdout", "stderr"):
                found.append(where(path, node))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                func = node.func
                on_pipe = isinstance(func.value, ast.Attribute) and func.value.attr in ("stdout", "stderr")
                if (func.attr in ("readline", "readlines", "read") and on_pipe) or (
                        func.attr == "read" and getattr(func.value, "id", None) == "os"):
                    found.append(where(path, node))
    assert not found, f"a child's output read without a deadline (use child_output.ChildOutput): {found}"


def test_every_test_has_a_time_limit() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "pytest-timeout" in " ".join(tomllib.loads((REPO / "pyproject.toml").read_text())
                                        ["project"]["optional-dependencies"]["dev"])
    assert int(config["timeout"]) > 0
    assert "--durations=25" in (REPO / "Makefile").read_text()
