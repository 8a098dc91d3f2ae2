"""Figures, tables and statistics of analysis/ on hand-built frames (no MLflow, no TensorFlow): fast oracles."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from analysis import figures, paper_numbers, tables
from analysis.load import COLUMNS
from analysis.stats import format_gain, relative_gain, seed_interval
from trainables.previews import gradcam_overlay

EPSILONS = (0.00125, 0.0025, 0.005, 0.01)
# (attention, seed) -> (clean, robust accuracy per epsilon)
CURVES = {
    ("none", 0): (0.90, (0.60, 0.30, 0.10, 0.00)),
    ("none", 1): (0.80, (0.50, 0.35, 0.20, 0.00)),
    ("none", 2): (0.85, (0.55, 0.20, 0.15, 0.00)),
    ("soft_faithful", 0): (0.88, (0.70, 0.60, 0.40, 0.20)),
    ("soft_faithful", 1): (0.86, (0.72, 0.50, 0.45, 0.10)),
    ("soft_faithful", 2): (0.84, (0.66, 0.55, 0.35, 0.30)),
}


def trial_rows(task, backbone, attention, seed, clean, accuracies, *, placement="head", status="finished",
               checks=None, epsilons=EPSILONS):
    checks = {"monotone": True, "within_ball": True} if checks is None else checks
    base = dict(run_id=f"{task}-{backbone}-{attention}-{placement}-{seed}", trial_id="t",
                run_name=f"{task}-{backbone}-{attention}-{placement}-s{seed}", sweep="paper_grid", profile="tiny",
                task=task, backbone=backbone, scale="mini", attention=attention, placement=placement, seed=seed,
                status=status, start_time=pd.Timestamp(0, unit="ms", tz="UTC"), clean_acc=clean,
                robust_acc_ref=math.nan, robust_auc=math.nan, robust_objective=clean / 2 + np.mean(accuracies) / 2,
                checks=checks, failed_checks=tuple(sorted(n for n, ok in checks.items() if not ok)))
    return [{**base, "epsilon": eps, "accuracy": acc} for eps, acc in zip(epsilons, accuracies)]


def build_frame(extra_rows=()) -> pd.DataFrame:
    rows = [row for (attention, seed), (clean, accs) in CURVES.items()
            for row in trial_rows("skin_lesion", "resnet50", attention, seed, clean, accs)]
    frame = pd.DataFrame(rows + list(extra_rows), columns=list(COLUMNS))
    frame.attrs.update(experiment="paper_grid-tiny", warnings=[])
    return frame


@pytest.fixture(scope="module")
def frame():
    return build_frame()


def t_band(values):
    values = np.asarray(values, dtype=float)
    half = scipy_stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean() - half, values.mean() + half


def lines_by_gid(axes):
    return {line.get_gid(): line for line in axes.get_lines() if line.get_gid()}


def test_seed_interval_is_the_student_t_interval():
    values = [0.5, 0.61, 0.47, 0.58]
    interval = seed_interval(values + [math.nan])  # a failed seed is left out
    low, high = t_band(values)
    assert interval.n == 4
    assert interval.mean == pytest.approx(np.mean(values))
    assert (interval.low, interval.high) == pytest.approx((low, high))
    single = seed_interval([0.3])
    assert single.n == 1 and single.mean == 0.3 and math.isnan(single.low)
    assert seed_interval([]).n == 0


def test_relative_gain_handles_a_zero_baseline():
    assert relative_gain(0.58, 0.5) == pytest.approx(0.16)
    assert relative_gain(0.28, 0.01) == pytest.approx(27.0)
    assert relative_gain(0.2, 0.0) == math.inf and format_gain(math.inf) == "inf"
    assert math.isnan(relative_gain(0.0, 0.0)) and format_gain(math.nan) == "n/a"
    assert format_gain(0.16) == "+16%" and format_gain(-0.5) == "-50%"


def test_accuracy_summary_pools_seeds_per_model_and_epsilon(frame):
    summary = tables.accuracy_summary(frame)
    row = summary[(summary["attention"] == "none") & (summary["epsilon"] == 0.0025)].iloc[0]
    assert row["n"] == 3 and row["seeds"] == (0, 1, 2)
    assert row["mean"] == pytest.approx(np.mean([0.30, 0.35, 0.20]))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(t_band([0.30, 0.35, 0.20]))
    clean = summary[(summary["attention"] == "soft_faithful") & (summary["epsilon"] == 0.0)].iloc[0]
    assert clean["mean"] == pytest.approx(np.mean([0.88, 0.86, 0.84]))


def test_gain_table_uses_seed_means_and_marks_zero_baselines(frame):
    gains = tables.gain_table(tables.accuracy_summary(frame)).set_index("epsilon")["gain"]
    assert gains[0.00125] == pytest.approx(np.mean([0.70, 0.72, 0.66]) / np.mean([0.60, 0.50, 0.55]) - 1)
    assert gains[0.01] == math.inf  # baseline fully broken, attention not
    text = tables.text_report(frame)
    assert "inf" in text and "+16%" not in text


def test_curve_lines_bands_and_clean_lines_equal_the_seed_statistics(frame):
    figure = figures.accuracy_curves(frame, "skin_lesion", "resnet50")
    axes = figure.axes[0]
    lines = {gid: line for gid, line in lines_by_gid(axes).items() if not gid.startswith("paper:")}
    assert set(lines) == {"robust:no attention", "clean:no attention", "robust:soft_faithful @ head",
                          "clean:soft_faithful @ head"}
    assert axes.get_xscale() == "log"
    for attention, label in (("none", "no attention"), ("soft_faithful", "soft_faithful @ head")):
        per_seed = np.array([CURVES[(attention, s)][1] for s in range(3)])
        xy = lines[f"robust:{label}"].get_xydata()
        np.testing.assert_allclose(xy[:, 0], EPSILONS)
        np.testing.assert_allclose(xy[:, 1], per_seed.mean(axis=0))
        clean = lines[f"clean:{label}"]
        assert clean.get_linestyle() == "--"
        np.testing.assert_allclose(clean.get_ydata(), np.mean([CURVES[(attention, s)][0] for s in range(3)]))
        band = next(c for c in axes.collections if c.get_gid() == f"band:{label}")
        vertices = np.concatenate([path.vertices for path in band.get_paths()])
        expected = [np.clip(t_band(per_seed[:, k]), 0, 1) for k in range(len(EPSILONS))]
        for eps, (low, high) in zip(EPSILONS, expected):
            at_eps = vertices[np.isclose(vertices[:, 0], eps), 1]
            assert at_eps.min() == pytest.approx(low) and at_eps.max() == pytest.approx(high)


def test_the_paper_s_stated_numbers_are_stars_in_the_colour_of_their_model(frame):
    from analysis.figures.curves import CLEAN_POSITION

    axes = figures.accuracy_curves(frame, "skin_lesion", "resnet50").axes[0]
    stars = {gid: line for gid, line in lines_by_gid(axes).items() if gid.startswith("paper:")}
    published = [n for n in paper_numbers.PUBLISHED if (n.task, n.backbone) == ("skin_lesion", "resnet50")]
    assert len(stars) == len(published) == 3
    colours = {label: lines_by_gid(axes)[f"robust:{label}"].get_color()
               for label in ("no attention", "soft_faithful @ head")}
    for number in published:
        label = "no attention" if number.attention == "none" else "soft_faithful @ head"
        star = stars[f"paper:{label}:{number.epsilon:g}"]
        x = number.epsilon or EPSILONS[0] * CLEAN_POSITION  # clean: left of the ladder, under a "clean" tick
        assert (star.get_xdata()[0], star.get_ydata()[0]) == pytest.approx((x, number.accuracy))
        assert star.get_color() == colours[label] and star.get_marker() == "*"
    assert "clean" in [tick.get_text() for tick in axes.get_xticklabels()]
    other = figures.accuracy_curves(build_frame().assign(task="pneumothorax"), "pneumothorax", "resnet50").axes[0]
    assert {g for g in lines_by_gid(other) if g.startswith("paper:")} == {"paper:no attention:0.32",
                                                                          "paper:soft_faithful @ head:0.32"}


def test_curves_name_failed_trials_and_survive_a_panel_without_results():
    failed = trial_rows("skin_lesion", "resnet50", "soft_faithful", 7, math.nan, [math.nan] * 4, status="failed",
                        checks={})
    frame = build_frame(failed)
    figure = figures.accuracy_curves(frame, "skin_lesion", "resnet50")
    texts = " ".join(t.get_text() for t in figure.texts)
    assert "1 of 7 trial(s) without results (1 failed): skin_lesion-resnet50-soft_faithful-head-s7" in texts
    # the failed seed does not change the line: still the mean of the 3 finished seeds
    line = lines_by_gid(figure.axes[0])["robust:soft_faithful @ head"]
    np.testing.assert_allclose(line.get_ydata(), np.mean([CURVES[("soft_faithful", s)][1] for s in range(3)], axis=0))
    only_failed = pd.DataFrame(failed, columns=list(COLUMNS))
    empty = figures.accuracy_curves(only_failed, "skin_lesion", "resnet50")
    assert any("no finished trials" in t.get_text() for ax in empty.axes for t in ax.texts)


def test_single_seed_draws_no_band():
    rows = trial_rows("pneumothorax", "inception_resnet_v2", "none", 0, 0.8, [0.7, 0.6, 0.5, 0.4])
    figure = figures.accuracy_curves(pd.DataFrame(rows, columns=list(COLUMNS)), "pneumothorax", "inception_resnet_v2")
    assert not [c for c in figure.axes[0].collections if (c.get_gid() or "").startswith("band:")]
    assert "paper fig. 8" in figure.axes[0].get_title()


def test_placement_heatmap_values_and_difference_to_no_attention(frame):
    extra = [row for seed in range(2)
             for row in trial_rows("skin_lesion", "resnet50", "soft_corrected", seed, 0.7, [0.4, 0.3, 0.2, 0.1],
                                   placement="conv4")]
    frame = build_frame(extra)
    figure = figures.placement_heatmap(frame, "skin_lesion", "resnet50")
    accuracy = next(i for ax in figure.axes for i in ax.images if i.get_gid() == "accuracy").get_array()
    difference = next(i for ax in figure.axes for i in ax.images if i.get_gid() == "difference").get_array()
    summary = tables.accuracy_summary(frame)
    assert accuracy.shape == (3, 5)  # none, soft_corrected@conv4, soft_faithful@head x clean + 4 epsilons
    mean = lambda a, p, e: summary[(summary["attention"] == a) & (summary["placement"] == p)  # noqa: E731
                                   & (summary["epsilon"] == e)]["mean"].iloc[0]
    assert accuracy[1, 2] == pytest.approx(0.3)
    assert accuracy[2, 0] == pytest.approx(mean("soft_faithful", "head", 0.0))
    assert difference[1, 4] == pytest.approx(mean("soft_faithful", "head", 0.01) - mean("none", "head", 0.01))


def test_pareto_front_oracle_and_plotted_front():
    points = np.array([[0.9, 0.1], [0.8, 0.5], [0.7, 0.4], [0.6, 0.6], [0.6, 0.2], [0.9, 0.05]])
    np.testing.assert_allclose(figures.pareto_front(points), [[0.6, 0.6], [0.8, 0.5], [0.9, 0.1]])
    frame = build_frame()
    figure = figures.pareto_scatter(frame)
    front = lines_by_gid(figure.axes[0])["front:skin_lesion"].get_xydata()
    runs = frame.drop_duplicates("run_id")
    np.testing.assert_allclose(front, figures.pareto_front(runs[["clean_acc", "robust_objective"]].to_numpy()))


def test_checks_grid_marks_pass_fail_and_missing():
    failing = trial_rows("skin_lesion", "resnet50", "none", 5, 0.8, [0.5] * 4,
                         checks={"monotone": False, "within_ball": True})
    failed = trial_rows("skin_lesion", "resnet50", "none", 6, math.nan, [math.nan] * 4, status="failed", checks={})
    frame = build_frame(failing + failed)
    grid = figures.checks_grid(frame).axes[0].images[0].get_array()
    matrix = tables.check_matrix(frame)
    assert list(matrix.columns) == ["monotone", "within_ball"]
    assert matrix.loc["skin_lesion-resnet50-none-head-s5"].tolist() == [0.0, 1.0]
    assert grid.mask[list(matrix.index).index("skin_lesion-resnet50-none-head-s6")].all()
    assert "skin_lesion-resnet50-none-head-s5: monotone" in tables.text_report(frame)


def test_paper_numbers_sit_beside_ours(frame):
    comparison = tables.paper_comparison(tables.accuracy_summary(frame))
    assert len(comparison) == len(paper_numbers.PUBLISHED)
    skin = comparison[(comparison["task"] == "skin_lesion") & (comparison["epsilon"] == 0.0)].set_index("attention")
    assert skin.loc["none", "paper"] == 0.905 and skin.loc["soft_faithful", "paper"] == 0.88
    assert skin.loc["none", "ours"] == pytest.approx(0.85) and skin.loc["none", "n"] == 3
    chest = comparison[comparison["task"] == "pneumothorax"]
    assert (chest["paper"] == 0.805).all() and chest["ours"].isna().all() and (chest["n"] == 0).all()


def fake_explanations(seed: int, samples=3, size=8, epsilons=(0.01, 0.02)):
    rng = np.random.default_rng(seed)
    images = rng.random((samples, size, size, 3), dtype=np.float32)
    adversarial = np.clip(images[None] + rng.uniform(-0.02, 0.02, (len(epsilons), *images.shape)), 0, 1)
    return dict(epsilons=np.array(epsilons), images=images, labels=np.array([0, 1, 1]),
                adversarial=adversarial.astype(np.float32),
                gradcam_clean=rng.random((samples, 2, 2), dtype=np.float32),
                gradcam_adversarial=rng.random((len(epsilons), samples, 2, 2), dtype=np.float32),
                perturbation=rng.integers(0, 256, (len(epsilons), samples, size, size), dtype=np.uint8),
                predictions_clean=np.array([1, 1, 0]), predictions_adversarial=np.zeros((len(epsilons), samples), int))


def test_image_figures_show_the_arrays_of_a_correctly_classified_sample():
    arrays = {"no attention": fake_explanations(0), "soft_faithful @ head": fake_explanations(1)}
    figure = figures.perturbation_figure(arrays)
    grid = np.array(figure.axes).reshape(4, 3)  # 2 variants x (adversarial row, perturbation row); clean + 2 eps
    sample = 1  # the only sample both variants classify correctly on clean input
    np.testing.assert_allclose(grid[0, 0].images[0].get_array(), arrays["no attention"]["images"][sample])
    np.testing.assert_allclose(grid[2, 2].images[0].get_array(), arrays["soft_faithful @ head"]["adversarial"][1, sample])
    np.testing.assert_array_equal(grid[3, 1].images[0].get_array()[..., 0],
                                  arrays["soft_faithful @ head"]["perturbation"][0, sample])
    assert "eps 0.02" in grid[0, 2].get_title()
    cams = np.array(figures.gradcam_figure(arrays).axes).reshape(2, 3)
    attention, baseline = arrays["soft_faithful @ head"], arrays["no attention"]
    # the trial previews' pixels: one drawing of a Grad-CAM overlay (trainables.previews)
    np.testing.assert_array_equal(cams[1, 2].images[0].get_array(),
                                  gradcam_overlay(attention["adversarial"][1, sample], attention["gradcam_adversarial"][1, sample]))
    np.testing.assert_array_equal(cams[0, 0].images[0].get_array(),
                                  gradcam_overlay(baseline["images"][sample], baseline["gradcam_clean"][sample]))
    assert not np.array_equal(gradcam_overlay(baseline["images"][sample], baseline["gradcam_clean"][sample]),
                              gradcam_overlay(baseline["images"][sample], 1 - baseline["gradcam_clean"][sample]))


def test_a_trial_s_preview_curve_plots_its_accuracies():
    accuracy = {0.0: 0.9, 0.00125: 0.7, 0.0025: 0.4, 0.01: 0.1}
    figure = figures.trial_accuracy_curve(accuracy)
    lines = lines_by_gid(figure.axes[0])
    np.testing.assert_array_equal(lines["robust:trial"].get_xdata(), [0.00125, 0.0025, 0.01])
    np.testing.assert_array_equal(lines["robust:trial"].get_ydata(), [0.7, 0.4, 0.1])
    assert list(lines["clean:trial"].get_ydata()) == [0.9, 0.9]


def test_a_study_s_pareto_figure_draws_its_trials_and_front():
    points = np.array([[0.5, 0.2], [0.6, 0.1], [0.4, 0.3], [0.3, 0.1]])
    front = figures.pareto_front(points)
    figure = figures.study_pareto_front(points, front)
    axes = figure.axes[0]
    np.testing.assert_array_equal(lines_by_gid(axes)["front:study"].get_xydata(), [[0.4, 0.3], [0.5, 0.2], [0.6, 0.1]])
    (trials,) = [c for c in axes.collections if c.get_gid() == "trials:study"]
    np.testing.assert_array_equal(trials.get_offsets(), points)


def test_the_curve_starts_at_the_clean_accuracy_of_its_own_points():
    rows = trial_rows("skin_lesion", "resnet50", "none", 0, 0.90, (0.6, 0.3, 0.1, 0.0))
    subset = pd.DataFrame([{**row, "worst_case_clean": 0.75} for row in rows], columns=list(COLUMNS))
    every_point = pd.DataFrame(rows, columns=list(COLUMNS))  # a run from before: no acc_at_eps/0 logged
    clean = lambda frame: tables.accuracy_summary(frame).query("epsilon == 0")["mean"].iloc[0]  # noqa: E731
    assert clean(subset) == 0.75  # the worst case's points, not clean_acc over every point
    assert clean(every_point) == 0.90


def test_pgd_on_every_point_is_its_own_curve():
    rows = trial_rows("skin_lesion", "resnet50", "none", 0, 0.90, (0.6, 0.3, 0.1, 0.0))
    frame = pd.DataFrame([{**row, "pgd_accuracy": min(1.0, row["accuracy"] + 0.1), "worst_case_clean": 0.8}
                          for row in rows], columns=list(COLUMNS))
    lines = {line.get_gid(): line for line in figures.accuracy_curves(frame, "skin_lesion", "resnet50").axes[0].lines}
    pgd, robust = lines["pgd:no attention"], lines["robust:no attention"]
    np.testing.assert_allclose(pgd.get_ydata(), np.asarray(robust.get_ydata()) + 0.1)
    assert lines["clean:no attention"].get_ydata()[0] == 0.8  # the worst case's own points


def test_models_with_untrusted_trials_are_marked_in_the_table_and_the_curves():
    rows = trial_rows("skin_lesion", "resnet50", "none", 0, 0.9, (0.6, 0.3, 0.1, 0.0),
                      checks={"gradients_usable": False, "within_ball": True})
    rows += trial_rows("skin_lesion", "resnet50", "soft_faithful", 0, 0.9, (0.7, 0.4, 0.2, 0.1))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    text = tables.text_report(frame)
    assert "no attention (!)" in text and "soft_faithful @ head (!)" not in text
    labels = [line.get_label() for line in figures.accuracy_curves(frame, "skin_lesion", "resnet50").axes[0].lines]
    assert any(label.startswith("no attention (!)") for label in labels)
    assert not any("(!)" in label for label in labels if label.startswith("soft"))
