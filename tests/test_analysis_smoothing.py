"""The report's randomized-smoothing section: certified trials read back from MLflow, the bracket table and band
figure, the certified-radius curve, attention vs baseline paired by seed, and reports without certified trials
unchanged."""

from __future__ import annotations

import re

import mlflow
import numpy as np
import pytest

from analysis import figures
from analysis.load import load_smoothing, load_sweep
from analysis.report import build_report
from analysis.smoothing import G_NOT_F, bracket_table, certified_comparison, smoothing_lines
from analysis.stats import binomial_floor, seed_interval
from trainables.spec import format_epsilon
from trainables.spec import keys

LADDER = (0.001, 0.004)
POINTS = 200
CERTIFIED = {  # (attention, seed) -> certified accuracy at eps 0, 0.001, 0.004
    ("none", 0): (0.60, 0.40, 0.10), ("none", 1): (0.70, 0.50, 0.20),
    ("soft_faithful", 0): (0.65, 0.50, 0.10), ("soft_faithful", 1): (0.80, 0.55, 0.30),
}


def log_trial(client, experiment_id: str, attention: str, seed: int, *, certify: bool) -> None:
    run = client.create_run(experiment_id, run_name=f"skin_lesion-resnet50-{attention}-head-n0.25-s{seed}")
    params = {"task": "skin_lesion", "backbone": "resnet50", "scale": "mini", "attention": attention,
              "placement": "head", "seed": str(seed), "noise_sigma": "0.25", "sweep": "smoothing_grid",
              "profile": "smoke", "epsilons": ",".join(map(str, LADDER))}
    for key, value in params.items():
        client.log_param(run.info.run_id, key, value)
    client.set_tag(run.info.run_id, keys.TAG_STATUS, keys.STATUS_FINISHED)
    metrics = {keys.CLEAN_ACC: 0.8, keys.ACC_AT_EPS + "0": 0.8, **{keys.ACC_AT_EPS + format_epsilon(e): 0.3
                                                                     for e in LADDER}}
    if certify:
        metrics[keys.CERTIFIED_POINTS] = POINTS
        certified = CERTIFIED[(attention, seed)]
        for eps, value in zip((0.0, *LADDER), certified):
            metrics[keys.CERTIFIED_ACC_AT_EPS + format_epsilon(eps)] = value
            metrics[keys.SMOOTHED_ACC_AT_EPS + format_epsilon(eps)] = value + 0.1
        metrics.update({keys.CERTIFIED_ACC_AT_L2 + format_epsilon(r): certified[0] * (1 - r) for r in (0.0, 0.5)})
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)


def make_store(tmp_path, *, certify: bool) -> str:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    experiment_id = client.create_experiment("smoothing_grid-smoke")
    for attention, seed in CERTIFIED:
        log_trial(client, experiment_id, attention, seed, certify=certify)
    return uri


@pytest.fixture(scope="module")
def certified_store(tmp_path_factory):
    uri = make_store(tmp_path_factory.mktemp("certified"), certify=True)
    frame = load_sweep("smoothing_grid", "smoke", tracking_uri=uri)
    return frame, load_smoothing(frame)


def test_the_certified_numbers_round_trip_into_the_bracket_table(certified_store):
    _, smoothing = certified_store
    table = bracket_table(smoothing)
    assert len(table) == 2 * 3  # two models x (clean + ladder)
    for (attention, eps), row in table.set_index(["attention", "epsilon"]).iterrows():
        column = (0.0, *LADDER).index(eps)
        expected = np.mean([CERTIFIED[(attention, seed)][column] for seed in (0, 1)])
        assert row["certified"] == pytest.approx(expected) and row["smoothed"] == pytest.approx(expected + 0.1)
        assert row["base"] == pytest.approx(0.8 if eps == 0 else 0.3) and row["seeds"] == 2


