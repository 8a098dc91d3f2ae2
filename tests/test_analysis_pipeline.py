"""analysis end to end on REAL toy trials (trainables.trial.execute, profile "tiny", shrunk further) plus a
failed run, read back from a temporary MLflow store: frame == logged numbers, figures == frame, report complete."""

from __future__ import annotations

import math
import re
import time

import mlflow
import numpy as np
import pytest
from scipy import stats as scipy_stats

from analysis import figures, load_explanations, load_sweep
from analysis.load import KIND_TAG, SUMMARY_KIND
from analysis.report import HTML_FILE, REPORT_RUN_NAME, main
from search_spaces import expand
from trainables import tracking
from trainables.spec import keys
from trainables.spec import format_epsilon
from trainables.trial import execute

pytestmark = pytest.mark.slow  # real trials through the trainable, then the report

SWEEP, PROFILE, TASK, BACKBONE, ATTENTION = "paper_grid", "tiny", "skin_lesion", "resnet50", "soft_faithful"
SHRINK = dict(max_train=32, max_test=16, max_eval=16, epochs=1, explain_samples=2, batch_size=16, eval_batch_size=16)
FAILED_RUN = f"{TASK}-{BACKBONE}-{ATTENTION}-head-s1"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """3 real trials (no attention x 2 seeds, attention x 1 seed), a failed run without metrics, then the report."""
    folder = tmp_path_factory.mktemp("analysis-pipeline")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    configs = [c for c in expand(SWEEP, PROFILE, seeds=2, overrides=SHRINK)
               if c.task == TASK and c.backbone == BACKBONE
               and (c.attention == "none" or (c.attention == ATTENTION and c.seed == 0))]
    assert len(configs) == 3
    client = mlflow.MlflowClient(uri)
    client.create_experiment(configs[0].experiment_name, artifact_location=str(folder / "artifacts"))
    experiment_id = tracking.ensure_experiment(uri, configs[0].experiment_name)
    returned = {c.run_name: execute(c, tracking_uri=uri, experiment_id=experiment_id, trial_id=c.run_name,
                                    report=lambda *a, **k: None) for c in configs}
    # One epoch on 32 images cannot beat the majority rate, so `learned` fails them, rightly. The report's plumbing
    # (pairing, claims, clinical) is tested on them as if they had learned: only a learned-only failure is cleared.
    for run in client.search_runs([experiment_id]):
        if run.data.tags.get(keys.TAG_CHECKS_FAILED) == "learned":
            client.set_tag(run.info.run_id, keys.TAG_CHECKS_FAILED, "")
            client.log_metric(run.info.run_id, "check/learned", 1.0)
    failed = client.create_run(experiment_id, run_name=FAILED_RUN)
    client.set_terminated(failed.info.run_id, "FAILED")
    out = folder / "report"
    started = time.perf_counter()
    status = main([SWEEP, "--profile", PROFILE, "--tracking-uri", uri, "--out", str(out)])
    return dict(uri=uri, client=client, experiment_id=experiment_id, configs=configs, returned=returned,
                out=out, status=status, report_seconds=time.perf_counter() - started)


def logged_metrics(sweep, run_name):
    runs = sweep["client"].search_runs([sweep["experiment_id"]], filter_string=f"attributes.run_name = '{run_name}'")
    return runs[0].data.metrics


def test_frame_holds_the_logged_numbers(sweep):
    frame = load_sweep(SWEEP, PROFILE, tracking_uri=sweep["uri"])
    assert frame["run_name"].nunique() == 4
    for config in sweep["configs"]:
        rows = frame[frame["run_name"] == config.run_name].set_index("epsilon")
        metrics = logged_metrics(sweep, config.run_name)
        assert list(rows.index) == list(config.epsilons)
        for eps in config.epsilons:
            assert rows.loc[eps, "accuracy"] == metrics[keys.ACC_AT_EPS + format_epsilon(eps)]
        for name in keys.OBJECTIVES:
            assert rows[name].iloc[0] == pytest.approx(sweep["returned"][config.run_name][name])
        assert (rows["status"] == "finished").all() and rows["seed"].iloc[0] == config.seed
        returned_failures = sweep["returned"][config.run_name]["checks_failed"]  # comma list of check names
        cleared = {"learned"}  # the fixture clears a learned-only failure (see sweep)
        assert set(rows["failed_checks"].iloc[0]) == {n for n in returned_failures.split(",") if n} - cleared
        assert rows["checks"].iloc[0] and all(isinstance(v, bool) for v in rows["checks"].iloc[0].values())


