"""The report's pages on a small synthetic sweep (no MLflow, no TensorFlow): the front page's order, its row cap, the
verdict figure against the claims table, every detail page and CSV linked, no figure drawn twice; and the front page
rendered in headless Chromium (skipped where none is installed)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import claims, figures
from analysis.evidence import gather_evidence
from analysis.figures.verdicts import VERDICT_COLOURS
from analysis.load import COLUMNS
from analysis.pages import FRONT_PAGE_ROWS, HTML_FILE, Page, Report
from analysis.report import build_report
from analysis.sections import STAND_IN
from analysis.tables import verdict_forest_table
import browser  # tests/browser.py (pytest puts tests/ on the path)

EPSILONS = (0.00125, 0.0025, 0.005, 0.01)
POINTS = 60
# (task, backbone, attention, seed) -> robust accuracy per epsilon (clean first); skin lesion / ResNet-50 has three
# seeds and a large effect (supported), pneumothorax / IRv2 one seed (inconclusive, with the seeds that would decide)
TRIALS = {
    **{("skin_lesion", "resnet50", "none", s): (0.9, 0.5, 0.3, 0.1, 0.0) for s in (0, 1, 2)},
    **{("skin_lesion", "resnet50", "soft_faithful", s): (0.9, 0.85, 0.8, 0.7, 0.5) for s in (0, 1, 2)},
    ("pneumothorax", "inception_resnet_v2", "none", 0): (0.8, 0.6, 0.4, 0.2, 0.1),
    ("pneumothorax", "inception_resnet_v2", "soft_faithful", 0): (0.8, 0.7, 0.6, 0.3, 0.2),
}
FAILED_RUN = "pneumothorax-resnet50-none-head-s0"


def run_id(task, backbone, attention, seed) -> str:
    return f"{task}-{backbone}-{attention}-head-s{seed}"


def points_arrays(accuracies, seed: int) -> dict[str, np.ndarray]:
    """A trial's robustness/points.npz: a nested robust mask with these accuracies (column 0: clean)."""
    rng = np.random.default_rng(seed)
    thresholds = rng.permutation(POINTS) / POINTS
    robust = np.stack([thresholds < a for a in accuracies], axis=1)
    labels = np.arange(POINTS) % 2
    # the smallest epsilon that breaks the point: inf if none does, 0 if it is wrong already
    radius = np.array([math.inf if r.all() else (EPSILONS[r.sum() - 1] if r[0] else 0.0) for r in robust])
    broken = 1 - labels
    return {"point": np.arange(POINTS), "label": labels, "clean_prediction": np.where(robust[:, 0], labels, broken),
            "epsilons": np.array((0.0, *EPSILONS)), "attacks": np.array(["pgd", "apgd_ce"]),
            "in_ensemble": np.ones(POINTS, bool), "robust": robust, "broken_prediction": broken, "radius": radius,
            "robust/pgd": robust, "broken_prediction/pgd": broken}


def trial_rows(task, backbone, attention, seed, accuracies, *, status="finished", checks=None) -> list[dict]:
    checks = {"within_ball": True, "attack_monotone": True} if checks is None else checks
    base = {column: None for column in COLUMNS} | dict(
        run_id=run_id(task, backbone, attention, seed), run_name=run_id(task, backbone, attention, seed),
        trial_id="t", sweep="paper_grid", profile="tiny", task=task, backbone=backbone, scale="mini",
        attention=attention, placement="head", seed=seed, objective_split="test", enhancement="data",
        source="synthetic", status=status, start_time=pd.Timestamp(0, unit="ms", tz="UTC"),
        clean_acc=accuracies[0], robust_acc_ref=accuracies[2], robust_auc=float(np.mean(accuracies[1:])),
        robust_objective=float(np.mean(accuracies)), median_radius=math.nan, pgd_points=POINTS,
        worst_case_points=POINTS, worst_case_clean=accuracies[0], checks=checks,
        failed_checks=tuple(sorted(name for name, ok in checks.items() if not ok)))
    if status != "finished":
        return [base | dict(epsilon=math.nan, accuracy=math.nan, pgd_accuracy=math.nan,
                            pgd_accuracy_same_points=math.nan, clean_acc=math.nan, checks={}, failed_checks=())]
    return [base | dict(epsilon=e, accuracy=a, pgd_accuracy=a, pgd_accuracy_same_points=a)
            for e, a in zip(EPSILONS, accuracies[1:])]


def synthetic_frame() -> pd.DataFrame:
    rows = [row for key, accuracies in TRIALS.items() for row in trial_rows(*key, accuracies)]
    rows += trial_rows("pneumothorax", "resnet50", "none", 0, (0.8,) * 5, status="failed")
    rows += trial_rows("pneumothorax", "resnet50", "soft_faithful", 0, (0.8, 0.7, 0.6, 0.5, 0.4),
                       checks={"within_ball": True, "attack_monotone": False})
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame.attrs.update(experiment="paper_grid-tiny", experiment_id="0", tracking_uri="sqlite:////nowhere/mlflow.db",
                       warnings=[], superseded=[])
    return frame


