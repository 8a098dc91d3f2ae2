"""The evidence (analysis.evidence) as report sections: HTML parts for the report's pages (analysis.sections) and
fixed-width lines for --text-only. Both show the same numbers; a value that could not be computed prints as "-" with
the reason in the notes."""

from __future__ import annotations

import html
import math
from typing import Callable, Iterable

import pandas as pd

from trainables.spec import format_epsilon

from .claims import __doc__ as CLAIMS_DOC
from .clinical import CLINICAL_DEFINITION
from .evidence import Evidence
from .paired import PAIRED_DEFINITION
from .stats import format_gain, relative_gain
from .tables import panels, variant_label

THREAT_MODELS = {"data": "the X-ray enhancement runs in the data, before the attack: the attacker perturbs the "
                         "enhanced image",
                 "model": "the X-ray enhancement is a layer inside the model: the attacker perturbs the radiograph"}
SPLITS = {"test": "objectives of the trials (what a search would optimise): the test split",
          "val": "objectives a search optimised: the validation split (val/<objective> in MLflow), so choosing "
                 "never looked at the test split"}


def number(value: float, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def p_text(value: float) -> str:
    return "-" if value is None or math.isnan(value) else (f"{value:.2g}" if value >= 1e-4 else "<1e-4")


def ci_text(low: float, high: float) -> str:
    return "-" if math.isnan(low) or math.isnan(high) else f"[{low:+.3f}, {high:+.3f}]"


def eps_text(epsilon: float) -> str:
    return "clean" if epsilon == 0 else format_epsilon(epsilon)


def comparison_cells(pooled: pd.DataFrame) -> Iterable[tuple[str, str, str, list[str], list[list[str]]]]:
    """Per task x backbone: (task, backbone, title, header, rows) of the pooled comparisons."""
    for task, backbone in panels(pooled):
        panel = pooled[(pooled["task"] == task) & (pooled["backbone"] == backbone)]
        rows = []
        for key, model in panel.groupby(["attention", "placement", "attack"], sort=True):
            for cell in model.sort_values("epsilon").itertuples():
                rows.append([variant_label(key[0], key[1]), key[2], eps_text(cell.epsilon),
                             f"{cell.n_seeds} ({','.join(map(str, cell.seeds))})", str(cell.n_points),
                             number(cell.baseline_acc), number(cell.attention_acc), f"{cell.difference:+.3f}",
                             ci_text(cell.ci_low, cell.ci_high), cell.ci_over,
                             format_gain(relative_gain(cell.attention_acc, cell.baseline_acc)),
                             f"{cell.attention_only}/{cell.baseline_only}", p_text(cell.p_value),
                             p_text(cell.p_holm)])
        yield task, backbone, f"{backbone}, {task}", ["model", "attack", "eps", "seeds", "pairs", "baseline",
                                                      "attention", "difference", "95 % CI", "CI over", "rel. gain",
                                                      "att-only/base-only", "McNemar p", "Holm p"], rows


def clinical_rows(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = ["task", "backbone", "model", "attack", "eps", "seeds", "accuracy", "sensitivity", "specificity",
              "balanced acc", "largest class share", "collapsed seeds"]
    rows = []
    for cell in summary.itertuples():
        rows.append([cell.task, cell.backbone, variant_label(cell.attention, cell.placement), cell.attack,
                     eps_text(cell.epsilon), str(cell.n_seeds), number(cell.accuracy),
                     number(getattr(cell, "sensitivity", math.nan)), number(getattr(cell, "specificity", math.nan)),
                     number(cell.balanced_acc), number(cell.majority_fraction),
                     f"{cell.collapsed_seeds}" + (" COLLAPSED" if cell.collapsed_seeds else "")])
    return header, rows


def radius_text(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.3g}"


def radius_rows(radius: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = ["task", "backbone", "model", "seeds", "points", "median radius", "95 % CI", "never broken"]
    rows = [[r.task, r.backbone, variant_label(r.attention, r.placement), str(r.n_seeds), str(r.n_points),
             radius_text(r.median_radius), "-" if math.isnan(r.ci_low) else
             f"[{radius_text(r.ci_low)}, {radius_text(r.ci_high)}]",
             f"{r.never_broken:.0%}"] for r in radius.itertuples()]
    return header, rows


def claim_rows(table: pd.DataFrame, *, short: bool = False) -> tuple[list[str], list[list[str]]]:
    """short: the claim's name instead of the paper's words, no source (the terminal table)."""
    header = ["claim" if short else "claim (paper)", *([] if short else ["read as"]), "task / backbone", "eps",
              "attack", "seeds", "difference", "95 % CI (seeds; 1 seed: images)", "rel. gain", "Holm p", "verdict", "why"]
    rows = []
    for r in table.itertuples():
        where = f"{r.task} / {r.backbone}"
        eps = "-" if math.isnan(r.epsilon) else eps_text(r.epsilon)
        rows.append([*([r.claim] if short else [r.paper_says, r.reading]), where, eps, r.attack, str(r.n_seeds),
                     number(r.difference), ci_text(r.ci_low, r.ci_high),
                     format_gain(relative_gain(r.attention_acc, r.baseline_acc)), p_text(r.p_holm),
                     r.verdict.upper(), r.why])
    return header, rows


def units_rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = ["task", "backbone", "model", "paper eps", "paper", "ours, [0, 1] reading", "ours, [0, 255] reading"]
    rows = [[r.task, r.backbone, variant_label(r.attention, "head"), format_epsilon(r.epsilon), number(r.paper),
             number(r.ours_unit) if not math.isnan(r.ours_unit) else "not run",
             number(r.ours_255) if not math.isnan(r.ours_255) else "not run"] for r in table.itertuples()]
    return header, rows


def provenance(evidence: Evidence) -> list[str]:
    return (["every accuracy, paired comparison, clinical metric and radius here: the test split"]
            + [SPLITS.get(s, s) for s in evidence.splits]
            + [f"threat model {e!r}: {THREAT_MODELS.get(e, e)}" for e in evidence.enhancements])


def escaped(header_rows) -> tuple[list[str], list[list[str]]]:
    header, rows = header_rows
    return header, [[html.escape(str(c)) for c in row] for row in rows]


def notes_html(evidence: Evidence) -> str:
    """Comparisons that could not be made and trials left out of every comparison, as red notes."""
    parts = []
    if evidence.notes:
        parts.append('<p class="missing">Comparisons not made: ' + "; ".join(html.escape(n) for n in evidence.notes)
                     + "</p>")
    if evidence.untrusted:
        parts.append('<p class="missing">Not measured (left out of every comparison and verdict): '
                     + "; ".join(html.escape(line) for line in evidence.untrusted) + "</p>")
    return "\n".join(parts)


def provenance_html(evidence: Evidence) -> str:
    return ("<h2>Where the numbers come from</h2><ul>"
            + "".join(f"<li>{html.escape(line)}</li>" for line in provenance(evidence)) + "</ul>")


def claims_html(evidence: Evidence, table: Callable) -> str:
    """table(header, rows) -> HTML (analysis.pages.Page.table); cells arrive escaped."""
    return (f'<p class="small">{html.escape(" ".join(CLAIMS_DOC.split()))}</p>'
            + table(*escaped(claim_rows(evidence.claims))))


def paired_html(evidence: Evidence, table: Callable, figure: Callable[[str, str], str]) -> str:
    """figure(task, backbone) -> the HTML of that panel's figure ("" for none)."""
    parts = [f'<p class="small">{html.escape(PAIRED_DEFINITION)}</p>']
    for task, backbone, title, header, rows in comparison_cells(evidence.pooled):
        parts.append(f'<h2 id="{task}-{backbone}">{html.escape(title)}</h2>' + figure(task, backbone)
                     + table(*escaped((header, rows))))
    if evidence.pooled.empty:
        parts.append("<p>No attention trial has a paired baseline with per-point outcomes.</p>")
    return "\n".join(parts)


def clinical_html(evidence: Evidence, table: Callable) -> str:
    return (f'<p class="small">{html.escape(CLINICAL_DEFINITION)}; mean over seeds.</p>'
            + (table(*escaped(clinical_rows(evidence.clinical))) if len(evidence.clinical)
               else "<p>No per-point outcomes.</p>"))


RADIUS_DEFINITION = ("Per point the smallest adversarial epsilon found (ladder bracket, lowered by the minimal-norm "
                     "attack's estimate); median over the points of every seed with a 95 % two-level bootstrap CI "
                     "(seeds, then points within them).")


def radius_html(evidence: Evidence, table: Callable) -> str:
    return (f'<p class="small">{html.escape(RADIUS_DEFINITION)}</p>'
            + (table(*escaped(radius_rows(evidence.radius))) if len(evidence.radius)
               else "<p>No per-point outcomes.</p>"))


def units_html(evidence: Evidence, table: Callable) -> str:
    return f"<p>{html.escape(evidence.units_sentence)}</p>" + table(*escaped(units_rows(evidence.units)))


def fixed_width(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    line = lambda cells: indent + "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(header), *(line(r) for r in rows)]


def evidence_lines(evidence: Evidence) -> list[str]:
    lines = ["", "where the numbers come from: " + "; ".join(provenance(evidence))]
    if evidence.untrusted:
        lines += ["", "not measured (left out of every comparison and verdict): " + "; ".join(evidence.untrusted)]
    lines += ["", "the paper's claims, checked (unit: the training seed; Holm over every claim x attack):"]
    lines += fixed_width(*claim_rows(evidence.claims, short=True))
    lines += [f"  {name}: {says}" for name, says in dict(zip(evidence.claims["claim"], evidence.claims["paper_says"])).items()]
    lines += ["", "paired comparisons, attention - baseline on the same images (pooled over seeds; Holm within "
                  "task x backbone x variant over the ladder):"]
    for _, _, title, header, rows in comparison_cells(evidence.pooled):
        lines += [f" {title}"] + fixed_width(header, rows)
    if len(evidence.clinical):
        worst = evidence.clinical[evidence.clinical["attack"] == "worst_case"]
        lines += ["", "clinical metrics under attack, worst case (mean over seeds; the paper's PGD: in the HTML):"]
        lines += fixed_width(*clinical_rows(worst))
    if len(evidence.radius):
        lines += ["", "robustness radius:"] + fixed_width(*radius_rows(evidence.radius))
    lines += ["", "epsilon units: " + evidence.units_sentence] + fixed_width(*units_rows(evidence.units))
    lines += [f"NOT COMPARED: {note}" for note in evidence.notes]
    return lines
