"""`python -m analysis.report SWEEP [--profile P] [--out DIR] [--tracking-uri URI] [--text-only] [--no-log]`

Reads the sweep's MLflow experiment "<sweep>-<profile>" and its trials' per-point outcomes (analysis.evidence: paired
comparisons, clinical metrics, radii, the paper's claims, epsilon units), prints compact text tables, writes every
figure (PNG + PDF), runs.csv, summary.csv, the evidence CSVs and a self-contained index.html (relative links) into
DIR (default reports/<sweep>-<profile>/), and logs DIR as the artifacts of a summary run (tag kind=summary, run name
"report") in the same experiment. Exit status 2 (one-line message) for input it cannot use.
"""

from __future__ import annotations

import html
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from trainables import tracking
from trainables.spec import experiment_name, format_epsilon
from trainables.runtime.cli import OneLineParser
from trainables.spec import keys

from . import figures, paper_numbers, units
from .completeness import completeness_lines
from .corruptions import corruption_figures, corruption_html, corruption_lines
from .evidence import Evidence, gather_evidence
from .evidence_report import evidence_html, evidence_lines
from .load import (
    KIND_TAG,
    SUMMARY_KIND,
    AnalysisInputError,
    finished,
    load_corruptions,
    load_explanations,
    load_smoothing,
    load_sweep,
    trials,
)
from .smoothing import G_NOT_F, bracket_table, certified_comparison, smoothing_lines
from .stats import BAND_DEFINITION, format_gain
from .tables import (
    ATTACK_GAP_DEFINITION,
    GAIN_DEFINITION,
    accuracy_summary,
    attack_gap_table,
    check_failures,
    format_cell,
    gain_table,
    missing_note,
    panels,
    paper_comparison,
    text_report,
    variant_label,
    variants,
)

REPORT_RUN_NAME = keys.REPORT_RUN
ExplanationLoader = Callable[[str, str], Mapping[str, Mapping[str, np.ndarray]]]  # (task, backbone) -> label -> arrays
HTML_FILE = "index.html"


@dataclass(frozen=True)
class FigureEntry:
    stem: str  # files <stem>.png and <stem>.pdf
    section: str
    caption: str


def example_runs(frame: pd.DataFrame, task: str, backbone: str, max_variants: int = 3) -> dict[str, str]:
    """Variant label -> run id of the run whose explanation images represent it: lowest finished seed,
    the head placements (the paper's models) when there are more variants than max_variants."""
    panel = finished(frame[(frame["task"] == task) & (frame["backbone"] == backbone)])
    chosen = variants(panel)
    if len(chosen) > max_variants:
        chosen = [v for v in chosen if v[1] == "head"][:max_variants] or chosen[:max_variants]
    runs = {}
    for attention, placement in chosen:
        rows = panel[(panel["attention"] == attention) & (panel["placement"] == placement)].sort_values("seed")
        runs[variant_label(attention, placement)] = rows["run_id"].iloc[0]
    return runs


def build_figures(frame: pd.DataFrame, out_dir: Path, explanations: ExplanationLoader | None = None,
                  evidence: Evidence | None = None, smoothing: pd.DataFrame | None = None) -> list[FigureEntry]:
    """Write every figure into out_dir; `explanations(task, backbone)` gives the arrays per variant label;
    `smoothing`: analysis.load.load_smoothing's frame (its figures only when some trial certified)."""
    entries = []

    def add(figure, stem: str, section: str, caption: str) -> None:
        figures.save_figure(figure, out_dir, stem)
        entries.append(FigureEntry(stem, section, caption))

    for task, backbone in panels(frame):
        number = paper_numbers.CURVE_FIGURES.get((backbone, task))
        add(figures.accuracy_curves(frame, task, backbone), f"accuracy_{task}_{backbone}", "Accuracy vs epsilon",
            f"{backbone}, {task}: robust accuracy vs epsilon, dashed = clean accuracy"
            + (f" (paper figure {number})" if number else ""))
    for task, backbone in panels(frame):
        add(figures.placement_heatmap(frame, task, backbone), f"placement_{task}_{backbone}",
            "Attention placement x epsilon", f"{backbone}, {task}: mean accuracy per variant and epsilon, and the "
            f"difference to no attention")
    if evidence is not None:
        add_evidence_figures(evidence, add)
    if smoothing is not None and not smoothing.empty:
        add_smoothing_figures(smoothing, add)
    add(figures.pareto_scatter(frame), "pareto", "Clean vs robust objective",
        "clean accuracy vs robust objective per trial, Pareto front per task (both maximised)")
    add(figures.checks_grid(frame), "checks", "Sanity checks", "robustness sanity checks per trial (gray: not logged)")
    if explanations is not None:
        for task, backbone in panels(frame):
            arrays = explanations(task, backbone)
            if not arrays:
                continue
            label = f"{backbone}, {task}"
            add(figures.perturbation_figure(arrays, title=f"{label}: clean, adversarial and perturbation per epsilon"),
                f"perturbation_{task}_{backbone}", "Perturbations",
                f"{label}: adversarial examples and perturbation maps (paper figures 2, 9, 12)")
            add(figures.gradcam_figure(arrays, title=f"{label}: Grad-CAM, clean vs perturbed"),
                f"gradcam_{task}_{backbone}", "Grad-CAM",
                f"{label}: Grad-CAM over clean and adversarial images (paper figures 10, 11, 13, 14)")
    return entries


