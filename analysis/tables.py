"""Summaries of the tidy frame (analysis.load): accuracy per model and epsilon over seeds, attention's gain,
the paper's numbers beside ours, failed trials and checks; plus the compact text table for terminals.

"model" = (task, backbone, attention, placement); its seeds are pooled (analysis.stats.seed_interval).
Epsilon 0.0 in these tables is the clean accuracy of the points the curve rests on (the worst case's points).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from trainables.spec import format_epsilon
from trainables.spec import keys

from . import claims as verdict_rules
from . import paper_numbers
from .load import MODEL_KEYS, STANDARD_TRAINING, finished, trials
from .stats import format_gain, relative_gain, seed_interval

SUMMARY_COLUMNS = (*MODEL_KEYS, "epsilon", "n", "mean", "std", "ci_low", "ci_high", "seeds")
GAIN_DEFINITION = ("relative robust-accuracy gain of attention at each epsilon: (acc_att - acc_base) / acc_base, "
                   "with acc = mean over seeds and base = the same task and backbone without attention "
                   "(the paper's '+16 % / +2700 %' metric); 'inf' when acc_base = 0 < acc_att, "
                   "'n/a' when both are 0 or one is missing")


def variant_label(attention: str, placement: str) -> str:
    return "no attention" if attention == "none" else f"{attention} @ {placement}"


def model_label(attention: str, placement: str, adv_training: str = STANDARD_TRAINING) -> str:
    """The variant's label, with its training recipe where it is not standard training."""
    label = variant_label(attention, placement)
    return label if adv_training == STANDARD_TRAINING else f"{label}, {adv_training} training"


def number(value: float, digits: int = 3, sign: str = "") -> str:
    """A table cell: "-" for a missing or infinite value (sign "+" writes the sign of a difference)."""
    return "-" if value is None or not math.isfinite(value) else f"{value:{sign}.{digits}f}"


def seed_interval_text(row) -> str:
    """A per-seed comparison row's interval and p for the terminal (the row has seeds, ci_low, ci_high, p_value)."""
    if row.seeds <= 1:
        return "one seed: no interval"
    return f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}], p {row.p_value:.3g}"


def variant_sort_key(variant: tuple[str, str]) -> tuple:
    attention, placement = variant
    return (attention != "none", attention, placement != "head", placement)


