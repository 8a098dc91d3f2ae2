"""Everything the report says beyond mean accuracies, computed once from the per-point outcomes: the paired
comparisons, clinical metrics, radii, the paper's claims and the epsilon units; plus why a comparison is missing."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from . import claims, clinical, paired, units
from .points import load_points, pairs


@dataclass
class Evidence:
    points: pd.DataFrame
    per_seed: pd.DataFrame  # analysis.paired.paired_comparisons
    pooled: pd.DataFrame  # analysis.paired.pooled_comparisons
    clinical: pd.DataFrame  # analysis.clinical.clinical_summary
    radius: pd.DataFrame  # analysis.paired.radius_summary
    claims: pd.DataFrame  # analysis.claims.verdicts
    units: pd.DataFrame  # analysis.units.units_table
    units_sentence: str
    notes: list[str] = field(default_factory=list)  # comparisons that could not be made, and why
    untrusted: list[str] = field(default_factory=list)  # trials whose checks failed: in no comparison or verdict
    splits: tuple[str, ...] = ()
    enhancements: tuple[str, ...] = ()


def unpaired_notes(points: pd.DataFrame, paired_rows: pd.DataFrame) -> list[str]:
    """One line per attention trial whose baseline (same task, backbone, seed) has no per-point outcomes."""
    keys = ["task", "backbone", "attention", "placement", "seed"]
    variants = points[points["attention"] != "none"].drop_duplicates(keys)
    have = set(map(tuple, paired_rows[keys].drop_duplicates().to_numpy())) if len(paired_rows) else set()
    return [f"{row.task}/{row.backbone} {row.attention} @ {row.placement} seed {row.seed}: no baseline trial with "
            f"per-point outcomes (same task, backbone and seed), so no paired comparison"
            for row in variants.itertuples() if (row.task, row.backbone, row.attention, row.placement, row.seed)
            not in have]


def gather_evidence(frame: pd.DataFrame, *, reader=None, counterpart_frame: pd.DataFrame | None = None,
                    sweep: str | None = None) -> Evidence:
    """counterpart_frame: the same sweep with the other epsilon reading (paper_grid <-> paper_grid_255), if run."""
    points = load_points(frame, reader=reader)
    paired_rows = pairs(points[points["trusted"].astype(bool)])  # only trusted trials are compared
    per_seed = paired.paired_comparisons(paired_rows)
    pooled = paired.pooled_comparisons(per_seed)
    notes = list(points.attrs.get("missing", [])) + unpaired_notes(points, paired_rows)
    if points.empty:
        notes.append("no finished trial has per-point outcomes: no paired comparison, clinical metric or radius")
    is_255 = bool(sweep and sweep.endswith(units.SUFFIX))
    unit_frame, frame_255 = (counterpart_frame, frame) if is_255 else (frame, counterpart_frame)
    table = units.units_table(unit_frame, frame_255)
    return Evidence(points=points, per_seed=per_seed, pooled=pooled,
                    clinical=clinical.clinical_summary(clinical.clinical_table(points)),
                    radius=paired.radius_summary(points), claims=claims.verdicts(points), units=table,
                    untrusted=list(points.attrs.get("untrusted", [])),
                    units_sentence=units.units_sentence(table), notes=notes,
                    splits=tuple(sorted(set(frame["objective_split"]))), enhancements=tuple(sorted(set(frame["enhancement"]))))