def test_attention_vs_baseline_is_paired_by_seed_with_a_t_interval(certified_store):
    """The t-interval over seeds uses the SD its test uses: the observed one, floored at the binomial SE."""
    _, smoothing = certified_store
    comparison = certified_comparison(smoothing).set_index("epsilon")
    for column, eps in enumerate((0.0, *LADDER)):
        attention, baseline = ([CERTIFIED[(model, s)][column] for s in (0, 1)] for model in ("soft_faithful", "none"))
        differences = np.subtract(attention, baseline)
        interval = seed_interval(differences, floor=binomial_floor(1.0, -1.0, attention, baseline, [POINTS] * 2))
        row = comparison.loc[eps]
        assert row["difference"] == pytest.approx(interval.mean) and row["seeds"] == 2
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((interval.low, interval.high))
    # eps 0.004: differences 0.0 and 0.1, mean 0.05, t(1) test p = 0.5 (the binomial floor on 200 points, 0.037,
    # lies under the observed SD 0.071); the interval is wide with 2 seeds
    assert comparison.loc[0.004, "p_value"] == pytest.approx(0.5)
    assert comparison.loc[0.004, "seeds_needed"] >= 3


def test_the_band_figure_spans_certified_to_attacked_and_shows_the_base_worst_case(certified_store):
    _, smoothing = certified_store
    figure = figures.bracket_figure(smoothing, "skin_lesion", "resnet50")
    lines = {line.get_gid(): line for axes in figure.axes for line in axes.get_lines()}
    np.testing.assert_allclose(lines["certified:no attention:0.25"].get_ydata(), [0.65, 0.45, 0.15])
    np.testing.assert_allclose(lines["smoothed:no attention:0.25"].get_ydata(), [0.75, 0.55, 0.25])
    np.testing.assert_allclose(lines["base:soft_faithful @ head:0.25"].get_ydata(), [0.8, 0.3, 0.3])
    bands = [c for axes in figure.axes for c in axes.collections if (c.get_gid() or "").startswith("bracket:")]
    assert len(bands) == 2
    radius = figures.certified_radius_figure(smoothing, "skin_lesion", "resnet50")
    curves = [line for axes in radius.axes for line in axes.get_lines() if (line.get_gid() or "").startswith("radius")]
    assert len(curves) == 2 and all(np.allclose(c.get_xdata(), [0.0, 0.5]) for c in curves)


def test_the_report_says_the_certificate_is_about_g_and_links_the_figures(certified_store, tmp_path):
    frame, smoothing = certified_store
    build_report(frame, tmp_path, with_images=False, smoothing=smoothing)
    page = "".join(path.read_text() for path in sorted(tmp_path.glob("*.html")))  # front page and detail pages
    assert G_NOT_F in page.replace("&#x27;", "'")
    for stem in ("bracket_skin_lesion_resnet50", "certified_radius_skin_lesion_resnet50"):
        assert f'src="{stem}.png"' in page and (tmp_path / f"{stem}.png").is_file()
    assert (tmp_path / "smoothing.csv").is_file()
    assert any("certified 0.450 | smoothed 0.550" in line for line in smoothing_lines(smoothing))


def test_a_report_without_certified_trials_does_not_change(tmp_path):
    uri = make_store(tmp_path / "store", certify=False)
    frame = load_sweep("smoothing_grid", "smoke", tracking_uri=uri)
    smoothing = load_smoothing(frame)
    assert smoothing.empty and smoothing_lines(smoothing) == []
    build_report(frame, tmp_path / "a", with_images=False)
    build_report(frame, tmp_path / "b", with_images=False, smoothing=smoothing)
    generated = re.compile(r"generated [0-9-]+ [0-9:]+")
    for page in (tmp_path / "a").glob("*.html"):
        assert generated.sub("", page.read_text()) == generated.sub("", (tmp_path / "b" / page.name).read_text())
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in (tmp_path / "b").iterdir())
