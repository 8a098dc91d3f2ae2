"""Analysis of a sweep: one reader of MLflow (load), summaries (tables), one function per figure (figures),
and the report builder / CLI (report: `python -m analysis.report SWEEP --profile P`)."""

from .load import AnalysisInputError, load_experiment, load_explanations, load_sweep
from .stats import seed_interval
from .tables import accuracy_summary, gain_table, paper_comparison, text_report

__all__ = ["AnalysisInputError", "accuracy_summary", "gain_table", "load_experiment", "load_explanations",
           "load_sweep", "paper_comparison", "seed_interval", "text_report"]
