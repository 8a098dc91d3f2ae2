"""analysis.ablation on per-point frames built by hand (no training): the control claims' verdicts where the answer is
planted (an attention variant that beats no attention but only matches param_control), adversarially trained
trials never paired with standard ones, the paper's claims unchanged by them, the trade-off table against a hand
oracle, its figure's artists, and the report's section and page (shown only when there is an ablation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import ablation, claims
from analysis.pages import DETAIL_PAGES, Page, Report
from analysis.points import POINT_COLUMNS
from analysis.sections import ablation_section
from analysis.stats import seed_interval

TASK, BACKBONE, REFERENCE = "skin_lesion", "resnet50", 0.0025
EPSILONS = (0.0, 0.00125, REFERENCE)
SEEDS = (0, 1, 2, 3)
POINTS = 300
# (attention, adv_training) -> (clean, robust at the reference epsilon); se beats none by 0.2 but only equals
# param_control; PGD-trained models are far more robust than standard ones, so pooling the recipes would show
STANDARD = {("none", "none"): (0.80, 0.30), ("se", "none"): (0.80, 0.50), ("param_control", "none"): (0.80, 0.50)}
ADVERSARIAL = {("none", "pgd"): (0.70, 0.65), ("se", "pgd"): (0.70, 0.65)}


def trial(attention, adv_training, seed, clean, robust, rng) -> pd.DataFrame:
    """One trial's rows of analysis.points: nested outcomes (robust implies clean), a per-seed training offset."""
    offset = rng.normal(0, 0.02)
    thresholds = rng.random(POINTS)
    levels = (clean, (clean + robust) / 2, robust + offset)
    outcome = np.stack([thresholds < level for level in levels], axis=1)
    labels = np.arange(POINTS) % 2
    return pd.DataFrame({
        "run_id": f"{attention}-{adv_training}-{seed}", "run_name": f"{attention}-{adv_training}-s{seed}",
        "task": TASK, "backbone": BACKBONE, "scale": "mini", "attention": attention, "placement": "head",
        "seed": seed, "enhancement": "data", "adv_training": adv_training,
        "point": np.repeat(np.arange(POINTS), len(EPSILONS)), "label": np.repeat(labels, len(EPSILONS)),
        "clean_prediction": np.repeat(labels, len(EPSILONS)), "epsilon": np.tile(EPSILONS, POINTS),
        "robust": outcome.ravel(), "prediction": 0, "pgd_robust": outcome.ravel(), "pgd_prediction": 0,
        "radius": 0.01, "trusted": True})[list(POINT_COLUMNS)]


