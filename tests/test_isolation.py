"""A trial leaves no graph state behind in its worker process, and a second trial there gives identical numbers."""

import gc
import re
import subprocess
import sys
import tempfile

import mlflow
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from search_spaces import expand  # noqa: E402
from trainables.spec import keys
from trainables import tracking, training  # noqa: E402
from trainables.runtime import isolation  # noqa: E402
from trainables.models import build_model  # noqa: E402
from trainables.trial import execute  # noqa: E402


def function_names() -> list[str]:
    from tensorflow.python.eager import context

    return context.context().list_function_names()


def train_small_model(config) -> None:
    """A mini ResNet-50 trained for one step through the project's compile_model (Adam; Keras fit)."""
    model = build_model("resnet50", "none", 3, input_shape=(32, 32, 3), weights=None, scale="mini")
    training.compile_model(model, config)
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 32, 32, 3), dtype=np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)


@pytest.fixture(scope="module")
def config():
    return expand("paper_grid", "tiny")[0]


@pytest.mark.slow  # trains a model: seconds
def test_optimizer_variables_are_not_created_inside_the_traced_train_step(config):
    with isolation.trial_scope():
        before = set(function_names())
        train_small_model(config)
        added = set(function_names()) - before
    # variables created while tracing get tf.cond initializers: two branch functions per optimizer variable
    assert added and not [name for name in added if re.search(r"_cond_(true|false)_\d+$", name)]


@pytest.mark.slow  # trains a model three times
def test_trial_scope_leaves_no_functions_or_gradient_registrations(config):
    with isolation.trial_scope():
        train_small_model(config)  # warm-up: TensorFlow's own one-time functions
    functions, gradients = len(function_names()), isolation.custom_gradient_count()
    for _ in range(2):
        with isolation.trial_scope():
            train_small_model(config)
            assert isolation.custom_gradient_count() > gradients  # the optimizer's all_reduce registered one
    assert isolation.custom_gradient_count() == gradients
    assert len(function_names()) == functions  # the train-step graphs, no longer pinned by the registry, are gone


@pytest.mark.slow  # three whole trials through execute()
def test_same_trial_twice_in_one_process_gives_identical_results_and_a_finished_trial_is_not_rerun():
    trial = expand("paper_grid", "tiny", overrides=dict(max_train=32, max_test=16, max_eval=16, epochs=1,
                                                        explain_samples=2, batch_size=16, eval_batch_size=16))[1]
    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{folder}/mlflow.db"
        experiment_id = tracking.ensure_experiment(uri, trial.experiment_name)
        results = []
        for attempt in range(2):
            metrics = execute(trial, tracking_uri=uri, experiment_id=experiment_id, trial_id=f"t{attempt}",
                              report=lambda *a, **k: None)
            results.append({k: v for k, v in metrics.items() if not k.startswith("time/") and k not in ("peak_rss_mb", "peak_private_mb")})
        assert results[0] == results[1]
        assert {"clean_acc", "robust_objective"} <= set(results[0])

        # the same trial id again (a resumed driver that had not recorded the trial's end): its logged results
        reported = []
        again = execute(trial, tracking_uri=uri, experiment_id=experiment_id, trial_id="t0",
                        report=lambda metrics, **_: reported.append(metrics))
        runs = mlflow.MlflowClient(uri).search_runs([experiment_id])
    assert reported == [again]
    assert {k: again[k] for k in results[0]} == results[0]
    assert len(runs) == 2 and all(r.data.tags[keys.TAG_ATTEMPTS] == "1" for r in runs)


def test_trial_scope_runs_one_full_collection():
    full_collections = []

    def count(phase, info):
        if phase == "start" and info["generation"] == 2:
            full_collections.append(info)

    gc.callbacks.append(count)
    gc.disable()  # only explicit collections count: no automatic one may start inside
    try:
        with isolation.trial_scope():
            pass
    finally:
        gc.enable()
        gc.callbacks.remove(count)
    assert len(full_collections) == 1  # each one walks ~0.8 M library objects (~0.5 s on 2 CPUs)


def test_freeze_survivors_freezes_once_per_process():
    code = """
import gc
from trainables.runtime import isolation
isolation.freeze_survivors()
first = gc.get_freeze_count()
survivors = [[i] for i in range(1000)]
isolation.freeze_survivors()
print(first, gc.get_freeze_count())
"""
    first, second = map(int, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                             check=True).stdout.split())
    assert first > 1000 and second == first


class Killed(Exception):
    """The trial dies right after an epoch was logged, before Ray recorded that epoch's checkpoint."""


@pytest.mark.slow  # two whole trials through execute()
def test_a_trial_restarted_from_an_older_checkpoint_logs_each_epoch_once():
    trial = expand("paper_grid", "tiny", overrides=dict(max_train=32, max_test=16, max_eval=16, epochs=2,
                                                        explain_samples=2, batch_size=16, eval_batch_size=16))[0]

    def report_until(last_epoch):
        def report(metrics, **_):
            if metrics.get("epoch") == last_epoch:
                raise Killed

        return report

    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{folder}/mlflow.db"
        experiment_id = tracking.ensure_experiment(uri, trial.experiment_name)
        for last_epoch in (1, 2):  # the restart has no checkpoint: it trains epoch 1 again, then epoch 2
            with pytest.raises(Killed):
                execute(trial, tracking_uri=uri, experiment_id=experiment_id, trial_id="t0",
                        report=report_until(last_epoch))
        client = mlflow.MlflowClient(uri)
        (run,) = client.search_runs([experiment_id])
        for name in ("train_loss", "val_accuracy"):
            assert sorted(m.step for m in client.get_metric_history(run.info.run_id, name)) == [1, 2]