def test_failed_run_without_metrics_is_kept_as_failed(sweep):
    frame = load_sweep(SWEEP, PROFILE, tracking_uri=sweep["uri"])
    failed = frame[frame["run_name"] == FAILED_RUN]
    assert len(failed) == 1 and failed["status"].iloc[0] == "failed"
    assert math.isnan(failed["accuracy"].iloc[0]) and math.isnan(failed["clean_acc"].iloc[0])
    assert (failed["task"].iloc[0], failed["attention"].iloc[0], failed["seed"].iloc[0]) == (TASK, ATTENTION, 1)


def test_curve_figure_plots_the_logged_numbers_with_the_seed_band(sweep):
    frame = load_sweep(SWEEP, PROFILE, tracking_uri=sweep["uri"])
    axes = figures.accuracy_curves(frame, TASK, BACKBONE).axes[0]
    lines = {line.get_gid(): line for line in axes.get_lines() if line.get_gid()}
    epsilons = sweep["configs"][0].epsilons
    per_seed = np.array([[logged_metrics(sweep, f"{TASK}-{BACKBONE}-none-head-s{s}")[keys.ACC_AT_EPS + format_epsilon(e)]
                          for e in epsilons] for s in (0, 1)])
    baseline = lines["robust:no attention"].get_xydata()
    np.testing.assert_allclose(baseline[:, 0], epsilons)
    np.testing.assert_allclose(baseline[:, 1], per_seed.mean(axis=0))
    clean = [logged_metrics(sweep, f"{TASK}-{BACKBONE}-none-head-s{s}")[keys.CLEAN_ACC] for s in (0, 1)]
    np.testing.assert_allclose(lines["clean:no attention"].get_ydata(), np.mean(clean))
    attention = f"{ATTENTION} @ head"
    single = logged_metrics(sweep, f"{TASK}-{BACKBONE}-{ATTENTION}-head-s0")
    np.testing.assert_allclose(lines[f"robust:{attention}"].get_ydata(),
                               [single[keys.ACC_AT_EPS + format_epsilon(e)] for e in epsilons])
    bands = {c.get_gid(): c for c in axes.collections if c.get_gid()}
    assert set(bands) == {"band:no attention"}  # one seed: no band
    vertices = np.concatenate([p.vertices for p in bands["band:no attention"].get_paths()])
    half = scipy_stats.t.ppf(0.975, 1) * per_seed.std(axis=0, ddof=1) / math.sqrt(2)
    for k, eps in enumerate(epsilons):
        at_eps = vertices[np.isclose(vertices[:, 0], eps), 1]
        assert at_eps.min() == pytest.approx(np.clip(per_seed[:, k].mean() - half[k], 0, 1))
        assert at_eps.max() == pytest.approx(np.clip(per_seed[:, k].mean() + half[k], 0, 1))
    assert any(FAILED_RUN in t.get_text() for t in axes.figure.texts)


def test_explanation_arrays_round_trip(sweep, tmp_path):
    frame = load_sweep(SWEEP, PROFILE, tracking_uri=sweep["uri"])
    run_id = frame[frame["run_name"] == f"{TASK}-{BACKBONE}-none-head-s0"]["run_id"].iloc[0]
    arrays = load_explanations(run_id, tracking_uri=sweep["uri"], destination=tmp_path)
    samples, size = SHRINK["explain_samples"], sweep["configs"][0].image_size
    np.testing.assert_allclose(arrays["epsilons"], sweep["configs"][0].epsilons)
    assert arrays["images"].shape == (samples, size, size, 3)
    assert arrays["adversarial"].shape == (len(arrays["epsilons"]), samples, size, size, 3)
    assert arrays["perturbation"].dtype == np.uint8