def sweep(models, seeds=SEEDS, rng_seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(rng_seed)
    return pd.concat([trial(a, t, s, *levels, rng) for (a, t), levels in models.items() for s in seeds],
                     ignore_index=True)


@pytest.fixture(scope="module")
def table():
    return ablation.ablation_claims(sweep({**STANDARD, **ADVERSARIAL}), {TASK: REFERENCE}, advise=False)


def verdict(table, comparison, variant, adv_training, statement, attention=None):
    rows = table[(table["comparison"] == comparison) & (table["variant"] == variant)
                 & (table["adv_training"] == adv_training) & (table["statement"] == statement)]
    if attention is not None:
        rows = rows[rows["attention"] == attention]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_a_variant_that_beats_none_but_equals_param_control_is_not_credited_with_attention(table):
    over_none = verdict(table, "vs none", "se", "none", ablation.ROBUST_GAIN)
    assert over_none["verdict"] == claims.SUPPORTED and over_none["difference"] == pytest.approx(0.2, abs=0.05)
    assert over_none["n_seeds"] == len(SEEDS) and over_none["epsilon"] == REFERENCE
    over_control = verdict(table, "vs param_control", "se", "none", ablation.ROBUST_GAIN)
    assert over_control["verdict"] == claims.INCONCLUSIVE and abs(over_control["difference"]) < 0.05
    # the control itself beats none: the parameters, not the gate, carry the gain
    assert verdict(table, "vs none", "param_control", "none", ablation.ROBUST_GAIN)["verdict"] == claims.SUPPORTED
    assert verdict(table, "vs none", "se", "none", ablation.CLEAN_COST)["verdict"] == claims.INCONCLUSIVE
    assert set(table["comparison"]) == {"vs none", "vs param_control", "adv training"}
    assert list(table.columns) == list(ablation.ABLATION_COLUMNS)


def test_adversarial_training_is_compared_per_attention_and_never_pooled_with_standard_training(table):
    gain = verdict(table, "adv training", "pgd", "pgd", ablation.ROBUST_GAIN, attention="none")
    cost = verdict(table, "adv training", "pgd", "pgd", ablation.CLEAN_COST, attention="none")
    assert gain["verdict"] == claims.SUPPORTED and gain["difference"] == pytest.approx(0.35, abs=0.05)
    assert cost["verdict"] == claims.SUPPORTED and cost["difference"] == pytest.approx(-0.10, abs=0.03)
    # within PGD training se equals none; pooled with the standard none (0.30) it would look like a gain
    within = verdict(table, "vs none", "se", "pgd", ablation.ROBUST_GAIN)
    assert within["verdict"] == claims.INCONCLUSIVE and within["n_seeds"] == len(SEEDS)
    assert within["baseline_acc"] == pytest.approx(0.65, abs=0.06)
    # se under standard training is paired with the standard none only (pooling would put its baseline near 0.475)
    assert verdict(table, "vs none", "se", "none", ablation.ROBUST_GAIN)["baseline_acc"] == pytest.approx(0.3, abs=0.06)


def test_one_seed_is_never_decided():
    one = ablation.ablation_claims(sweep(STANDARD, seeds=(0,)), {TASK: REFERENCE}, advise=False)
    assert len(one) and set(one["verdict"]) == {claims.INCONCLUSIVE} and set(one["n_seeds"]) == {1}


def test_the_paper_s_claims_ignore_adversarially_trained_trials_and_a_paper_grid_has_no_ablation():
    paper = {("none", "none"): (0.8, 0.3), ("soft_faithful", "none"): (0.8, 0.5)}
    standard = sweep(paper, seeds=(0, 1, 2))
    both = pd.concat([standard, sweep({("none", "pgd"): (0.7, 0.1), ("soft_faithful", "pgd"): (0.7, 0.6)},
                                      seeds=(0, 1, 2), rng_seed=1)], ignore_index=True)
    alone, mixed = claims.verdicts(standard), claims.verdicts(both)
    pd.testing.assert_frame_equal(alone, mixed)
    assert (alone["verdict"] != claims.NOT_MEASURED).any()
    assert not ablation.ablation_ran(standard) and ablation.ablation_of(standard, pd.DataFrame()) is None
    assert ablation.ablation_ran(both)


def test_tradeoff_table_against_a_hand_oracle_and_its_figure_draws_it(tmp_path):
    points = sweep({("none", "none"): (0.8, 0.3), ("se", "pgd"): (0.7, 0.6)}, seeds=(0, 1, 2))
    tradeoff = ablation.tradeoff_table(points, {TASK: REFERENCE}).set_index(["attention", "adv_training"])
    for (attention, recipe), model in points.groupby(["attention", "adv_training"]):
        per_trial = model.groupby(["seed", "epsilon"])["robust"].mean().unstack()
        clean, robust = seed_interval(per_trial[0.0]), seed_interval(per_trial[REFERENCE])
        row = tradeoff.loc[(attention, recipe)]
        assert row["clean"] == pytest.approx(clean.mean) and row["clean_low"] == pytest.approx(clean.low)
        assert row["robust"] == pytest.approx(robust.mean) and row["robust_high"] == pytest.approx(robust.high)
        assert row["n_seeds"] == 3
    from analysis.figures import tradeoff_figure

    figure = tradeoff_figure(tradeoff.reset_index(), BACKBONE)
    artists = {line.get_gid(): line for axes in figure.axes for line in axes.get_lines() if line.get_gid()}
    marker = artists["model:se:pgd"]
    assert marker.get_xdata()[0] == pytest.approx(tradeoff.loc[("se", "pgd"), "clean"])
    assert marker.get_ydata()[0] == pytest.approx(tradeoff.loc[("se", "pgd"), "robust"])
    assert marker.get_marker() == "^" and artists["model:none:none"].get_marker() == "o"
    bars = {c.get_gid(): c.get_segments()[0] for axes in figure.axes for c in axes.collections if c.get_gid()}
    assert {"xbar:se:pgd", "ybar:se:pgd", "xbar:none:none", "ybar:none:none"} <= set(bars)
    se = tradeoff.loc[("se", "pgd")]
    assert bars["xbar:se:pgd"][:, 0] == pytest.approx([se["clean_low"], se["clean_high"]])
    assert bars["ybar:se:pgd"][:, 1] == pytest.approx([se["robust_low"], se["robust_high"]])
    one_seed = ablation.tradeoff_table(points[points["seed"] == 0], {TASK: REFERENCE})
    single = tradeoff_figure(one_seed, BACKBONE)
    assert not [c for axes in single.axes for c in axes.collections if c.get_gid()]  # no interval from one seed


def test_the_report_shows_the_ablation_only_when_there_is_one(tmp_path):
    points = sweep({**STANDARD, **ADVERSARIAL}, seeds=(0, 1))
    frame = pd.DataFrame({"run_id": points["run_id"].unique(), "task": TASK, "reference_epsilon": REFERENCE})
    found = ablation.ablation_of(points, frame, advise=False)
    report = Report(frame=frame, out_dir=tmp_path, ablation=found)
    report.written = {"ablation"}
    html = ablation_section(report, Page(report, "index"))
    assert "tradeoff_resnet50.png" in html and 'href="ablation.html"' in html
    assert (tmp_path / "tradeoff_resnet50.png").is_file() and DETAIL_PAGES["ablation"].when(report)
    page = DETAIL_PAGES["ablation"].build(report, Page(report, "ablation"))
    assert "se vs param_control (standard training)" in page and "ablation.csv" in page
    nothing = Report(frame=frame, out_dir=tmp_path / "none")
    assert ablation_section(nothing, Page(nothing, "index")) == "" and not DETAIL_PAGES["ablation"].when(nothing)
