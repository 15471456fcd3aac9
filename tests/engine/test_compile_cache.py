"""The compile cache (engine/compile_cache.py): a second process of the same model, settings and versions
finds torch.compile's artifacts on disk (torch's own hit counters say so), a cache made for anything else is
never read and the line says what differs, an untrusted root is not used, the user's own setting wins."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arc_console.engine.compile_cache import (
    ACTIVE_VARIABLE,
    KEEP_CACHES,
    MANIFEST,
    activate_compile_cache,
    cache_manifest,
    describe_differences,
    manifest_key,
)
from arc_console.engine.model_path import tiny_model_path

SETTINGS = {"backend": "hf", "num_candidates": 8, "max_new_tokens": 32}

# A fresh process: activate the cache for the tiny model, compile a function with inductor (its CPU backend),
# print the cache's state and torch's own counters for its on-disk caches.
CHILD = """
import json, sys, torch
from arc_console.engine.compile_cache import activate_compile_cache, cache_counters
cache = activate_compile_cache(sys.argv[1], json.loads(sys.argv[2]))
fn = torch.compile(lambda x, y: torch.nn.functional.silu(x @ y) * 2 + x.sum(), dynamic=False)
fn(torch.randn(8, 8), torch.randn(8, 8))
print(json.dumps({"state": cache.state, "message": cache.message, **cache_counters()}))
"""


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The process's cache variables restored after the test; the root under tmp_path."""
    for variable in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "ARC_CONSOLE_COMPILE_CACHE", ACTIVE_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ARC_CONSOLE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "compile"