def add_evidence_figures(evidence: Evidence, add) -> None:
    for task, backbone in panels(evidence.pooled):
        add(figures.paired_difference_figure(evidence.pooled, task, backbone), f"paired_{task}_{backbone}",
            "Paired differences", f"{backbone}, {task}: attention - baseline on the same images, 95 % CI")
    for task in sorted(set(evidence.clinical["task"])) if len(evidence.clinical) else []:
        add(figures.clinical_figure(evidence.clinical, task), f"clinical_{task}", "Clinical metrics under attack",
            f"{task}: sensitivity and specificity (binary) or balanced accuracy vs epsilon, worst case")
    for task, backbone in panels(evidence.points) if len(evidence.points) else []:
        add(figures.radius_curves(evidence.points, task, backbone), f"radius_{task}_{backbone}", "Robustness radius",
            f"{backbone}, {task}: fraction of points robust at each radius (seeds pooled)")


def add_smoothing_figures(smoothing: pd.DataFrame, add) -> None:
    for task, backbone in panels(smoothing):
        add(figures.bracket_figure(smoothing, task, backbone), f"bracket_{task}_{backbone}", "Randomized smoothing",
            f"{backbone}, {task}: per smoothed model g, the band from its certified accuracy (lower bound) to its "
            f"accuracy under the EoT attacks (upper bound), and the base model f's worst case (dashed); seed means")
        add(figures.certified_radius_figure(smoothing, task, backbone), f"certified_radius_{task}_{backbone}",
            "Randomized smoothing", f"{backbone}, {task}: certified accuracy of g vs L2 radius; seed means")


def smoothing_html(smoothing: pd.DataFrame) -> str:
    """The brackets and the paired comparison on certified accuracy; empty without certified trials."""
    if smoothing is None or smoothing.empty:
        return ""
    brackets = [[html.escape(f"{r.task}, {r.backbone}"), html.escape(variant_label(r.attention, r.placement)),
                 f"{r.noise_sigma:g}", "clean" if r.epsilon == 0 else format_epsilon(r.epsilon), f"{r.certified:.3f}",
                 f"{r.smoothed:.3f}", f"{r.base:.3f}", str(r.seeds)] for r in bracket_table(smoothing).itertuples()]
    comparison = [[html.escape(f"{r.task}, {r.backbone}"), html.escape(variant_label(r.attention, r.placement)),
                   f"{r.noise_sigma:g}", "clean" if r.epsilon == 0 else format_epsilon(r.epsilon),
                   f"{r.difference:+.3f}", f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]" if r.seeds > 1 else "-",
                   f"{r.p_value:.3g}" if r.seeds > 1 else "-", str(r.seeds), str(r.seeds_needed or "-")]
                  for r in certified_comparison(smoothing).itertuples()]
    return (f"<h2>Randomized smoothing: certified lower bound and empirical upper bound</h2>\n"
            f"<p><b>{html.escape(G_NOT_F)}</b></p>\n"
            + table_html(["task, backbone", "model", "sigma", "epsilon", "certified (g)", "EoT attack (g)",
                          "worst case (f)", "seeds"], brackets)
            + "<p class=\"small\">Attention - baseline on certified accuracy: per seed, the difference of the two "
              "models trained with that seed; 95 % t-interval and t-test over seeds (the unit of replication).</p>"
            + table_html(["task, backbone", "attention variant", "sigma", "epsilon", "difference", "95 % CI", "p",
                          "seeds", "seeds needed"], comparison))


