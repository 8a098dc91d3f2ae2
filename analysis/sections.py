"""What the report says, page by page: the front page's sections top down (what ran, the verdicts, accuracy vs
epsilon, randomized smoothing, explanations, the paper's numbers) and the detail pages behind them. Each is one
registration (analysis.pages); a new figure section is one more:

    register_section(Section("corruptions", "Accuracy under corruptions", corruption_section, order=45))

with `corruption_section(report, page)` returning `page.figure(...)` per panel ("" when the sweep has none).
"""

from __future__ import annotations

import html
import math

import pandas as pd

from trainables import tracking
from trainables.spec import format_epsilon, keys

from . import ablation, claims, figures, paper_numbers
from .evidence_report import (claims_html, clinical_html, notes_html, paired_html, provenance_html, radius_html,
                              units_html)
from .corruptions import AVERAGE_VS_WORST, corruption_figures, corruption_html
from .load import trials
from .pages import DetailPage, Page, Report, Section, register_page, register_section
from .smoothing import G_NOT_F, bracket_table, certified_comparison
from .stats import BAND_DEFINITION, format_gain
from .tables import (ATTACK_GAP_DEFINITION, GAIN_DEFINITION, accuracy_summary, attack_gap_table, check_failures,
                     format_cell, gain_table, missing_note, panels, paper_comparison, variant_label, variants,
                     verdict_forest_table)

STAND_IN = "stand-in data: numbers test the pipeline, not medicine"
STAND_IN_SOURCES = {"synthetic"}


def anchor(task: str, backbone: str) -> str:
    return f"{task}-{backbone}"


def pretty(name: str) -> str:
    return figures.base.pretty(name)


def smoothing_ran(report: Report) -> bool:
    return report.smoothing is not None and not report.smoothing.empty


def has_evidence(report: Report) -> bool:
    return report.evidence is not None


# ---------------------------------------------------------------- the front page

def run_section(report: Report, page: Page) -> str:
    """One line on what ran, the data it ran on, and what was left out (details behind a link)."""
    frame = report.frame
    runs = trials(frame)
    done = int((runs["status"] == "finished").sum())
    sweep = report.sweep or ", ".join(sorted(set(runs["sweep"].dropna()))) or "?"
    profile = report.profile or ", ".join(sorted(set(runs["profile"].dropna()))) or "?"
    seeds = sorted(int(s) for s in set(runs["seed"]) if s >= 0)
    sources = sorted({str(s) for s in runs.get("source", pd.Series(dtype=object)).dropna() if s != "?"})
    source_text = ", ".join(sources) or "not logged"
    stand_in = f' — <span class="standin">{STAND_IN}</span>' if set(sources) & STAND_IN_SOURCES else ""
    count = page.link("trials", f"{len(runs)} trial(s)") or f"{len(runs)} trial(s)"
    line = (f'<p class="run"><b>{html.escape(sweep)}</b>, profile <b>{html.escape(profile)}</b>: {count} '
            f"({done} finished), {len(seeds)} seed(s) ({', '.join(map(str, seeds)) or '-'}), "
            f"{len(set(runs['task']))} task(s) x {len(set(runs['backbone']))} backbone(s) x "
            f"{len(variants(runs))} model variant(s); data: {html.escape(source_text)}{stand_in}</p>")
    alerts = [f'<p class="warning">WARNING: {html.escape(w)}</p>' for w in frame.attrs.get("warnings", [])]
    failures, missing = check_failures(frame), missing_note(frame)
    left_out = []
    if len(failures):
        names = sorted({name for text in failures["failed_checks"] for name in text.split(", ")})
        left_out.append(f"{len(failures)} trial(s) with failed checks ({', '.join(names)}), in no verdict")
    if missing:
        left_out.append(missing.split(":")[0])
    if report.evidence is not None and report.evidence.notes:
        left_out.append(f"{len(report.evidence.notes)} comparison(s) not made")
    if report.problems:
        left_out.append(f"{len(report.problems)} figure input(s) not read")
    if left_out:
        alerts.append(f'<p class="missing">Left out: {html.escape("; ".join(left_out))} — '
                      f'{page.link("left_out", "which and why")}</p>')
    small = (f'<p class="small">tracking URI {html.escape(str(frame.attrs.get("tracking_uri", "?")))}; '
             f'{len(frame.attrs.get("superseded", []))} older run(s) of the same trials ignored; generated '
             f"{report.generated}; epsilon: L-inf radius in [0, 1] pixel space</p>")
    return line + small + "".join(alerts)


