import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# One cache of the built-in tiny model for the whole session, away from the user's own cache.
if "ARC_CONSOLE_CACHE" not in os.environ:
    _SESSION_CACHE = tempfile.mkdtemp(prefix="arc-console-test-cache-")
    os.environ["ARC_CONSOLE_CACHE"] = _SESSION_CACHE

    def pytest_unconfigure(config: pytest.Config) -> None:
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Hypothesis's default deadline (200 ms an example) measures the machine, not the code: beside torch in the
# other worker on 2 shared cores an example can take longer, and the test fails. The suite's time limit is
# pytest-timeout's (pyproject); the examples have none of their own.
settings.register_profile("suite", deadline=None, print_blob=True)
settings.load_profile("suite")


def pytest_configure(config: pytest.Config) -> None:
    # Under pytest-xdist (`make test`) the workers share the cores: torch's default of one thread per
    # core in each of them would oversubscribe the machine, and a parallel op waits on a descheduled thread.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


# Trained runs that tests in several files read, trained once per session (and per xdist worker: the tests
# that use one are grouped onto one worker below).
SHARED_RUNS = ("early_stopped_toy_run",)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `make test` distributes with --dist loadgroup: the tests of a module that share a module- or
    # class-scoped fixture (a training run, a loaded policy) go to one worker, so the fixture is built
    # once, and so do the tests of any file that use one of SHARED_RUNS; every other test is handed out
    # on its own to whichever worker is free.
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # in one process there is nothing to group
        return
    for item in items:
        fixture_info = getattr(item, "_fixtureinfo", None)
        if fixture_info is None or item.get_closest_marker("xdist_group"):
            continue
        shared = [name for name in SHARED_RUNS if name in fixture_info.name2fixturedefs]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
            continue
        scopes = {definition.scope for definitions in fixture_info.name2fixturedefs.values()
                  for definition in definitions}
        if scopes & {"class", "module", "package"}:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    # The slow ones first. pytest-xdist hands out the groups (largest first), then the single tests in this order:
    # a test of minutes handed out last keeps one worker busy while the other has nothing left (the tail). A
    # group moves as a whole (its files stay in order, so a module's fixture is built once).
    slow_groups = {marker.args[0] for item in items if item.get_closest_marker("slow")
                   for marker in [item.get_closest_marker("xdist_group")] if marker is not None}

    def slow_first(item: pytest.Item) -> int:
        group = item.get_closest_marker("xdist_group")
        return 0 if (group.args[0] in slow_groups if group is not None else item.get_closest_marker("slow")) else 1

    items.sort(key=slow_first)


@pytest.fixture(scope="session")
def early_stopped_toy_run(tmp_path_factory: pytest.TempPathFactory):
    """(run directory, Stopped) of a tiny run on three toy tasks that stopped early after two perfect problems
    (tests/support/trained_runs.py); read by the trainer's and watch's tests."""
    from trained_runs import train_early_stopped_run

    return train_early_stopped_run(tmp_path_factory.mktemp("early-stop"))

@pytest.fixture(scope="session")
def warm_cli():
    """A warm launcher of `arc-console` processes (tests/support/warm_cli.py), started once per worker when a
    test first asks for it: each process it starts is a fresh one without the seconds of imports."""
    from warm_cli import WarmCli

    with WarmCli() as warm:
        yield warm

# A problem the tiny model can represent: answer the 1x1 grid [[3]].
TOY_TASK = {"train": [{"input": [[3]], "output": [[3]]}], "test": [{"input": [[3]], "output": [[3]]}]}


@pytest.fixture
def toy_task_file(tmp_path: Path) -> Path:
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(TOY_TASK))
    return path


@pytest.fixture
def toy_tasks_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "toys"
    folder.mkdir()
    for name, colour in (("toy3", 3), ("toy5", 5), ("toy7", 7)):
        task = {"train": [{"input": [[colour]], "output": [[colour]]}],
                "test": [{"input": [[colour]], "output": [[colour]]}]}
        (folder / f"{name}.json").write_text(json.dumps(task))
    return folder


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """Whatever a test sets torch's thread count to (the trainer sets it from --cpu-threads), the next test
    starts with the count the process had."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    yield
    torch = sys.modules.get("torch")
    if torch is not None and before is not None and torch.get_num_threads() != before:
        torch.set_num_threads(before)