def mlflow_explanations(frame: pd.DataFrame, tracking_uri: str, cache: Path, problems: list[str]):
    """Loader for build_figures: downloads only samples.npz of the example runs; notes what is missing."""
    def load(task: str, backbone: str) -> dict[str, dict[str, np.ndarray]]:
        found = {}
        for label, run_id in example_runs(frame, task, backbone).items():
            try:
                found[label] = load_explanations(run_id, tracking_uri=tracking_uri, destination=cache / run_id)
            except AnalysisInputError as error:
                problems.append(f"{task}/{backbone} {label}: {error}")
        return found

    return load


# ---------------------------------------------------------------- HTML

STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 1400px; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.fail td { background: #fde0e0; }
span.fail { color: #a00; font-weight: bold; }
.warning { background: #fff3cd; padding: 0.5em; border-left: 4px solid #e0a800; }
.missing { background: #fde0e0; padding: 0.5em; border-left: 4px solid #c00; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 680px; border: 1px solid #ddd; }
figcaption { font-size: 12px; max-width: 680px; }
.small { font-size: 12px; color: #555; }
"""


def table_html(header: Iterable[str], rows: Iterable[Iterable[str]], row_classes: Iterable[str] | None = None) -> str:
    rows = list(rows)
    classes = list(row_classes) if row_classes is not None else [""] * len(rows)
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(f'<tr class="{c}">' + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row, c in zip(rows, classes))
    return f"<table><tr>{head}</tr>{body}</table>"


def half(row) -> float:
    return (row["ci_high"] - row["ci_low"]) / 2


def trial_problems(frame: pd.DataFrame) -> list[str]:
    """'s<seed>: <failed checks>' and 's<seed>: failed' for the trials of one model."""
    problems = []
    for run in trials(frame).to_dict("records"):
        if run["failed_checks"]:
            problems.append(f"s{run['seed']}: {', '.join(run['failed_checks'])}")
        if run["status"] != "finished":
            problems.append(f"s{run['seed']}: {run['status']}")
    return problems


def accuracy_tables_html(frame: pd.DataFrame, summary: pd.DataFrame) -> str:
    parts = []
    for task, backbone in panels(frame):
        panel_frame = frame[(frame["task"] == task) & (frame["backbone"] == backbone)]
        epsilons = [0.0, *sorted(set(panel_frame["epsilon"].dropna()) - {0.0})]
        rows, classes = [], []
        for attention, placement in variants(panel_frame):
            cells = summary[(summary["task"] == task) & (summary["backbone"] == backbone)
                            & (summary["attention"] == attention) & (summary["placement"] == placement)]
            by_eps = {e: r for e, r in zip(cells["epsilon"], cells.to_dict("records"))}
            seeds = sorted({s for r in by_eps.values() for s in r["seeds"]})
            problems = trial_problems(panel_frame[(panel_frame["attention"] == attention)
                                                  & (panel_frame["placement"] == placement)])
            checks = (f'<span class="fail">{html.escape("; ".join(problems))}</span>' if problems else "all passed")
            rows.append([html.escape(variant_label(attention, placement)), str(len(seeds)),
                         ",".join(map(str, seeds)) or "-"]
                        + [format_cell(by_eps[e]["mean"], half(by_eps[e])) if e in by_eps else "-" for e in epsilons]
                        + [checks])
            classes.append("fail" if problems else "")
        parts.append(f"<h3>{html.escape(backbone)}, {html.escape(task)}</h3>")
        parts.append(table_html(["model", "n seeds", "seeds"]
                                + ["clean" if e == 0 else f"eps {format_epsilon(e)}" for e in epsilons]
                                + ["failed checks / trials"], rows, classes))
    return "\n".join(parts)


def gain_tables_html(frame: pd.DataFrame, gains: pd.DataFrame) -> str:
    if gains.empty:
        return "<p>No task and backbone has both a baseline and an attention variant.</p>"
    parts = []
    for (task, backbone), panel in gains.groupby(["task", "backbone"], sort=True):
        epsilons = sorted(set(panel["epsilon"]))
        rows = []
        for (attention, placement), variant in panel.groupby(["attention", "placement"]):
            gain = variant.set_index("epsilon")["gain"]
            rows.append([html.escape(variant_label(attention, placement))]
                        + [format_gain(gain.get(e, math.nan)) for e in epsilons])
        parts.append(f"<h3>{html.escape(backbone)}, {html.escape(task)}</h3>")
        parts.append(table_html(["attention variant"] + ["clean" if e == 0 else f"eps {format_epsilon(e)}"
                                                          for e in epsilons], rows))
    return "\n".join(parts)


def attack_gap_html(frame: pd.DataFrame) -> str:
    gaps = attack_gap_table(frame)
    if gaps.empty:
        return "<p>No finished trial logged per-attack accuracies.</p>"
    parts = []
    for (task, backbone), panel in gaps.groupby(["task", "backbone"], sort=True):
        epsilons = sorted(set(panel["epsilon"]))
        rows = []
        for (attention, placement), model in panel.groupby(["attention", "placement"]):
            by_eps = model.set_index("epsilon")
            points = f"{by_eps['pgd_points'].max():.0f} / {by_eps['worst_case_points'].max():.0f}"
            rows.append([html.escape(variant_label(attention, placement)), points]
                        + [f"{by_eps.loc[e, 'pgd']:.3f} | {by_eps.loc[e, 'pgd_same_points']:.3f} → "
                           f"{by_eps.loc[e, 'worst_case']:.3f}" if e in by_eps.index else "-" for e in epsilons])
        parts.append(f"<h3>{html.escape(backbone)}, {html.escape(task)}</h3>")
        parts.append(table_html(["model", "points (PGD / worst case)"] + [f"eps {format_epsilon(e)}" for e in epsilons],
                                rows))
    return "\n".join(parts)


def paper_table_html(comparison: pd.DataFrame) -> str:
    rows = []
    for row in comparison.itertuples():
        ours = format_cell(row.ours, (row.ci_high - row.ci_low) / 2) if row.n else "not in this sweep"
        rows.append([html.escape(row.task), html.escape(row.backbone),
                     html.escape(variant_label(row.attention, paper_numbers.PAPER_PLACEMENT)),
                     "clean" if row.epsilon == 0 else format_epsilon(row.epsilon), f"{row.paper:.3f}", ours,
                     str(row.n), html.escape(row.source)])
    return table_html(["task", "backbone", "model", "epsilon", "paper", "this sweep (95 % CI)", "n", "source"], rows)


def trials_table_html(frame: pd.DataFrame) -> str:
    runs = trials(frame)
    rows, classes = [], []
    for run in runs.to_dict("records"):
        bad = run["status"] != "finished" or bool(run["failed_checks"])
        failed_cell = html.escape(", ".join(run["failed_checks"])) or "-"
        rows.append([html.escape(run["run_name"]), html.escape(run["status"]), str(run["seed"]),
                     *(f"{run[k]:.3f}" if not math.isnan(run[k]) else "-"
                       for k in keys.OBJECTIVES),
                     f'<span class="{"fail" if run["failed_checks"] else ""}">{failed_cell}</span>',
                     f"<code>{html.escape(run['run_id'])}</code>"])
        classes.append("fail" if bad else "")
    return table_html(["trial", "status", "seed", "clean", "robust@ref", "robust AUC", "objective", "failed checks",
                       "run id"], rows, classes)


def write_html(frame: pd.DataFrame, out_dir: Path, entries: list[FigureEntry], problems: list[str],
               extra_files: Iterable[str] = (), evidence: Evidence | None = None,
               smoothing: pd.DataFrame | None = None, corruptions: pd.DataFrame | None = None) -> Path:
    summary = accuracy_summary(frame)
    gains = gain_table(summary)
    runs = trials(frame)
    experiment = frame.attrs.get("experiment", "?")
    notes = [f'<p class="warning">WARNING: {html.escape(w)}</p>' for w in frame.attrs.get("warnings", [])]
    missing = missing_note(frame)
    if missing:
        notes.append(f'<p class="missing">MISSING: {html.escape(missing)}</p>')
    failures = check_failures(frame)
    if not failures.empty:
        notes.append(f'<p class="missing">FAILED CHECKS in {len(failures)} trial(s): '
                     + "; ".join(html.escape(f"{r.run_name}: {r.failed_checks}") for r in failures.itertuples())
                     + "</p>")
    notes += [f'<p class="warning">{html.escape(p)}</p>' for p in problems]
    superseded = frame.attrs.get("superseded", [])
    figures_html = []
    for section in dict.fromkeys(e.section for e in entries):
        figures_html.append(f"<h3>{html.escape(section)}</h3>")
        for entry in (e for e in entries if e.section == section):
            figures_html.append(f'<figure><a href="{entry.stem}.pdf"><img src="{entry.stem}.png" '
                                f'alt="{html.escape(entry.caption)}"></a><figcaption>{html.escape(entry.caption)} '
                                f'(<a href="{entry.stem}.pdf">PDF</a>)</figcaption></figure>')
    files = " ".join(f'<a href="{name}">{name}</a>' for name in extra_files)
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(experiment)}: robustness report</title>
<style>{STYLE}</style></head><body>
<h1>Robustness report: {html.escape(experiment)}</h1>
<p class="small">tracking URI {html.escape(str(frame.attrs.get('tracking_uri', '?')))}; {len(runs)} trial(s),
{int((runs['status'] == 'finished').sum())} finished; {len(superseded)} older run(s) of the same trials ignored;
generated {time.strftime('%Y-%m-%d %H:%M:%S')}. Data: {files}</p>
{''.join(notes)}
<h2>Definitions</h2>
<ul><li>Accuracy cells and bands: {html.escape(BAND_DEFINITION)}. Cells show mean ± half-width.</li>
<li>Gain: {html.escape(GAIN_DEFINITION)}.</li>
<li>Epsilon: L-inf radius in [0,1] pixel space; "clean" = epsilon 0.</li></ul>
{evidence_html(evidence, table_html) if evidence is not None else ''}
<h2>Clean and robust accuracy per model</h2>
{accuracy_tables_html(frame, summary)}
<h2>The paper's PGD beside the worst case</h2>
<p class="small">{html.escape(ATTACK_GAP_DEFINITION)}. Cells: PGD on all points | PGD on the worst case's points →
worst case.</p>
{attack_gap_html(frame)}
<h2>The paper's published numbers beside this sweep</h2>
<p class="small">Paper headline: up to +{paper_numbers.HEADLINE_GAINS['typical']:.0%} robust accuracy in typical and
+{paper_numbers.HEADLINE_GAINS['extreme']:.0%} in extreme cases. The paper's models: full-size networks on the original
data; compare with care when this sweep ran a reduced profile.</p>
{paper_table_html(paper_comparison(summary))}
<h2>Relative robust-accuracy gain of attention</h2>
{gain_tables_html(frame, gains)}
{smoothing_html(smoothing)}
{corruption_html(corruptions, table_html)}
<h2>Figures</h2>
{''.join(figures_html)}
<h2>Trials</h2>
{trials_table_html(frame)}
</body></html>
"""
    path = out_dir / HTML_FILE
    path.write_text(page, encoding="utf-8")
    return path


def write_evidence_files(evidence: Evidence, out_dir: Path) -> list[str]:
    tables = {"paired_per_seed.csv": evidence.per_seed, "paired_pooled.csv": evidence.pooled,
              "clinical.csv": evidence.clinical, "radius.csv": evidence.radius, "claims.csv": evidence.claims,
              "epsilon_units.csv": evidence.units}
    for name, table in tables.items():
        table.to_csv(out_dir / name, index=False)
    return list(tables)


def write_data_files(frame: pd.DataFrame, out_dir: Path) -> list[str]:
    runs = frame.assign(checks=frame["checks"].map(lambda c: ";".join(f"{k}={int(v)}" for k, v in sorted(c.items()))),
                        failed_checks=frame["failed_checks"].map(",".join))
    runs.to_csv(out_dir / "runs.csv", index=False)
    summary = accuracy_summary(frame)
    summary = summary.assign(seeds=summary["seeds"].map(lambda s: ",".join(map(str, s))))
    summary.to_csv(out_dir / "summary.csv", index=False)
    return ["runs.csv", "summary.csv"]


def log_summary_run(frame: pd.DataFrame, out_dir: Path, sweep: str, profile: str) -> str:
    """A summary run (tag kind=summary, run name "report") holding out_dir as artifacts; returns its run id."""
    runs = trials(frame)
    counts = dict(zip(keys.REPORT_METRICS, (len(runs), int((runs["status"] != "finished").sum()),
                                            int((runs["failed_checks"].map(len) > 0).sum()))))
    return tracking.log_report(frame.attrs["tracking_uri"], frame.attrs["experiment_id"], out_dir, sweep=sweep,
                               profile=profile, counts=counts)


def build_report(frame: pd.DataFrame, out_dir: str | Path, *, with_images: bool = True,
                 evidence: Evidence | None = None, smoothing: pd.DataFrame | None = None,
                 corruptions: pd.DataFrame | None = None) -> Path:
    """Figures, data files and index.html for a loaded frame; returns the HTML path. smoothing: load_smoothing's
    frame (a section, smoothing.csv and two figures per panel when some trial certified)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as cache:
        loader = mlflow_explanations(frame, frame.attrs["tracking_uri"], Path(cache), problems) if with_images else None
        entries = build_figures(frame, out_dir, loader, evidence, smoothing)
    files = write_data_files(frame, out_dir) + (write_evidence_files(evidence, out_dir) if evidence else [])
    if smoothing is not None and not smoothing.empty:
        smoothing.to_csv(out_dir / "smoothing.csv", index=False)
        files.append("smoothing.csv")
    if corruptions is not None and not corruptions.empty:  # corruptions: analysis.load.load_corruptions's frame
        for figure, stem, caption in corruption_figures(corruptions):
            figures.save_figure(figure, out_dir, stem)
            entries.append(FigureEntry(stem, "Natural corruptions", caption))
        corruptions.to_csv(out_dir / "corruptions.csv", index=False)
        files.append("corruptions.csv")
    return write_html(frame, out_dir, entries, problems, files, evidence, smoothing, corruptions)


def load_evidence(frame: pd.DataFrame, sweep: str, profile: str, tracking_uri: str | None) -> Evidence:
    """The evidence of a loaded sweep, with its other epsilon reading (paper_grid <-> paper_grid_255) if it ran."""
    try:
        other = load_sweep(units.counterpart(sweep), profile, tracking_uri=tracking_uri)
    except AnalysisInputError:
        other = None
    return gather_evidence(frame, counterpart_frame=other, sweep=sweep)


# ---------------------------------------------------------------- command line

def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m analysis.report",
                           description="Figures, tables and an HTML report of a sweep's MLflow experiment.",
                           error_type=AnalysisInputError)
    parser.add_argument("sweep", help="sweep name (the experiment is <sweep>-<profile>)")
    parser.add_argument("--profile", default="paper", help="profile name; default: paper")
    parser.add_argument("--out", type=Path, help="output folder; default: reports/<sweep>-<profile>/")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI; default: sqlite:///<cwd>/mlflow.db (as sweep.run)")
    parser.add_argument("--text-only", action="store_true", help="print the text table only (no files, no MLflow run)")
    parser.add_argument("--no-log", action="store_true", help="write the report files but log no summary run to MLflow")
    return parser


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        args = build_parser().parse_args(argv)
        frame = load_sweep(args.sweep, args.profile, tracking_uri=args.tracking_uri)
    except AnalysisInputError as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    except Exception as error:  # an unreachable server or a corrupt store: one line, no traceback
        print(f"error: cannot read MLflow ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})",
              file=sys.stderr)
        return 2
    for warning in frame.attrs["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    evidence = load_evidence(frame, args.sweep, args.profile, args.tracking_uri)
    smoothing = load_smoothing(frame)
    corruptions = load_corruptions(frame)
    print("\n".join([text_report(frame), *evidence_lines(evidence), *smoothing_lines(smoothing),
                     *corruption_lines(corruptions), *completeness_lines(
        frame.attrs["tracking_uri"], frame.attrs["experiment_id"], args.sweep, args.profile)]), flush=True)
    if args.text_only:
        return 0
    out_dir = args.out or Path("reports") / experiment_name(args.sweep, args.profile)
    path = build_report(frame, out_dir, evidence=evidence, smoothing=smoothing, corruptions=corruptions)
    print(f"\nreport: {path}")
    if not args.no_log:
        try:
            run_id = log_summary_run(frame, out_dir, args.sweep, args.profile)
        except Exception as error:  # e.g. a read-only tracking server: the files are written, say so and go on
            print(f"error: the report is in {out_dir} but could not be logged to MLflow "
                  f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})", file=sys.stderr)
            return 1
        print(f"logged as MLflow run {run_id} (run name {REPORT_RUN_NAME!r}, tag {KIND_TAG}={SUMMARY_KIND}) "
              f"in experiment {frame.attrs['experiment']}")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