def seeds_command(report: Report, needed: int, claim_name: str, task: str) -> str:
    """The sweep again with more seeds, only where the claim looks (finished trials of the same config are kept)."""
    spec = {c.name: c for c in claims.CLAIMS}.get(claim_name)
    only = ""
    if spec is not None and spec.backbone is not None:
        only = f" --only task={task} --only backbone={spec.backbone}"
    uri = report.frame.attrs.get("tracking_uri")
    where = f" --tracking-uri {uri}" if uri and uri != tracking.default_tracking_uri() else ""
    return f"python -m sweep.run {report.sweep} --profile {report.profile} --seeds {needed}{only}{where}"


def verdict_section(report: Report, page: Page) -> str:
    if report.evidence is None or report.evidence.claims.empty:
        return "<p>No claim could be checked: no per-point outcomes.</p>" if report.evidence is not None else ""
    forest = verdict_forest_table(report.evidence.claims)
    counts = forest[forest["attack"] == "worst_case"]["verdict"].value_counts()
    tally = ", ".join(f"{counts[v]} {v}" for v in (claims.SUPPORTED, claims.CONTRADICTED, claims.INCONCLUSIVE,
                                                   claims.NOT_MEASURED) if v in counts)
    figure = f"<p>Worst case over the attacks: {html.escape(tally)}.</p>" + page.figure(
        figures.verdict_forest(forest, title="The paper's claims, checked over training seeds"), "verdicts",
                         "Each claim of the paper as it states it: attention - baseline at the claim's cell, 95 % "
                         "interval, coloured by verdict (worst case: filled; the paper's PGD: hollow)",
                         links=[("claims", "the claims table", ""), ("paired", "paired comparisons", ""),
                                ("left_out", "left-out trials", "")], wide=True)
    undecided = forest[(forest["attack"] == "worst_case") & forest["seeds_needed"].notna()]
    if undecided.empty:
        return figure
    commands: dict[str, list[str]] = {}
    for row in undecided.itertuples():
        commands.setdefault(seeds_command(report, int(row.seeds_needed), row.claim, row.task), []).append(row.label)
    each = "".join(f"<li><code>{html.escape(command)}</code> <span class=\"small\">({html.escape('; '.join(names))})"
                   f"</span></li>" for command, names in commands.items())
    every = seeds_command(report, int(undecided["seeds_needed"].max()), "", "")
    return (figure + f'<p class="small">{len(undecided)} inconclusive claim(s); the seeds that give each '
            f"{claims.POWER:.0%} power for the effect seen: <code>{html.escape(every)}</code> (finished trials are "
            f"kept).</p>"
            f'<details><summary class="small">the command per claim</summary><ul>{each}</ul></details>')


def accuracy_section(report: Report, page: Page) -> str:
    parts = []
    for task, backbone in panels(report.frame):
        number = paper_numbers.CURVE_FIGURES.get((backbone, task))
        here = anchor(task, backbone)
        parts.append(page.figure(
            figures.accuracy_curves(report.frame, task, backbone), f"accuracy_{task}_{backbone}",
            f"{pretty(backbone)}, {pretty(task)}: robust accuracy vs epsilon (worst case over the attacks, solid; the "
            f"paper's PGD, dotted where it differs; clean, dashed; the paper's stated numbers, stars)"
            + (f", paper figure {number}" if number else ""),
            links=[("accuracy", "accuracy", here), ("paired", "paired", here), ("clinical", "clinical", task),
                   ("radius", "radius", here)]))
    return "".join(parts)