def explanation_arrays(seed: int, samples: int = 2, size: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.random((samples, size, size, 3)).astype(np.float32)
    count = len(EPSILONS)
    return {"epsilons": np.array(EPSILONS), "images": images, "labels": np.arange(samples) % 2,
            "adversarial": np.clip(images[None] + 0.05, 0, 1).repeat(count, axis=0),
            "gradcam_clean": rng.random((samples, 4, 4)), "gradcam_adversarial": rng.random((count, samples, 4, 4)),
            "perturbation": rng.integers(0, 255, (count, samples, size, size), dtype=np.uint8),
            "predictions_clean": np.arange(samples) % 2, "predictions_adversarial": np.zeros((count, samples), int)}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    frame = synthetic_frame()
    arrays = {run_id(*key): points_arrays(accuracies, seed=key[3]) for key, accuracies in TRIALS.items()}
    arrays[run_id("pneumothorax", "resnet50", "soft_faithful", 0)] = points_arrays((0.8, 0.7, 0.6, 0.5, 0.4), 9)
    evidence = gather_evidence(frame, reader=arrays.__getitem__, sweep="paper_grid")
    out = tmp_path_factory.mktemp("report")
    explanations = {("skin_lesion", "resnet50"): {"no attention": explanation_arrays(0),
                                                  "soft_faithful @ head": explanation_arrays(1)}}
    path = build_report(frame, out, evidence=evidence, sweep="paper_grid", profile="tiny",
                        explanations=lambda task, backbone: explanations.get((task, backbone), {}))
    return dict(frame=frame, evidence=evidence, out=out, path=path, front=path.read_text())


def pages(out: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(out.glob("*.html"))}


def test_the_front_page_reads_run_line_verdicts_accuracy_then_tables(report):
    front = report["front"]
    order = [front.index(f'<section id="{key}">') for key in ("run", "verdicts", "accuracy", "paper", "pages")]
    assert order == sorted(order)
    run_line = front[order[0]:order[1]]
    assert ('<b>paper_grid</b>, profile <b>tiny</b>: <a href="trials.html">10 trial(s)</a> (9 finished), 3 seed(s) '
            "(0, 1, 2)") in run_line
    assert STAND_IN in run_line and "data: synthetic" in run_line
    assert 'src="verdicts.png"' in front[order[1]:order[2]]
    assert front.index('src="accuracy_skin_lesion_resnet50.png"') < front.index("<table")
    assert "explanations" in front and 'src="gradcam_skin_lesion_resnet50.png"' in front


def test_the_front_page_holds_at_most_the_row_cap_and_a_capped_table_links_the_rest(report, tmp_path):
    assert report["front"].count("<tr") <= FRONT_PAGE_ROWS
    page = Page(Report(frame=report["frame"], out_dir=tmp_path, written={"accuracy"}), "index", row_cap=10)
    first = page.table(["a"], [[str(i)] for i in range(4)])
    second = page.table(["a"], [[str(i)] for i in range(30)], rest=("accuracy", "paper"))
    assert first.count("<tr") == 5 and second.count("<tr") == 5  # 10 rows: 1 + 4, then 1 + 4 of 30
    assert "26 more row(s)" in second and 'href="accuracy.html#paper"' in second
    assert page.table(["a"], [["x"]]) .count("<tr") == 0  # nothing fits any more


def test_every_detail_page_and_csv_is_linked_from_the_front_page_and_no_link_is_broken(report):
    out, everything = report["out"], pages(report["out"])
    front_links = set(re.findall(r'href="([^"#]+)', report["front"]))
    assert {name for name in everything if name != HTML_FILE} <= front_links
    assert {p.name for p in out.glob("*.csv")} <= front_links
    assert {"claims.html", "accuracy.html", "paired.html", "clinical.html", "radius.html", "trials.html",
            "left_out.html"} <= set(everything)
    assert "smoothing.html" not in everything  # no trial certified: no page, no link
    for name, text in everything.items():
        for target in set(re.findall(r'(?:href|src)="([^"#]+)', text)):
            assert (out / target).is_file(), f"{name} links {target}, which is missing"


def test_every_figure_is_drawn_once_with_a_pdf_beside_it(report):
    sources = [src for text in pages(report["out"]).values() for src in re.findall(r'<img src="([^"]+)"', text)]
    assert len(sources) == len(set(sources)) and set(sources) == {p.name for p in report["out"].glob("*.png")}
    assert all((report["out"] / name).with_suffix(".pdf").is_file() for name in sources)
    again = Report(frame=report["frame"], out_dir=report["out"] / "again")
    again.draw(figures.checks_grid(report["frame"]), "checks", "a.html")
    with pytest.raises(ValueError, match="drawn twice"):
        again.draw(figures.checks_grid(report["frame"]), "checks", "b.html")


def test_every_table_of_the_report_is_one_click_from_the_front_page(report):
    everything = pages(report["out"])
    text = "".join(everything.values()).replace("&#x27;", "'")
    for heading in ("The paper's claims, checked", "Paired comparisons on the same images", "Clinical metrics under "
                    "attack", "Robustness radius", "Epsilon units", "Clean and robust accuracy per model", "The "
                    "paper's PGD beside the worst case", "The paper's published numbers beside this sweep",
                    "Relative robust-accuracy gain of attention", "Every trial", "Where the numbers come from"):
        assert heading in text, heading
    left_out = everything["left_out.html"]
    assert FAILED_RUN in left_out and "pneumothorax-resnet50-soft_faithful-head-s0" in left_out
    assert "attack_monotone" in left_out and "Left out:" in report["front"]


def test_the_verdict_figure_draws_the_claims_table_s_numbers_and_verdicts(report):
    table = report["evidence"].claims
    assert {claims.SUPPORTED, claims.INCONCLUSIVE, claims.NOT_MEASURED} <= set(table["verdict"])
    forest = verdict_forest_table(table)
    assert len(forest) == len(table)
    np.testing.assert_allclose(forest["difference"], table["difference"])
    np.testing.assert_allclose(forest[["ci_low", "ci_high"]], table[["ci_low", "ci_high"]])
    assert list(forest["verdict"]) == list(table["verdict"])
    drawn = {line.get_gid(): line for axes in figures.verdict_forest(forest).axes for line in axes.get_lines()}
    for row in forest.itertuples():
        key = f"{row.claim}:{row.ordinal}:{row.attack}"
        if row.verdict == claims.NOT_MEASURED:
            assert f"estimate:{key}" not in drawn and f"interval:{key}" not in drawn
            continue
        estimate, interval = drawn[f"estimate:{key}"], drawn[f"interval:{key}"]
        assert estimate.get_xdata()[0] == pytest.approx(row.difference)
        assert list(interval.get_xdata()) == pytest.approx([row.ci_low, row.ci_high])
        assert estimate.get_color() == VERDICT_COLOURS[row.verdict]
        assert interval.get_linestyle() == ("-" if row.n_seeds >= 2 else ":")
        assert estimate.get_ydata()[0] == pytest.approx(row.line + (-0.14 if row.attack == "worst_case" else 0.14))


def test_one_seed_claims_name_the_seeds_and_the_command_that_would_decide_them(report):
    forest = verdict_forest_table(report["evidence"].claims)
    single = forest[(forest["n_seeds"] == 1) & (forest["verdict"] == claims.INCONCLUSIVE)]
    assert len(single) and (single["interval_over"] == "images").all()
    table = report["evidence"].claims
    for row in single.itertuples():
        record = table.iloc[row.Index]  # the forest keeps the claims table's rows in order
        found = re.search(r"about (\d+) seeds", record["why"] or "")
        expected = (int(record["seeds_needed"]) if not pd.isna(record["seeds_needed"])
                    else int(found.group(1)) if found else None)
        if expected is None:  # no difference at all: nothing to size the seeds with
            assert pd.isna(row.seeds_needed) and "no difference" in row.reason
        else:
            assert row.seeds_needed == expected and f"--seeds {expected} " in row.reason
    for row in single[single["seeds_needed"].notna()].itertuples():  # the command that would decide it
        assert f"--seeds {row.seeds_needed} --only task={row.task}" in report["front"]
    supported = forest[forest["verdict"] == claims.SUPPORTED]
    assert len(supported) and (supported["interval_over"] == "seeds").all() and supported["seeds_needed"].isna().all()


BROWSER = browser.find_browser()


@pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (apt-get install chromium): page not rendered")
def test_the_front_page_renders_in_chromium_without_errors_and_shows_a_figure_before_any_table(report, tmp_path):
    rendered = browser.render(report["path"].as_uri(), browser=BROWSER)
    assert rendered.errors == []
    facts = rendered.facts
    assert facts["figure_before_table"] and facts["broken_images"] == [] and facts["first_section"] == "run"
    assert facts["images"] == report["front"].count("<img") and facts["rows"] <= FRONT_PAGE_ROWS
    # the checks can fail: a table before the first figure, a missing image and a console error
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table><img src="missing.png">'
                   '<script>console.error("broken")</script></body></html>')
    rendered = browser.render(bad.as_uri(), browser=BROWSER)
    assert not rendered.facts["figure_before_table"] and rendered.facts["broken_images"]
    assert any("broken" in e for e in rendered.errors) and any("missing.png" in e for e in rendered.errors)
