"""A trial's worker SIGKILLed during the ensemble and again during certification resumes its evaluation from the
checkpoint and logs exactly what an uninterrupted run of the same trial logs (issue #25)."""

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
import ray

from hooks import callback
from sweep.run import main
from trainables.spec import keys

pytestmark = pytest.mark.slow

SWEEPS_FILE = str(Path(__file__).with_name("toy_sweeps.py"))
EXPERIMENT = "toy_certify-tiny"
# the run's own record of where it is and how long things took differ between the two runs by design
VARYING = (keys.TIME, keys.EVAL_PROGRESS_METRIC, keys.PEAK_RSS_MB, keys.PEAK_PRIVATE_MB)


def sweep_argv(folder, *extra) -> list[str]:
    return ["toy_certify", "--profile", "tiny", "--sweeps-file", SWEEPS_FILE, "--tracking-uri",
            f"sqlite:///{folder}/mlflow.db", "--storage", str(folder / "ray"), *extra]


def only_run(folder):
    client = mlflow.MlflowClient(f"sqlite:///{folder}/mlflow.db")
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = [r for r in client.search_runs([experiment.experiment_id]) if "kind" not in r.data.tags]
    assert len(runs) == 1
    return client, runs[0]


def arrays(client, run, artifact) -> dict[str, np.ndarray]:
    path = client.download_artifacts(run.info.run_id, artifact)
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def test_evaluation_killed_twice_resumes_to_the_uninterrupted_outcomes(tmp_path):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    killed.mkdir()
    whole.mkdir()
    kills = [["apgd_ce/", 3], ["certify/certify/", 3]]  # the 3rd APGD-CE unit, then the 3rd certification unit
    hook = json.dumps({callback("kill_at_units"): {"kills": kills, "folder": str(killed)}})
    ray.init(num_cpus=2, include_dashboard=False)  # a tiny trial takes 1 CPU: the two sweeps run side by side
    try:
        uninterrupted_driver = subprocess.Popen(
            [sys.executable, "-m", "sweep.run", *sweep_argv(whole, "--address", ray.get_runtime_context().gcs_address)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert main(sweep_argv(killed, "--set", f"eval_callbacks={hook}")) == 0
            output, _ = uninterrupted_driver.communicate(timeout=600)
        finally:
            if uninterrupted_driver.poll() is None:
                uninterrupted_driver.kill()
        assert uninterrupted_driver.returncode == 0, output[-3000:]
    finally:
        ray.shutdown()
    assert sorted(p.name for p in killed.glob("killed-*")) == ["killed-0", "killed-1"]

    client, resumed = only_run(killed)
    whole_client, uninterrupted = only_run(whole)
    assert resumed.info.status == "FINISHED" and resumed.data.tags[keys.TAG_ATTEMPTS] == "3"
    assert uninterrupted.data.tags[keys.TAG_ATTEMPTS] == "1"
    for artifact in (keys.POINTS_ARTIFACT, keys.CERTIFIED_ARTIFACT):
        expected, got = arrays(whole_client, uninterrupted, artifact), arrays(client, resumed, artifact)
        assert sorted(got) == sorted(expected)
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=f"{artifact}: {name}")
    logged = {k: v for k, v in resumed.data.metrics.items() if not k.startswith(VARYING)}
    assert logged == {k: v for k, v in uninterrupted.data.metrics.items() if not k.startswith(VARYING)}

    # the run shows how far the evaluation got, and the restarts replayed the saved units instead of redoing them
    assert "points" in resumed.data.tags[keys.EVAL_PROGRESS]
    replayed = [m.value for m in client.get_metric_history(resumed.info.run_id,
                                                           keys.EVAL_PROGRESS_METRIC + "units_replayed")]
    assert max(replayed) > 0