def smoothing_section(report: Report, page: Page) -> str:
    if not smoothing_ran(report):
        return ""
    return f'<p class="small">{html.escape(G_NOT_F)}</p>' + "".join(
        page.figure(figures.bracket_figure(report.smoothing, task, backbone), f"bracket_{task}_{backbone}",
                    f"{pretty(backbone)}, {pretty(task)}: per smoothed model g, the band from its certified accuracy "
                    f"(lower bound) to its accuracy under the EoT attacks (upper bound), and the base model f's worst "
                    f"case (dashed); seed means", links=[("smoothing", "brackets and radii", anchor(task, backbone))])
        for task, backbone in panels(report.smoothing))


def corruptions_ran(report: Report) -> bool:
    return report.corruptions is not None and not report.corruptions.empty


def corruption_section(report: Report, page: Page) -> str:
    if not corruptions_ran(report):
        return ""
    return f'<p class="small">{html.escape(AVERAGE_VS_WORST)}</p>' + "".join(
        page.figure(figure, stem, caption, links=[("corruptions", "mean corruption accuracy, mCE, paired by seed", "")])
        for figure, stem, caption in corruption_figures(report.corruptions))


def corruption_page(report: Report, page: Page) -> str:
    return (corruption_html(report.corruptions, page.table)
            + f"<p>CSV: {page.link('corruptions.csv', 'corruptions.csv')}</p>")


def ablation_ran(report: Report) -> bool:
    return report.ablation is not None


def ablation_section(report: Report, page: Page) -> str:
    """The trade-off plane and the control claims' tally; skipped quietly when the sweep ablates nothing."""
    if not ablation_ran(report):
        return ""
    tally = ablation.verdict_tally(report.ablation.claims)
    return (f'<p class="small">Robust gain at the reference epsilon, worst case, over seeds: '
            f'{html.escape(tally or "no paired comparison")}. '
            f'{page.link("ablation", "every control claim (clean cost, robust gain)")}</p>' + "".join(
                page.figure(figure, stem, caption, links=[("ablation", "the control claims", "")])
                for figure, stem, caption in ablation.ablation_figures(report.ablation.tradeoff)))


def ablation_page(report: Report, page: Page) -> str:
    needed = report.ablation.claims["seeds_needed"].dropna()
    command = seeds_command(report, int(needed.max()), "", "") if len(needed) else ""
    advice = (f'<p class="small">Seeds for {claims.POWER:.0%} power on every undecided statement whose effect lies '
              f"on its claimed side (the most any of them needs): <code>{html.escape(command)}</code> (finished "
              f"trials are kept).</p>" if command else "")
    return (advice + ablation.ablation_html(report.ablation.claims, report.ablation.tradeoff, page.table)
            + f"<p>CSV: {page.link('ablation.csv', 'ablation.csv')} {page.link('tradeoff.csv', 'tradeoff.csv')}</p>")


def explanation_section(report: Report, page: Page) -> str:
    if report.explanations is None:
        return ""
    parts = []
    for task, backbone in panels(report.frame):
        arrays = report.explanations(task, backbone)
        if not arrays:
            continue
        label = f"{pretty(backbone)}, {pretty(task)}"
        parts.append(page.figure(
            figures.perturbation_figure(arrays, title=f"{label}: clean, adversarial and perturbation per epsilon"),
            f"perturbation_{task}_{backbone}", f"{label}: adversarial examples and perturbation maps (paper figures "
            f"2, 9, 12)", wide=True))
        parts.append(page.figure(figures.gradcam_figure(arrays, title=f"{label}: Grad-CAM, clean vs perturbed"),
                                 f"gradcam_{task}_{backbone}", f"{label}: Grad-CAM over clean and adversarial images "
                                 f"(paper figures 10, 11, 13, 14)", wide=True))
    return "".join(parts)


