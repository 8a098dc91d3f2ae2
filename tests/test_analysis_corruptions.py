"""analysis.corruptions on frames built by hand: relative corruption errors against an oracle computed by hand, the
paired-by-seed comparison (and its level in a null simulation), the heat map's cells, the report's section."""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import pytest

from analysis.corruptions import (
    AVERAGE_VS_WORST,
    attention_comparison,
    corruption_cells,
    corruption_errors,
    corruption_figures,
    corruption_html,
    corruption_lines,
    model_summary,
)
from analysis.load import CORRUPTION_COLUMNS
from analysis.pages import table_html
from analysis.tables import variant_label


def frame(accuracy, clean, seeds=(0, 1, 2), names=("jpeg", "hair"), attention="soft_faithful"):
    """accuracy(model, seed, name, severity) and clean(model, seed) -> a load_corruptions-shaped frame."""
    rows = []
    for model, (att, placement) in enumerate([("none", "head"), (attention, "head")]):
        for seed in seeds:
            for name in names:
                for severity in range(1, 6):
                    rows.append({"run_id": f"{model}-{seed}", "task": "skin_lesion", "backbone": "resnet50",
                                 "attention": att, "placement": placement, "seed": seed, "corruption": name,
                                 "severity": severity, "accuracy": accuracy(model, seed, name, severity),
                                 "clean_accuracy": clean(model, seed), "points": 200.0})
    return pd.DataFrame(rows, columns=list(CORRUPTION_COLUMNS))


def test_corruption_errors_against_a_hand_computed_oracle():
    # baseline: clean 0.9, loses 0.1 per severity on jpeg; attention: clean 0.8, loses 0.05 per severity
    data = frame(lambda m, s, n, k: (0.9 - 0.1 * k) if m == 0 else (0.8 - 0.05 * k), lambda m, s: 0.9 if m == 0 else 0.8,
                 names=("jpeg",))
    errors = corruption_errors(data).set_index("attention")
    base_errors = sum(1 - (0.9 - 0.1 * k) for k in range(1, 6))  # 0.1 + ... : 2.0
    own_errors = sum(1 - (0.8 - 0.05 * k) for k in range(1, 6))  # 1.75
    assert errors.loc["soft_faithful", "ce"] == pytest.approx(own_errors / base_errors)
    assert errors.loc["soft_faithful", "relative_ce"] == pytest.approx(0.75 / 1.5)  # lost 0.05*15 vs 0.1*15
    assert errors.loc["none", "ce"] == pytest.approx(1.0) and errors.loc["none", "relative_ce"] == pytest.approx(1.0)
    summary = model_summary(data).set_index("attention")
    assert summary.loc["soft_faithful", "mean_corruption_acc"] == pytest.approx(0.8 - 0.05 * 3)
    assert summary.loc["soft_faithful", "clean"] == pytest.approx(0.8)
    assert summary.loc["soft_faithful", "relative_mce"] == pytest.approx(0.5)
    cells = corruption_cells(data).set_index(["attention", "corruption", "severity"])["accuracy"]
    assert cells[("none", "clean", 0)] == pytest.approx(0.9) and cells[("none", "jpeg", 5)] == pytest.approx(0.4)


def test_paired_comparison_is_per_seed_and_sees_a_seed_effect():
    seed_effect = {0: 0.1, 1: -0.05, 2: 0.02, 3: 0.0}  # shared by both models of a seed: cancels in the pairs
    data = frame(lambda m, s, n, k: 0.5 + seed_effect[s] + (0.03 if m == 1 else 0.0) - 0.02 * k,
                 lambda m, s: 0.8, seeds=(0, 1, 2, 3))
    row = attention_comparison(data).iloc[0]
    assert row["difference"] == pytest.approx(0.03) and row["seeds"] == 4
    assert 0.05 < row["p_value"] < 1  # identical per-seed differences: the binomial floor, not p = 0
    one_seed = attention_comparison(data[data["seed"] == 0]).iloc[0]
    assert one_seed["seeds"] == 1 and math.isnan(one_seed["p_value"]) and math.isnan(one_seed["ci_low"])


def test_paired_comparison_holds_its_level_under_the_null():
    """No architecture effect, seeds that move both models of a seed and each model alone: p < 0.05 in at most 5 %
    of 400 simulated sweeps of 4 seeds (binomial 95 % band for 400 draws at 0.05: up to 0.075)."""
    rng = np.random.default_rng(0)
    rejections = 0
    for _ in range(400):
        shared = rng.normal(0, 0.05, 4)
        own = rng.normal(0, 0.02, (2, 4))
        data = frame(lambda m, s, n, k: 0.6 + shared[s] + own[m, s] - 0.03 * k, lambda m, s: 0.8, seeds=range(4),
                     names=("jpeg",))
        rejections += attention_comparison(data).iloc[0]["p_value"] < 0.05
    assert rejections / 400 <= 0.075  # at most the level (the floor makes the test conservative)


def test_no_baseline_gives_nan_errors_and_the_report_section(tmp_path):
    data = frame(lambda m, s, n, k: 0.7 - 0.1 * k, lambda m, s: 0.7)
    only_attention = data[data["attention"] != "none"]
    assert corruption_errors(only_attention)["ce"].isna().all()
    assert attention_comparison(only_attention).empty
    section = corruption_html(data, table_html)
    assert html.escape(AVERAGE_VS_WORST) in section and "mean corruption acc" in section
    assert corruption_html(data.iloc[0:0], table_html) == "" and corruption_lines(data.iloc[0:0]) == []
    assert any(AVERAGE_VS_WORST in line for line in corruption_lines(data))
    [(figure, stem, caption)] = corruption_figures(data)
    assert stem == "corruptions_skin_lesion_resnet50"
    drawn = {artist.get_gid(): artist.get_array() for axes in figure.axes for artist in axes.get_images()}
    assert set(drawn) == {f"corruptions:{variant_label('none', 'head')}",
                          f"corruptions:{variant_label('soft_faithful', 'head')}"}
    matrix = drawn[f"corruptions:{variant_label('soft_faithful', 'head')}"]
    assert matrix.shape == (2, 6)  # jpeg, hair x clean + 5 severities
    np.testing.assert_allclose(matrix[0], [0.7, 0.6, 0.5, 0.4, 0.3, 0.2])


def test_a_training_recipe_s_models_are_compared_with_its_own_baseline_only():
    standard = frame(lambda m, s, n, k: 0.5 if m == 0 else 0.6, lambda m, s: 0.9, names=("jpeg",))
    pgd = frame(lambda m, s, n, k: 0.8 if m == 0 else 0.7, lambda m, s: 0.85, names=("jpeg",))
    both = pd.concat([standard, pgd.assign(adv_training="pgd", run_id=lambda f: "pgd-" + f["run_id"])],
                     ignore_index=True)
    comparison = attention_comparison(both).set_index("adv_training")
    assert comparison.loc["none", "difference"] == pytest.approx(0.1)
    assert comparison.loc["pgd", "difference"] == pytest.approx(-0.1)  # pooled, the two would cancel
    errors = corruption_errors(both).set_index(["adv_training", "attention"])
    assert errors.loc[("pgd", "soft_faithful"), "ce"] == pytest.approx(0.3 / 0.2)
    assert any("pgd training" in line for line in corruption_lines(both))