def _run_child(model: str, settings: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")}
    out = subprocess.run([sys.executable, "-c", CHILD, model, json.dumps(settings)], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.timeout(900)  # three fresh processes that import torch and compile
@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                    reason="inductor's CPU backend needs a C++ compiler")
def test_a_second_process_reuses_what_the_first_compiled(clean_env: Path) -> None:
    model = str(tiny_model_path())
    cold = _run_child(model, SETTINGS)
    assert cold["state"] == "cold" and "compiling from scratch" in cold["message"]
    assert cold["fxgraph_cache_miss"] >= 1 and cold["fxgraph_cache_hit"] == 0
    warm = _run_child(model, SETTINGS)
    assert warm["state"] == "warm" and "reusing" in warm["message"]
    assert warm["fxgraph_cache_hit"] >= 1 and warm["fxgraph_cache_miss"] == 0
    # Other settings: another folder, cold again, and the line names what differs from the cached one.
    other = _run_child(model, {**SETTINGS, "num_candidates": 4})
    assert other["state"] == "cold" and "num_candidates 8 -> 4" in other["message"]
    assert other["fxgraph_cache_hit"] == 0
    assert len([p for p in clean_env.iterdir() if p.is_dir()]) == 2


def test_a_cache_from_another_version_is_ignored_with_a_line(clean_env: Path) -> None:
    model = str(tiny_model_path())
    manifest = cache_manifest(model, SETTINGS)
    older = json.loads(json.dumps(manifest))
    older["versions"]["torch"] = "2.0.0"
    older_folder = clean_env / manifest_key(older)
    older_folder.mkdir(parents=True, mode=0o700)
    clean_env.chmod(0o700)
    (older_folder / MANIFEST).write_text(json.dumps(older))
    (older_folder / "inductor").mkdir()
    cache = activate_compile_cache(model, SETTINGS)
    assert cache.state == "cold" and cache.directory != older_folder
    assert f"{older_folder.name}, is ignored: it differs in torch 2.0.0 -> " in cache.message
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(cache.directory / "inductor")
    assert os.environ["TRITON_CACHE_DIR"] == str(cache.directory / "triton")


def test_another_model_shape_gets_its_own_folder(clean_env: Path, tmp_path: Path) -> None:
    from arc_console.engine.model_factory import make_model

    small = make_model("small", tmp_path / "small")
    tiny = activate_compile_cache(str(tiny_model_path()), SETTINGS)
    other = activate_compile_cache(str(small), SETTINGS)
    assert other.directory != tiny.directory and other.state == "cold"
    assert "hidden_size" in other.message and "differs in" in other.message
    again = activate_compile_cache(str(tiny_model_path()), SETTINGS)
    assert again.state == "warm" and again.directory == tiny.directory


def test_a_folder_that_is_not_what_its_key_says_is_emptied_not_trusted(clean_env: Path) -> None:
    model = str(tiny_model_path())
    first = activate_compile_cache(model, SETTINGS)
    planted = first.directory / "inductor" / "planted.py"
    planted.write_text("print('not ours')")
    manifest = json.loads((first.directory / MANIFEST).read_text())
    manifest["settings"]["num_candidates"] = 99
    (first.directory / MANIFEST).write_text(json.dumps(manifest))
    again = activate_compile_cache(model, SETTINGS)
    assert again.state == "cold" and "not trusted" in again.message
    assert not planted.exists() and json.loads((again.directory / MANIFEST).read_text())["settings"] == SETTINGS


@pytest.mark.skipif(os.name != "posix", reason="POSIX ownership and modes")
def test_a_root_others_can_write_is_not_used(clean_env: Path) -> None:
    clean_env.mkdir(parents=True)
    clean_env.chmod(0o777)
    cache = activate_compile_cache(str(tiny_model_path()), SETTINGS)
    assert cache.state == "off" and "writable by other users" in cache.message
    assert "TORCHINDUCTOR_CACHE_DIR" not in os.environ and not any(clean_env.iterdir())


def test_the_users_own_inductor_folder_and_the_off_switch_win(clean_env: Path, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    cache = activate_compile_cache(str(tiny_model_path()), SETTINGS)
    assert cache.state == "user" and str(tmp_path / "mine") in cache.message
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "mine") and not clean_env.exists()
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    monkeypatch.setenv("ARC_CONSOLE_COMPILE_CACHE", "0")
    assert activate_compile_cache(str(tiny_model_path()), SETTINGS).state == "off"
    assert "TORCHINDUCTOR_CACHE_DIR" not in os.environ


def test_a_folder_activated_by_the_parent_process_is_not_taken_for_the_users(clean_env: Path, monkeypatch,
                                                                             tmp_path: Path) -> None:
    # A launcher activated the cache under another root, and the variables reached this process.
    monkeypatch.setenv("ARC_CONSOLE_CACHE", str(tmp_path / "parents"))
    parents = activate_compile_cache(str(tiny_model_path()), SETTINGS)
    monkeypatch.setenv("ARC_CONSOLE_CACHE", str(tmp_path / "cache"))
    mine = activate_compile_cache(str(tiny_model_path()), SETTINGS)
    assert mine.state == "cold" and mine.directory != parents.directory
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(mine.directory / "inductor")


def test_only_the_most_recently_used_folders_are_kept(clean_env: Path) -> None:
    clean_env.mkdir(parents=True, mode=0o700)
    old = time.time() - 7200
    for index in range(KEEP_CACHES + 3):
        folder = clean_env / f"old{index:02d}"
        folder.mkdir()
        (folder / MANIFEST).write_text("{}")
        os.utime(folder / MANIFEST, (old + index, old + index))
    cache = activate_compile_cache(str(tiny_model_path()), SETTINGS)
    assert "removed 4 older cache folders" in cache.message
    kept = sorted(p.name for p in clean_env.iterdir())
    assert cache.directory.name in kept and "old00" not in kept and "old10" in kept and len(kept) == KEEP_CACHES


def test_differences_read_as_old_to_new() -> None:
    old = {"versions": {"torch": "2.10.0"}, "model": {"hidden_size": 64}, "settings": {"rows": 8}}
    new = {"versions": {"torch": "2.11.0"}, "model": {"hidden_size": 2880}, "settings": {"rows": 8}}
    assert describe_differences(old, new) == "model hidden_size 64 -> 2880, torch 2.10.0 -> 2.11.0"


@pytest.mark.slow
@pytest.mark.timeout(900)  # two training processes
def test_training_and_its_resume_log_the_cache(tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = dict(os.environ, ARC_CONSOLE_CACHE=str(tmp_path / "cache"))
    common = ["--max-new-tokens", "8", "--overlong-buffer", "2", "--num-candidates", "3"]
    for args in (["--preset", "tiny", "--max-steps", "1", "--out", str(run), *common],
                 ["--resume", str(run), "--max-steps", "2"]):
        out = subprocess.run([sys.executable, "-m", "arc_console", "train", "--headless", *args], capture_output=True,
                             text=True, env=env, timeout=600)
        assert out.returncode == 0, out.stderr
    lines = [l for l in (run / "logs" / "training.log").read_text().splitlines() if "compile cache:" in l]
    assert len(lines) == 2 and "compiling from scratch into" in lines[0] and "reusing" in lines[1]
    assert str(tmp_path / "cache" / "compile") in lines[0]