def paper_section(report: Report, page: Page) -> str:
    comparison = paper_comparison(accuracy_summary(report.frame))
    return (f'<p class="small">Paper headline: up to +{paper_numbers.HEADLINE_GAINS["typical"]:.0%} robust accuracy '
            f'in typical and +{paper_numbers.HEADLINE_GAINS["extreme"]:.0%} in extreme cases. The paper\'s models are '
            f"full-size networks on the original data: compare with care when this sweep ran a reduced profile.</p>"
            + paper_table(page, comparison, rest=("accuracy", "paper")))


register_section(Section("run", "", run_section, order=10))
register_section(Section("verdicts", "Verdicts: the paper's claims", verdict_section, order=20))
register_section(Section("accuracy", "Accuracy vs epsilon", accuracy_section, order=30))
register_section(Section("paper", "The paper's stated numbers beside this sweep", paper_section, order=35))
register_section(Section("smoothing", "Randomized smoothing: certified lower bound, empirical upper bound",
                         smoothing_section, order=40))
register_section(Section("corruptions", "Natural corruptions: average-case robustness beside the attacks' worst case",
                         corruption_section, order=45))
register_section(Section("ablation", "Attention ablation: the attention or the parameters, and adversarial training",
                         ablation_section, order=47))
register_section(Section("explanations", "Explanations: perturbations and Grad-CAM", explanation_section, order=50))


# ---------------------------------------------------------------- tables of the detail pages

def half(row) -> float:
    return (row["ci_high"] - row["ci_low"]) / 2


def eps_header(epsilon: float) -> str:
    return "clean" if epsilon == 0 else f"eps {format_epsilon(epsilon)}"


def trial_problems(frame: pd.DataFrame) -> list[str]:
    """'s<seed>: <failed checks>' and 's<seed>: failed' for the trials of one model."""
    problems = []
    for run in trials(frame).to_dict("records"):
        if run["failed_checks"]:
            problems.append(f"s{run['seed']}: {', '.join(run['failed_checks'])}")
        if run["status"] != "finished":
            problems.append(f"s{run['seed']}: {run['status']}")
    return problems


def accuracy_tables(page: Page, frame: pd.DataFrame, summary: pd.DataFrame) -> str:
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
        parts.append(f'<h3 id="{anchor(task, backbone)}">{html.escape(backbone)}, {html.escape(task)}</h3>')
        parts.append(page.table(["model", "n seeds", "seeds"] + [eps_header(e) for e in epsilons]
                                + ["failed checks / trials"], rows, classes))
    return "\n".join(parts)


def gain_tables(page: Page, gains: pd.DataFrame) -> str:
    if gains.empty:
        return "<p>No task and backbone has both a baseline and an attention variant.</p>"
    parts = []
    for (task, backbone), panel in gains.groupby(["task", "backbone"], sort=True):
        epsilons = sorted(set(panel["epsilon"]))
        rows = [[html.escape(variant_label(attention, placement))]
                + [format_gain(variant.set_index("epsilon")["gain"].get(e, math.nan)) for e in epsilons]
                for (attention, placement), variant in panel.groupby(["attention", "placement"])]
        parts.append(f"<h3>{html.escape(backbone)}, {html.escape(task)}</h3>")
        parts.append(page.table(["attention variant"] + [eps_header(e) for e in epsilons], rows))
    return "\n".join(parts)


def attack_gap_tables(page: Page, frame: pd.DataFrame) -> str:
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
        parts.append(page.table(["model", "points (PGD / worst case)"] + [f"eps {format_epsilon(e)}" for e in epsilons],
                                rows))
    return "\n".join(parts)