def report_pages(out) -> str:
    """The front page and every detail page, the front page first."""
    return "".join(path.read_text() for path in sorted(out.glob("*.html"), key=lambda p: p.name != HTML_FILE))


def test_report_links_every_figure_and_is_logged_as_a_summary_run(sweep):
    assert sweep["status"] == 0
    out = sweep["out"]
    page = report_pages(out)
    sources = set(re.findall(r'<img src="([^"]+)"', page))
    pngs = {p.name for p in out.glob("*.png")}
    assert sources == pngs
    assert {f"accuracy_{TASK}_{BACKBONE}.png", f"placement_{TASK}_{BACKBONE}.png", "pareto.png", "checks.png",
            f"perturbation_{TASK}_{BACKBONE}.png", f"gradcam_{TASK}_{BACKBONE}.png"} <= pngs
    assert all((out / name).with_suffix(".pdf").is_file() for name in pngs)
    assert f"1 of 4 trial(s) without results (1 failed): {FAILED_RUN}" in page
    assert "<td>0.905</td>" in page and "Relative robust-accuracy gain of attention" in page

    client = sweep["client"]
    summaries = client.search_runs([sweep["experiment_id"]], filter_string=f"tags.{KIND_TAG} = '{SUMMARY_KIND}'")
    assert [r.info.run_name for r in summaries] == [REPORT_RUN_NAME]
    artifacts = {a.path for a in client.list_artifacts(summaries[0].info.run_id)}
    assert {HTML_FILE, "runs.csv", "summary.csv"} | pngs <= artifacts
    # the summary run is not a trial
    assert load_sweep(SWEEP, PROFILE, tracking_uri=sweep["uri"])["run_name"].nunique() == 4


def test_per_point_frame_reproduces_the_logged_accuracy_and_clinical_metrics(sweep):
    from analysis.points import load_points
    from trainables.spec import keys

    frame = load_sweep(SWEEP, PROFILE, tracking_uri=sweep["uri"])
    points = load_points(frame)
    assert points.attrs["missing"] == [] and set(points["run_name"]) == {c.run_name for c in sweep["configs"]}
    for config in sweep["configs"]:
        metrics = logged_metrics(sweep, config.run_name)
        rows = points[points["run_name"] == config.run_name]
        for eps in config.epsilons:
            at = rows[rows["epsilon"] == eps]
            assert at["robust"].mean() == pytest.approx(metrics[keys.ACC_AT_EPS + format_epsilon(eps)])
            recalls = [at.loc[at["label"] == k, "robust"].mean() for k in sorted(set(at["label"]))]
            assert np.nanmean(recalls) == pytest.approx(metrics[keys.clinical_key("balanced_acc", format_epsilon(eps))])
    assert (points.groupby(["run_id", "point"])["robust"].apply(lambda r: r.is_monotonic_decreasing)).all()


def test_report_has_the_claims_paired_comparisons_and_clinical_sections(sweep):
    page = report_pages(sweep["out"])
    for heading in ("The paper&#x27;s claims, checked", "Paired comparisons on the same images",
                    "Clinical metrics under attack", "Robustness radius", "Epsilon units"):
        assert heading in page or heading.replace("&#x27;", "'") in page
    assert f"paired_{TASK}_{BACKBONE}.png" in {p.name for p in sweep["out"].glob("*.png")}
    pooled = (sweep["out"] / "paired_pooled.csv").read_text().splitlines()
    assert len(pooled) > 1  # seed 0 of attention has its baseline: one row per attack and epsilon
    assert "no baseline trial" not in page  # every attention trial here is paired
