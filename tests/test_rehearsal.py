"""The rehearsal profile: the paper's full-size model, image size and recipe code path end to end on CPU, one trial."""

import contextlib
import io
import json

import mlflow
import pytest
import ray

from hooks import callback
from search_spaces import expand
from sweep.run import main
from trainables.spec import keys

pytestmark = pytest.mark.slow


def test_rehearsal_runs_one_paper_size_trial_on_cpu(tmp_path):
    only = ["--only", "task=pneumothorax", "--only", "backbone=resnet50", "--only", "attention=soft_faithful"]
    (trial,) = [t for t in expand("paper_grid", "rehearsal") if t.task == "pneumothorax"
                and t.backbone == "resnet50" and t.attention == "soft_faithful"]
    assert (trial.scale, trial.image_size, trial.gpus_per_trial, trial.batch_size) == ("full", 224, 0, 32)
    assert (trial.learning_rate, trial.adam_epsilon, trial.class_weighting) == (0.01, 0.1, True)  # the paper's recipe
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            # the worker is SIGKILLed after its first APGD-CE unit (issue #25: the evaluation resumes from its checkpoint)
            kill = json.dumps({callback("kill_at_units"): {"kills": [["apgd_ce/", 1]], "folder": str(tmp_path)}})
            code = main(["paper_grid", "--profile", "rehearsal", *only, "--tracking-uri", uri,
                         "--storage", str(tmp_path / "ray"), "--set", "epsilons=[0.01,0.32]",  # 2 of 9: CI time
                         "--set", "corruptions=modality",  # 4 of the 19 (all 19 add ~15 s): CI time
                         "--set", f"eval_callbacks={kill}"])
    finally:
        ray.shutdown()
    assert code == 0, output.getvalue()
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("paper_grid-rehearsal")
    (run,) = [r for r in client.search_runs([experiment.experiment_id]) if "kind" not in r.data.tags]
    assert run.info.run_name == "pneumothorax-resnet50-soft_faithful-head-s0" and run.info.status == "FINISHED"
    params, metrics = run.data.params, run.data.metrics
    assert (params["scale"], params["image_size"], params["backbone"]) == ("full", "224", "resnet50")
    # the paper's ResNet-50 + soft attention, 2 classes (the 7-class model has 23,911,319)
    assert int(params["model.total_params"]) == 23_911_319 - 5 * 4097
    assert int(params["model.attention_params"]) == 294_928
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == 2
    assert 0.0 <= metrics["clean_acc"] <= 1.0 and "acc_at_eps/0.32" in metrics
    corrupted = {name.split("/")[1] for name in metrics if name.startswith("corrupt_acc/")}
    assert corrupted == {"burn_in", "wires_pins", "gamma_window", "grid_lines"}  # the chest X-ray ones only
    assert metrics["peak_private_mb"] > 0 and metrics["peak_rss_mb"] >= metrics["peak_private_mb"]
    # killed once during the ensemble: the run shows how far its evaluation got, and the restart replayed PGD's units
    assert (tmp_path / "killed-0").exists() and run.data.tags[keys.TAG_ATTEMPTS] == "2"
    assert run.data.tags[keys.EVAL_PROGRESS].endswith("from the checkpoint)")
    history = {name: [m.value for m in client.get_metric_history(run.info.run_id, keys.EVAL_PROGRESS_METRIC + name)]
               for name in ("units_done", "units_replayed")}
    assert history["units_done"] and max(history["units_replayed"]) > 0