def paper_table(page: Page, comparison: pd.DataFrame, rest: tuple[str, str] | None = None) -> str:
    rows = []
    for row in comparison.itertuples():
        ours = format_cell(row.ours, (row.ci_high - row.ci_low) / 2) if row.n else "not in this sweep"
        rows.append([html.escape(row.task), html.escape(row.backbone),
                     html.escape(variant_label(row.attention, paper_numbers.PAPER_PLACEMENT)),
                     "clean" if row.epsilon == 0 else format_epsilon(row.epsilon), f"{row.paper:.3f}", ours,
                     str(row.n), html.escape(row.source)])
    return page.table(["task", "backbone", "model", "epsilon", "paper", "this sweep (95 % CI)", "n", "source"], rows,
                      rest=rest)


def trials_table(page: Page, frame: pd.DataFrame) -> str:
    rows, classes = [], []
    for run in trials(frame).to_dict("records"):
        bad = run["status"] != "finished" or bool(run["failed_checks"])
        failed_cell = html.escape(", ".join(run["failed_checks"])) or "-"
        rows.append([html.escape(run["run_name"]), html.escape(run["status"]), str(run["seed"]),
                     *(f"{run[k]:.3f}" if not math.isnan(run[k]) else "-" for k in keys.OBJECTIVES),
                     f'<span class="{"fail" if run["failed_checks"] else ""}">{failed_cell}</span>',
                     f"<code>{html.escape(run['run_id'])}</code>"])
        classes.append("fail" if bad else "")
    return page.table(["trial", "status", "seed", "clean", "robust@ref", "robust AUC", "objective", "failed checks",
                       "run id"], rows, classes)


# ---------------------------------------------------------------- the detail pages

def claims_page(report: Report, page: Page) -> str:
    evidence = report.evidence
    return (claims_html(evidence, page.table) + notes_html(evidence) + provenance_html(evidence)
            + f"<p>CSV: {page.link('claims.csv', 'claims.csv')}</p>")


def accuracy_page(report: Report, page: Page) -> str:
    frame = report.frame
    summary = accuracy_summary(frame)
    placement = "".join(page.figure(figures.placement_heatmap(frame, task, backbone), f"placement_{task}_{backbone}",
                                    f"{backbone}, {task}: mean accuracy per variant and epsilon, and the difference "
                                    f"to no attention") for task, backbone in panels(frame))
    units = ("<h2>Epsilon units: [0, 1] or [0, 255]?</h2>" + units_html(report.evidence, page.table)
             if report.evidence is not None else "")
    return (f'<ul class="small"><li>Accuracy cells: {html.escape(BAND_DEFINITION)}. Cells show mean ± half-width.</li>'
            f'<li>Epsilon: L-inf radius in [0,1] pixel space; "clean" = epsilon 0.</li></ul>'
            f"<h2>Clean and robust accuracy per model</h2>{accuracy_tables(page, frame, summary)}"
            f"<h2>The paper's PGD beside the worst case</h2><p class=\"small\">{html.escape(ATTACK_GAP_DEFINITION)}. "
            f"Cells: PGD on all points | PGD on the worst case's points → worst case.</p>"
            f"{attack_gap_tables(page, frame)}"
            f'<h2 id="paper">The paper\'s published numbers beside this sweep</h2>'
            f"{paper_table(page, paper_comparison(summary))}{units}"
            f"<h2>Relative robust-accuracy gain of attention</h2><p class=\"small\">{html.escape(GAIN_DEFINITION)}.</p>"
            f"{gain_tables(page, gain_table(summary))}"
            f"<h2>Attention placement x epsilon</h2>{placement}"
            f"<h2>Clean vs robust objective</h2>"
            + page.figure(figures.pareto_scatter(frame), "pareto", "clean accuracy vs robust objective per trial, "
                          "Pareto front per task (both maximised)")
            + f"<p>CSV: {page.link('summary.csv', 'summary.csv')} {page.link('runs.csv', 'runs.csv')}</p>")


