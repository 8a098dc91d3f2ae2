"""How complete a sweep is, counted against its grid: finished, running (a live driver), unfinished (its driver is
gone: a run left RUNNING or closed KILLED), failed, and never started (a grid trial with no run at all). The report
prints it last, so an unfinished sweep is never read as a finished one."""

from __future__ import annotations

from collections import Counter

from search_spaces import expand
from trainables.spec import keys
from trainables.tracking import lease
from trainables.tracking.reader import search_all

UNFINISHED = "unfinished (driver gone)"


def trial_states(client, experiment_id: str) -> dict[str, str]:
    """run name -> state of its newest trial run (a finished one if any)."""
    runs = search_all(client, experiment_id)  # newest first
    parents = {run.info.run_id: run for run in runs if run.data.tags.get(keys.TAG_KIND) == keys.SWEEP_KIND}
    states: dict[str, str] = {}
    for run in runs:
        if keys.TAG_KIND in run.data.tags:
            continue
        parent = parents.get(run.data.tags.get(keys.TAG_PARENT, ""))
        if run.info.status == "FINISHED" and run.data.tags.get(keys.TAG_STATUS) == keys.STATUS_FINISHED:
            state = "finished"
        elif run.info.status == "KILLED" or (run.info.status == "RUNNING" and (
                parent is None or parent.info.status != "RUNNING" or lease.gone_because(parent) is not None)):
            state = UNFINISHED
        elif run.info.status == "RUNNING":
            state = "running"
        else:
            state = "failed"
        if state == "finished" or run.info.run_name not in states:  # newest first; a finished run wins
            states[run.info.run_name] = state
    return states


def grid_names(sweep: str, profile: str) -> list[str]:
    """The run names of the sweep's grid as registered ([] for a search or a sweep this process does not know)."""
    try:
        return [trial.run_name for trial in expand(sweep, profile)]
    except ValueError:
        return []


NEVER_STARTED_NAMED = 10  # a run with --only leaves most of a grid never started: name a few, count the rest


def completeness_lines(tracking_uri: str, experiment_id: str, sweep: str, profile: str,
                       never_started_named: int = NEVER_STARTED_NAMED) -> list[str]:
    """The lines that end the report: counts against the grid, then each trial that is not finished (never started
    ones: the first never_started_named, then their count)."""
    import mlflow

    states = trial_states(mlflow.MlflowClient(tracking_uri), experiment_id)
    grid = grid_names(sweep, profile)
    for name in grid:
        states.setdefault(name, "never started")
    counts = Counter(states.values())
    total = len(states)
    lines = [f"trials: {counts['finished']} of {total} finished" + "".join(
        f", {counts[state]} {state}" for state in ("running", UNFINISHED, "failed", "never started") if counts[state])]
    lines += [f"  {state}: {name}" for name, state in sorted(states.items()) if state not in ("finished",
                                                                                              "never started")]
    never_started = sorted(name for name, state in states.items() if state == "never started")
    lines += [f"  never started: {name}" for name in never_started[:never_started_named]]
    if len(never_started) > never_started_named:
        lines.append(f"  ... and {len(never_started) - never_started_named} more never started (a run with --only "
                     f"covers part of the grid; `python -m sweep.run {sweep} --profile {profile} --dry-run` lists it)")
    return lines