def variants(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(attention, placement) pairs in the frame: the baseline first, then attention variants, head first."""
    pairs = {(a, p) for a, p in zip(frame["attention"], frame["placement"])}
    return sorted(pairs, key=variant_sort_key)


def panels(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(task, backbone) pairs in the frame, in a stable order (one paper figure each)."""
    return sorted({(t, b) for t, b in zip(frame["task"], frame["backbone"])})


def accuracy_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % t-interval over the finished seeds per model and epsilon (epsilon 0.0 = clean accuracy)."""
    done = finished(frame)
    # epsilon 0: the clean accuracy of the same points as the curve (the worst case's; clean_acc covers every point)
    clean = trials(done).assign(epsilon=0.0, accuracy=lambda t: t["worst_case_clean"].fillna(t[keys.CLEAN_ACC]))
    rows = []
    for key, group in pd.concat([clean, done], ignore_index=True).groupby([*MODEL_KEYS, "epsilon"], sort=True):
        group = group[group["accuracy"].notna()]
        interval = seed_interval(group["accuracy"])
        if interval.n:
            rows.append((*key, interval.n, interval.mean, interval.std, interval.low, interval.high,
                         tuple(sorted(int(s) for s in group["seed"]))))
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def gain_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Attention's relative gain over the baseline of the same task and backbone, per epsilon (see GAIN_DEFINITION)."""
    rows = []
    for (task, backbone), panel in summary.groupby(["task", "backbone"], sort=True):
        baseline = panel[panel["attention"] == "none"].set_index("epsilon")["mean"]
        for (attention, placement), variant in panel[panel["attention"] != "none"].groupby(["attention", "placement"]):
            for eps, acc in zip(variant["epsilon"], variant["mean"]):
                base = float(baseline.get(eps, math.nan))
                rows.append((task, backbone, attention, placement, eps, base, acc, relative_gain(acc, base)))
    return pd.DataFrame(rows, columns=["task", "backbone", "attention", "placement", "epsilon", "baseline",
                                       "attention_acc", "gain"])


def paper_comparison(summary: pd.DataFrame) -> pd.DataFrame:
    """Every number the paper states next to ours (NaN where this sweep has no such model or epsilon)."""
    rows = []
    for number in paper_numbers.PUBLISHED:
        placement = "head" if number.attention == "none" else paper_numbers.PAPER_PLACEMENT
        match = summary[(summary["task"] == number.task) & (summary["backbone"] == number.backbone)
                        & (summary["attention"] == number.attention) & (summary["placement"] == placement)
                        & np.isclose(summary["epsilon"], number.epsilon)]
        ours = match.iloc[0] if len(match) else None
        rows.append((number.task, number.backbone, number.attention, number.epsilon, number.accuracy,
                     ours["mean"] if ours is not None else math.nan,
                     ours["ci_low"] if ours is not None else math.nan,
                     ours["ci_high"] if ours is not None else math.nan,
                     int(ours["n"]) if ours is not None else 0, number.source))
    return pd.DataFrame(rows, columns=["task", "backbone", "attention", "epsilon", "paper", "ours", "ci_low",
                                       "ci_high", "n", "source"])


ATTACK_GAP_DEFINITION = ("per model and epsilon, mean over finished seeds: accuracy under the paper's PGD alone "
                         "on every evaluated point, the same PGD on the worst case's points, and the worst case "
                         "over the trial's attacks on those points; overstatement = PGD - worst case on the same "
                         "points, how much the single attack overstates robustness")


def attack_gap_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The paper's PGD number beside the worst case, per model and epsilon > 0 (see ATTACK_GAP_DEFINITION)."""
    done = finished(frame)
    done = done[done["epsilon"] > 0]
    rows = []
    for key, group in done.groupby([*MODEL_KEYS, "epsilon"], sort=True):
        pgd, same, worst = (group[column].mean() for column in ("pgd_accuracy", "pgd_accuracy_same_points",
                                                                                 "accuracy"))
        rows.append((*key, pgd, same, worst, same - worst, group["pgd_points"].max(),
                     group["worst_case_points"].max(), len(group)))
    return pd.DataFrame(rows, columns=[*MODEL_KEYS, "epsilon", "pgd", "pgd_same_points", "worst_case",
                                       "overstatement", "pgd_points", "worst_case_points", "n"])


def failed_trials(frame: pd.DataFrame) -> pd.DataFrame:
    runs = trials(frame)
    return runs[runs["status"] != "finished"][["run_name", "run_id", "status"]].reset_index(drop=True)


def check_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """Trials (rows, by run name) x checks: 1.0 passed, 0.0 failed, NaN not logged (e.g. the trial failed)."""
    runs = trials(frame)
    names = sorted({name for checks in runs["checks"] for name in checks})
    values = [[float(checks[n]) if n in checks else math.nan for n in names] for checks in runs["checks"]]
    return pd.DataFrame(values, index=list(runs["run_name"]), columns=names, dtype=float)


UNTRUSTED_MARK = " (!)"  # a model whose mean includes trials with failed checks: left out of every verdict


def untrusted_models(frame: pd.DataFrame) -> set[tuple]:
    """(task, backbone, attention, placement) of every model with a finished trial whose checks failed."""
    runs = trials(finished(frame))
    if runs.empty:
        return set()
    failing = runs[runs["failed_checks"].map(lambda failed: bool(failed))]
    return set(map(tuple, failing[list(MODEL_KEYS)].to_numpy()))


def check_failures(frame: pd.DataFrame) -> pd.DataFrame:
    runs = trials(frame)
    failing = runs[runs["failed_checks"].map(len) > 0]
    return pd.DataFrame({"run_name": failing["run_name"], "failed_checks": failing["failed_checks"].map(", ".join)}
                        ).reset_index(drop=True)


def missing_note(frame: pd.DataFrame) -> str:
    """'2 trials failed: a, b' style note ('' when every trial finished)."""
    failed = failed_trials(frame)
    if failed.empty:
        return ""
    counts = failed["status"].value_counts()
    what = ", ".join(f"{counts[status]} {status}" for status in sorted(counts.index))
    return (f"{len(failed)} of {frame['run_id'].nunique()} trial(s) without results ({what}): "
            f"{', '.join(failed['run_name'])}")


def format_cell(mean: float, half_width: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.3f}" if math.isnan(half_width) else f"{mean:.3f}±{half_width:.3f}"


def text_report(frame: pd.DataFrame) -> str:
    """Compact fixed-width tables: per task x backbone, mean accuracy (±95 % CI half-width) per epsilon."""
    summary = accuracy_summary(frame)
    gains = gain_table(summary)
    untrusted = untrusted_models(frame)
    lines = [f"experiment {frame.attrs.get('experiment', '?')}: {frame['run_id'].nunique()} trial(s), "
             f"accuracy = mean over seeds ± 95 % t-interval half-width; gain = (att - base) / base"
             + (f"; {UNTRUSTED_MARK.strip()} = includes trials whose checks failed (left out of every verdict)"
                if untrusted else "")]
    for task, backbone in panels(frame):
        panel = summary[(summary["task"] == task) & (summary["backbone"] == backbone)]
        epsilons = sorted(set(frame[(frame["task"] == task) & (frame["backbone"] == backbone)]["epsilon"].dropna()))
        columns = [0.0, *epsilons]
        header = f"{task} / {backbone}"
        titles = ["clean" if e == 0 else format_epsilon(e) for e in columns]
        lines += ["", f"{header:34s} {'n':>2s}  " + " ".join(f"{t:>13s}" for t in titles)]
        for attention, placement in variants(frame[(frame["task"] == task) & (frame["backbone"] == backbone)]):
            rows = panel[(panel["attention"] == attention) & (panel["placement"] == placement)].set_index("epsilon")
            n = int(rows["n"].max()) if len(rows) else 0
            half_width = (rows["ci_high"] - rows["ci_low"]) / 2
            cells = [format_cell(rows["mean"].get(e, math.nan), half_width.get(e, math.nan)) for e in columns]
            label = variant_label(attention, placement) + (
                UNTRUSTED_MARK if (task, backbone, attention, placement) in untrusted else "")
            lines.append(f"  {label:32s} {n:2d}  " + " ".join(f"{c:>13s}" for c in cells))
            gain = gains[(gains["task"] == task) & (gains["backbone"] == backbone) & (gains["attention"] == attention)
                         & (gains["placement"] == placement)].set_index("epsilon")["gain"]
            if len(gain):
                lines.append(f"  {'  gain vs no attention':32s} {'':2s}  "
                             + " ".join(f"{format_gain(gain.get(e, math.nan)):>13s}" for e in columns))
    lines += attack_gap_lines(frame)
    comparison = paper_comparison(summary)
    lines += ["", "paper (Wasserman et al.) vs this sweep:"]
    for row in comparison.itertuples():
        eps = "clean" if row.epsilon == 0 else f"eps {format_epsilon(row.epsilon)}"
        ours = format_cell(row.ours, (row.ci_high - row.ci_low) / 2) if row.n else "not in this sweep"
        lines.append(f"  {row.task:21s} {row.backbone:10s} {variant_label(row.attention, 'head'):22s} {eps:11s} "
                     f"paper {row.paper:.3f}  ours {ours}")
    note = missing_note(frame)
    if note:
        lines += ["", "MISSING: " + note]
    failures = check_failures(frame)
    if not failures.empty:
        lines += ["", f"FAILED CHECKS in {len(failures)} trial(s):"]
        lines += [f"  {row.run_name}: {row.failed_checks}" for row in failures.itertuples()]
    for warning in frame.attrs.get("warnings", []):
        lines += ["", "WARNING: " + warning]
    return "\n".join(lines)


def attack_gap_lines(frame: pd.DataFrame) -> list[str]:
    """Text rows 'PGD -> worst case' per model and epsilon."""
    gaps = attack_gap_table(frame)
    if gaps.empty:
        return []
    lines = ["", "the paper's PGD on all points | PGD -> the worst case on the worst case's points (mean over seeds):"]
    for (task, backbone, attention, placement), model in gaps.groupby(list(MODEL_KEYS), sort=True):
        first = model.iloc[0]
        lines.append(f"  {task} / {backbone} / {variant_label(attention, placement)} "
                     f"({int(first.pgd_points) if first.pgd_points == first.pgd_points else '?'} PGD points, "
                     f"{int(first.worst_case_points) if first.worst_case_points == first.worst_case_points else '?'}"
                     f" worst-case points)")
        lines.append("    " + " ".join(f"{format_epsilon(row.epsilon)}: {row.pgd:.3f} | {row.pgd_same_points:.3f}->"
                                       f"{row.worst_case:.3f}" for row in model.itertuples()))
    return lines


FOREST_COLUMNS = ("line", "ordinal", "label", "where", "claim", "attack", "task", "backbone", "epsilon", "n_seeds",
                  "difference", "ci_low", "ci_high", "interval_over", "verdict", "reason", "seeds_needed")


SEEDS_IN_WHY = re.compile(r"about (\d+) seeds")


def verdict_forest_table(claims_table: pd.DataFrame) -> pd.DataFrame:
    """The claims table (analysis.claims.verdicts) as the verdict figure draws it: one row per claims row, in its order.

    line: the figure's line (0 on top): a claim, or a claim per task where it is checked per task (`ordinal` counts
    those); its worst case and its PGD row share the line. difference, ci_low, ci_high: the claims table's
    attention - baseline at the claim's cell and its 95 % interval, over seeds (interval_over "seeds") or, with one
    seed, over images ("images"; "" without numbers). reason: the verdict in a few words. seeds_needed: for an
    inconclusive row, the claims table's seeds_needed (analysis.claims.seeds_needed: the decision rule simulated at
    the observed effect, floor and family; one seed: the number its why gives, at the assumed training seed SD),
    else None.
    """
    rows, lines = [], {}
    for record in claims_table.to_dict("records"):
        ordinal = sum(1 for row in rows if row["claim"] == record["claim"] and row["attack"] == record["attack"])
        line = lines.setdefault((record["claim"], ordinal), len(lines))
        per_task = (claims_table["claim"] == record["claim"]).sum() > (claims_table["attack"].nunique() or 1)
        n_seeds = int(record["n_seeds"])
        epsilon = record["epsilon"]
        where = f"{record['task']} / {record['backbone']}" + ("" if math.isnan(epsilon) else ", clean" if epsilon == 0
                                                              else f", eps {format_epsilon(epsilon)}")
        needed = None
        if record["verdict"] == verdict_rules.INCONCLUSIVE:  # the claims table's advice: the rule itself, simulated
            advised = record.get("seeds_needed")
            found = SEEDS_IN_WHY.search(record["why"] or "")  # one seed: the advice is in its why
            needed = (int(advised) if advised is not None and not pd.isna(advised)
                      else int(found.group(1)) if found else None)
        rows.append(dict(
            line=line, ordinal=ordinal,
            label=record["paper_says"] + (f" ({record['task'].replace('_', ' ')})" if per_task else ""),
            where=where, claim=record["claim"], attack=record["attack"], task=record["task"],
            backbone=record["backbone"], epsilon=epsilon, n_seeds=n_seeds, difference=record["difference"],
            ci_low=record["ci_low"], ci_high=record["ci_high"],
            interval_over=("" if n_seeds == 0 or math.isnan(record["ci_low"])
                           else "seeds" if n_seeds >= 2 else "images"),
            verdict=record["verdict"], reason=short_reason(record, needed), seeds_needed=needed))
    table = pd.DataFrame(rows, columns=list(FOREST_COLUMNS))
    table["seeds_needed"] = pd.array([row["seeds_needed"] for row in rows], dtype="Int64")
    return table


def short_reason(record: dict, needed: int | None) -> str:
    """A few words: the first clause of the claims table's why, or for one seed what would decide it."""
    first = (record["why"] or "").split("; ")[0]
    if record["verdict"] == verdict_rules.INCONCLUSIVE and int(record["n_seeds"]) == 1:
        return ("1 seed: two trained models, not architectures; "
                + (f"--seeds {needed} gives {verdict_rules.POWER:.0%} power for this effect" if needed
                   else "no difference seen to size more seeds"))
    if record["verdict"] == verdict_rules.INCONCLUSIVE and needed:
        return f"{first}; --seeds {needed} gives {verdict_rules.POWER:.0%} power for this effect"
    return first