def paired_page(report: Report, page: Page) -> str:
    evidence = report.evidence

    def figure(task: str, backbone: str) -> str:
        return page.figure(figures.paired_difference_figure(evidence.pooled, task, backbone),
                           f"paired_{task}_{backbone}",
                           f"{backbone}, {task}: attention - baseline on the same images, 95 % CI")

    return (paired_html(evidence, page.table, figure)
            + f"<p>CSV: {page.link('paired_pooled.csv', 'paired_pooled.csv')} "
              f"{page.link('paired_per_seed.csv', 'paired_per_seed.csv')}</p>")


def clinical_page(report: Report, page: Page) -> str:
    clinical = report.evidence.clinical
    tasks = sorted(set(clinical["task"])) if len(clinical) else []
    drawn = "".join(f'<h2 id="{task}">{html.escape(pretty(task))}</h2>'
                    + page.figure(figures.clinical_figure(clinical, task), f"clinical_{task}",
                                  f"{task}: sensitivity and specificity (binary) or balanced accuracy vs epsilon, "
                                  f"worst case") for task in tasks)
    return (drawn + "<h2>Every model, attack and epsilon</h2>" + clinical_html(report.evidence, page.table)
            + f"<p>CSV: {page.link('clinical.csv', 'clinical.csv')}</p>")


def radius_page(report: Report, page: Page) -> str:
    points = report.evidence.points
    drawn = "".join(f'<h2 id="{anchor(task, backbone)}">{html.escape(f"{pretty(backbone)}, {pretty(task)}")}</h2>'
                    + page.figure(figures.radius_curves(points, task, backbone), f"radius_{task}_{backbone}",
                                  f"{backbone}, {task}: fraction of points robust at each radius (seeds pooled)")
                    for task, backbone in (panels(points) if len(points) else []))
    return (drawn + "<h2>Median radius per model</h2>" + radius_html(report.evidence, page.table)
            + f"<p>CSV: {page.link('radius.csv', 'radius.csv')}</p>")


def smoothing_page(report: Report, page: Page) -> str:
    smoothing = report.smoothing
    brackets = [[html.escape(f"{r.task}, {r.backbone}"), html.escape(variant_label(r.attention, r.placement)),
                 f"{r.noise_sigma:g}", "clean" if r.epsilon == 0 else format_epsilon(r.epsilon), f"{r.certified:.3f}",
                 f"{r.smoothed:.3f}", f"{r.base:.3f}", str(r.seeds)] for r in bracket_table(smoothing).itertuples()]
    comparison = [[html.escape(f"{r.task}, {r.backbone}"), html.escape(variant_label(r.attention, r.placement)),
                   f"{r.noise_sigma:g}", "clean" if r.epsilon == 0 else format_epsilon(r.epsilon),
                   f"{r.difference:+.3f}", f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]" if r.seeds > 1 else "-",
                   f"{r.p_value:.3g}" if r.seeds > 1 else "-", str(r.seeds), str(r.seeds_needed or "-")]
                  for r in certified_comparison(smoothing).itertuples()]
    radius = "".join(f'<h2 id="{anchor(task, backbone)}">{html.escape(f"{pretty(backbone)}, {pretty(task)}")}</h2>'
                     + page.figure(figures.certified_radius_figure(smoothing, task, backbone),
                                   f"certified_radius_{task}_{backbone}",
                                   f"{backbone}, {task}: certified accuracy of g vs L2 radius; seed means")
                     for task, backbone in panels(smoothing))
    return (f"<p><b>{html.escape(G_NOT_F)}</b></p><h2>Brackets per model and epsilon</h2>"
            + page.table(["task, backbone", "model", "sigma", "epsilon", "certified (g)", "EoT attack (g)",
                          "worst case (f)", "seeds"], brackets)
            + "<h2>Attention - baseline on certified accuracy</h2><p class=\"small\">Per seed, the difference of the "
              "two models trained with that seed; 95 % t-interval and t-test over seeds (the unit of replication).</p>"
            + page.table(["task, backbone", "attention variant", "sigma", "epsilon", "difference", "95 % CI", "p",
                          "seeds", "seeds needed"], comparison)
            + radius + f"<p>CSV: {page.link('smoothing.csv', 'smoothing.csv')}</p>")


