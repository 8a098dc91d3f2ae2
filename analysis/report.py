"""`python -m analysis.report SWEEP [--profile P] [--out DIR] [--tracking-uri URI] [--text-only] [--no-log]`

Reads the sweep's MLflow experiment "<sweep>-<profile>" and its trials' per-point outcomes (analysis.evidence: paired
comparisons, clinical metrics, radii, the paper's claims, epsilon units), prints every table as fixed-width text,
writes into DIR (default reports/<sweep>-<profile>/) a front page index.html read top down (what ran, the verdicts as
a figure, accuracy vs epsilon, smoothing, explanations; analysis.sections) with a detail page per table one click
away, every figure once (PNG for the screen, PDF beside it), runs.csv, summary.csv and the evidence CSVs (relative
links, no scripts), and logs DIR as the artifacts of a summary run (tag kind=summary, run name "report") in the same
experiment. Exit status 2 (one-line message) for input it cannot use.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from trainables import tracking
from trainables.spec import experiment_name
from trainables.runtime.cli import OneLineParser
from trainables.spec import keys

from . import sections  # noqa: F401  (registers the report's sections and pages)
from . import units
from .completeness import completeness_lines
from .evidence import Evidence, gather_evidence
from .evidence_report import evidence_lines
from .ablation import Ablation, ablation_lines, ablation_of
from .corruptions import corruption_lines
from .load import (KIND_TAG, SUMMARY_KIND, AnalysisInputError, finished, load_corruptions, load_explanations,
                   load_smoothing, load_sweep, trials)
from .pages import HTML_FILE, ExplanationLoader, Report, write_pages  # noqa: F401  (HTML_FILE: the front page)
from .smoothing import smoothing_lines
from .tables import accuracy_summary, text_report, variant_label, variants

REPORT_RUN_NAME = keys.REPORT_RUN


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


def mlflow_explanations(frame: pd.DataFrame, tracking_uri: str, cache: Path, problems: list[str]) -> ExplanationLoader:
    """Loader for the explanation figures: downloads only samples.npz of the example runs; notes what is missing."""
    def load(task: str, backbone: str):
        found = {}
        for label, run_id in example_runs(frame, task, backbone).items():
            try:
                found[label] = load_explanations(run_id, tracking_uri=tracking_uri, destination=cache / run_id)
            except AnalysisInputError as error:
                problems.append(f"{task}/{backbone} {label}: {error}")
        return found

    return load


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
                 evidence: Evidence | None = None, smoothing: pd.DataFrame | None = None, sweep: str = "",
                 profile: str = "", explanations: ExplanationLoader | None = None,
                 corruptions: pd.DataFrame | None = None, ablation: Ablation | None = None) -> Path:
    """The pages (analysis.sections: the front page index.html and its detail pages), their figures and the data
    files for a loaded frame; returns the front page's path. smoothing: load_smoothing's frame (a section, a page,
    smoothing.csv when some trial certified); corruptions: load_corruptions's frame (likewise); ablation:
    analysis.ablation.ablation_of's (a section, a page, ablation.csv and tradeoff.csv). explanations: a
    loader of the explanation arrays; default (with_images) the example runs' samples.npz from MLflow."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = write_data_files(frame, out_dir) + (write_evidence_files(evidence, out_dir) if evidence else [])
    if smoothing is not None and not smoothing.empty:
        smoothing.to_csv(out_dir / "smoothing.csv", index=False)
        files.append("smoothing.csv")
    if corruptions is not None and not corruptions.empty:
        corruptions.to_csv(out_dir / "corruptions.csv", index=False)
        files.append("corruptions.csv")
    if ablation is not None:
        ablation.claims.to_csv(out_dir / "ablation.csv", index=False)
        ablation.tradeoff.to_csv(out_dir / "tradeoff.csv", index=False)
        files += ["ablation.csv", "tradeoff.csv"]
    runs = frame.drop_duplicates("run_id")
    report = Report(frame=frame, out_dir=out_dir, evidence=evidence, smoothing=smoothing, corruptions=corruptions,
                    ablation=ablation, csv_files=files,
                    sweep=sweep or (str(runs["sweep"].mode().iloc[0]) if runs["sweep"].notna().any() else ""),
                    profile=profile or (str(runs["profile"].mode().iloc[0]) if runs["profile"].notna().any() else ""))
    with tempfile.TemporaryDirectory() as cache:
        if explanations is None and with_images:
            explanations = mlflow_explanations(frame, frame.attrs["tracking_uri"], Path(cache), report.problems)
        report.explanations = explanations
        return write_pages(report)


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
    ablation = ablation_of(evidence.points, frame)
    print("\n".join([text_report(frame), *evidence_lines(evidence), *smoothing_lines(smoothing),
                     *corruption_lines(corruptions), *ablation_lines(ablation), *completeness_lines(
        frame.attrs["tracking_uri"], frame.attrs["experiment_id"], args.sweep, args.profile)]), flush=True)
    if args.text_only:
        return 0
    out_dir = args.out or Path("reports") / experiment_name(args.sweep, args.profile)
    path = build_report(frame, out_dir, evidence=evidence, smoothing=smoothing, sweep=args.sweep, profile=args.profile,
                        corruptions=corruptions, ablation=ablation)
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
