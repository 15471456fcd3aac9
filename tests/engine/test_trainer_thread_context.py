"""The trainer's thread sees the compile settings of the thread that made it (torch keeps them in
context variables; the CLI's early `import unsloth` sets them in the main thread)."""

import threading

import torch._dynamo.config as dynamo_config
import torch._inductor.config as inductor_config

from arc_console.engine.trainer_thread import TrainerThread


class SettingsSeenByTheTrainer:
    """Stands in for a Trainer: TrainerThread calls setup() and run(); these record what they see."""

    def __init__(self) -> None:
        self.seen: dict[str, object] = {}

    def setup(self) -> None:
        self.seen["setup"] = (dynamo_config.cache_size_limit, inductor_config.coordinate_descent_tuning)

    def run(self) -> None:
        self.seen["run"] = (dynamo_config.cache_size_limit, inductor_config.coordinate_descent_tuning)


def test_the_trainer_thread_runs_with_the_creating_threads_compile_settings() -> None:
    wanted = (dynamo_config.cache_size_limit + 91, not inductor_config.coordinate_descent_tuning)
    with dynamo_config.patch(cache_size_limit=wanted[0]), inductor_config.patch(coordinate_descent_tuning=wanted[1]):
        plain: dict[str, object] = {}
        bare = threading.Thread(target=lambda: plain.update(seen=dynamo_config.cache_size_limit))
        bare.start()
        bare.join()
        trainer = SettingsSeenByTheTrainer()
        worker = TrainerThread(trainer)  # type: ignore[arg-type]
        worker.start()
        assert worker.ready.wait(30)
        worker.start_training()
        worker.join(30)
    assert worker.setup_error is None and worker.run_error is None
    assert trainer.seen == {"setup": wanted, "run": wanted}
    # what the thread would have seen without the copied context (torch's settings are per context)
    assert plain["seen"] != wanted[0]