def trials_page(report: Report, page: Page) -> str:
    frame = report.frame
    return (page.figure(figures.checks_grid(frame), "checks", "robustness sanity checks per trial (gray: not logged)")
            + "<h2>Every trial</h2>" + trials_table(page, frame)
            + f"<p>CSV: {page.link('runs.csv', 'runs.csv')}</p>")


def left_out_page(report: Report, page: Page) -> str:
    frame = report.frame
    runs = trials(frame)
    out = runs[(runs["status"] != "finished") | (runs["failed_checks"].map(len) > 0)]
    rows = [[html.escape(r["run_name"]), html.escape(r["status"]), html.escape(", ".join(r["failed_checks"]) or "-"),
             "did not finish" if r["status"] != "finished" else "failed checks: in no comparison or verdict",
             f"<code>{html.escape(r['run_id'])}</code>"] for r in out.to_dict("records")]
    superseded = frame.attrs.get("superseded", [])
    missing = missing_note(frame)
    parts = [f'<p class="missing">MISSING: {html.escape(missing)}</p>' if missing else "",
             page.table(["trial", "status", "failed checks", "left out because", "run id"], rows) if rows
             else "<p>Every trial finished and passed its checks.</p>"]
    if report.evidence is not None:
        parts.append(notes_html(report.evidence))
    if superseded:
        parts.append("<h2>Older runs of the same trials (ignored)</h2><p>" + ", ".join(
            f"<code>{html.escape(r)}</code>" for r in superseded) + "</p>")
    if report.problems:
        parts.append("<h2>Figure inputs that could not be read</h2><ul>" + "".join(
            f"<li>{html.escape(p)}</li>" for p in report.problems) + "</ul>")
    return "\n".join(parts) + f"<p>Every trial: {page.link('trials', 'trials and their checks')}</p>"


register_page(DetailPage("claims", "The paper's claims, checked", claims_page,
                         "every claim x attack with its difference, interval, Holm p, verdict and why",
                         when=has_evidence))
register_page(DetailPage("accuracy", "Accuracy per model and epsilon", accuracy_page,
                         "accuracy tables, the paper's PGD beside the worst case, the paper's numbers, epsilon units, "
                         "gains, placement heat maps, the Pareto scatter"))
register_page(DetailPage("paired", "Paired comparisons on the same images", paired_page,
                         "attention - baseline per seed pair, McNemar and Holm", when=has_evidence))
register_page(DetailPage("clinical", "Clinical metrics under attack", clinical_page,
                         "sensitivity, specificity, balanced accuracy, collapse", when=has_evidence))
register_page(DetailPage("radius", "Robustness radius", radius_page, "the smallest adversarial epsilon per point",
                         when=has_evidence))
register_page(DetailPage("smoothing", "Randomized smoothing", smoothing_page,
                         "certified and EoT brackets, attention vs baseline on certified accuracy", when=smoothing_ran))
register_page(DetailPage("corruptions", "Natural corruptions", corruption_page,
                         "accuracy per model, mCE, attention - baseline paired by seed", when=corruptions_ran))
register_page(DetailPage("ablation", "Attention ablation: control claims", ablation_page,
                         "each attention variant vs none and vs param_control, adversarial vs standard training: "
                         "clean cost and robust gain over seeds", when=ablation_ran))
register_page(DetailPage("trials", "Trials and their sanity checks", trials_page,
                         "every trial's status, objectives and checks"))
register_page(DetailPage("left_out", "Left-out trials", left_out_page,
                         "trials without results or with failed checks, comparisons not made"))
