"""Command line: `python -m sweep.run NAME [--profile P] [options]`. See `--help` and the README."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from search_spaces import PROFILES, SWEEPS, Sweep, expand, get_sweep, parse_only, select_trials
from trainables.spec import TrialConfig, experiment_name, format_epsilon, parse_assignments
from trainables import tracking
from trainables.spec.registry import DuplicateNameError
from trainables.runtime.cli import OneLineParser
from trainables.tracking import buffer, lease

from . import launcher, signals, space, validate
from .cost import describe_cost, describe_total, trial_cost
from .data_prep import check_data_folders, prepare_data
from .errors import UsageError
from .launcher import LaunchSettings, summary_table


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m sweep.run", description="Run a named sweep of trials on Ray Tune, logged to MLflow.",
                           error_type=UsageError)
    parser.add_argument("sweep", nargs="?", help="sweep name (see --list)")
    parser.add_argument("--profile", default="paper", help="profile name (see --list); default: paper")
    parser.add_argument("--list", action="store_true", help="list sweeps and profiles and exit")
    parser.add_argument("--sweeps-file", type=Path, action="append", default=[], metavar="FILE.py",
                        help="a Python file that declares more sweeps with register_sweep (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="print the expanded trials and exit")
    parser.add_argument("--json", action="store_true", help="with --dry-run: one JSON object (full config) per trial")
    parser.add_argument("--address", help="join this Ray cluster (host:port or auto); default: start a local Ray")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI; default: sqlite:///<cwd>/mlflow.db")
    parser.add_argument("--storage", default="ray_results",
                        help="Ray results: a folder, or a URI (s3://, gs://, file://; shared storage on a cluster)")
    parser.add_argument("--max-concurrent", type=positive_int, help="run at most N trials at once")
    parser.add_argument("--max-failures", type=non_negative_int, default=2,
                        help="retries per failed trial (from its last checkpoint), N >= 0; default 2")
    parser.add_argument("--fresh-workers", action="store_true",
                        help="start a new worker process for every trial (default: a worker runs trial after trial, "
                             "saving ~10 s of process start and imports per trial on 2 CPUs)")
    parser.add_argument("--seeds", type=positive_int, default=1, help="repeat every trial over N seeds")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a trial config value, e.g. --set epochs=3 (repeatable)")
    parser.add_argument("--only", action="append", default=[], metavar="KEY=VALUE[,VALUE]",
                        help="run only the grid's trials whose KEY is one of the VALUEs, e.g. --only task=skin_lesion "
                             "(repeatable; all must match)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run of this sweep")
    parser.add_argument("--fresh", action="store_true", help="run a finished sweep again (new Ray experiment, new MLflow runs)")
    parser.add_argument("--trials", type=positive_int, default=None, help="search sweeps: number of trials to add to the study")
    parser.add_argument("--study-storage", help="search sweeps: Optuna RDB URL; default: sqlite:///<cwd>/optuna.db")
    return parser


def integer_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, received {text!r}")
        return value

    return parse


positive_int = integer_at_least(1)
non_negative_int = integer_at_least(0)  # --max-failures: Ray reads -1 as "retry forever"


def list_names() -> str:
    lines = ["sweeps:"]
    lines += [f"  {s.name:16s} {s.description}" for s in SWEEPS.values()]
    lines += ["profiles:"]
    lines += [f"  {p.name:16s} {p.description}" for p in PROFILES.values()]
    return "\n".join(lines)


def describe_trial(index: int, trial: TrialConfig) -> str:
    eps = ",".join(format_epsilon(e) for e in trial.epsilons)
    source = f" re-evaluates {trial.source_run_id}" if trial.source_run_id else ""
    return (f"{index:4d}  {trial.run_name:52s} {trial.source}/{trial.scale} {trial.image_size}px "
            f"epochs={trial.epochs} attacks={trial.attack_preset}:{'+'.join(trial.attack_settings.attacks)} eps=[{eps}] "
            f"{describe_cost(trial_cost(trial))}{source}")


def main(argv: list[str] | None = None) -> int:
    """Exit 0: every trial finished; 1: a trial or the launch failed after it started (traceback on stderr);
    2: bad input, found before any trial starts (one line); 130: interrupted (Ctrl-C); 143 / 129: ended by
    SIGTERM / SIGHUP, which stop the sweep like Ctrl-C (sweep.signals)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    with signals.as_interrupts():
        return _main(argv)


def _main(argv: list[str]) -> int:
    plan = None
    try:
        plan = prepare(build_parser().parse_args(argv))
        return 0 if plan is None else launch(plan)
    except (UsageError, lease.SweepBusy) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        ended = "interrupted" if signals.exit_status() == 130 else f"stopped by {signals.received_name()}"
        print(f"\n{ended}; continue with:\n  {resume_command(argv)}", file=sys.stderr)
        return signals.exit_status()
    except BrokenPipeError:  # the reader left (`--dry-run --json | head -1`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except space.StorageFilled as full:  # after launch: the summary from the tracking store, then the cause
        if full.outcomes:
            report_results(full.outcomes, plan.tracking_uri, plan.trials[0].experiment_name)
        print(f"error: {full}\ncontinue with:\n  {resume_command(argv)}", file=sys.stderr)
        return 1
    except Exception as error:  # after launch: Ray, TensorFlow or MLflow broke; not the user's typing
        full = plan and space.disk_full_line(error, plan.settings.storage, plan.tracking_uri)
        if full:
            print(f"error: {full}\ncontinue with:\n  {resume_command(argv)}", file=sys.stderr)
            return 1
        traceback.print_exc()
        print("error: the sweep failed after it started (traceback above)", file=sys.stderr)
        return 1


def resume_command(argv: list[str]) -> str:
    """The command that continues this invocation: the same options (a --fresh run continues as itself)."""
    kept = [arg for arg in argv if arg not in ("--fresh", "--resume")]
    return "python -m sweep.run " + shlex.join([*kept, "--resume"])


_LOADED_SWEEPS_FILES: set[Path] = set()


def load_sweeps_file(path: Path) -> None:
    """Execute a user's file of sweep declarations (search_spaces.register_sweep calls), once per process."""
    import importlib.util

    if path.suffix != ".py" or not path.is_file():
        raise UsageError(f"--sweeps-file {path}: expected an existing .py file of register_sweep(...) declarations")
    if path.resolve() in _LOADED_SWEEPS_FILES:
        return
    spec = importlib.util.spec_from_file_location(f"user_sweeps_{path.stem}", path)
    try:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    except DuplicateNameError as error:
        raise UsageError(f"--sweeps-file {path}: {error}") from None
    except SyntaxError as error:
        raise UsageError(f"--sweeps-file {path}: not valid Python (line {error.lineno}: {error.msg})") from None
    except Exception as error:  # noqa: BLE001 - the user's file failed to run: name it, no traceback
        raise UsageError(f"--sweeps-file {path}: running it raised {type(error).__name__}: "
                         f"{validate.first_line(error)}") from None
    _LOADED_SWEEPS_FILES.add(path.resolve())


@dataclass(frozen=True)
class Plan:
    """A validated sweep, ready to launch: nothing here has started Ray or written to MLflow."""

    sweep: Sweep
    profile: str
    trials: list[TrialConfig]
    tracking_uri: str
    settings: LaunchSettings


def prepare(args: argparse.Namespace) -> Plan | None:
    """Every check that needs no cluster, in one place; any bad input raises UsageError. None: nothing to launch
    (--list, --dry-run)."""
    try:
        return _prepare(args)
    except ValueError as error:  # bad values from registries, expansion, the trial config or a sweeps file
        if isinstance(error, UsageError):
            raise
        raise UsageError(str(error).splitlines()[0]) from None


def _prepare(args: argparse.Namespace) -> Plan | None:
    validate.check_options(args)
    for path in args.sweeps_file:
        load_sweeps_file(path)
    if args.list:
        print(list_names())
        return None
    if not args.sweep:
        raise UsageError(f"name a sweep: one of {', '.join(SWEEPS)} (or --list)")
    sweep = get_sweep(args.sweep)
    overrides = parse_assignments(args.overrides)
    trials = expand(args.sweep, args.profile, seeds=args.seeds, overrides=overrides)
    if sweep.search_space and not args.trials:
        raise UsageError(f"{sweep.name} is a search: give the number of trials with --trials N (N >= 1)")
    if args.only:
        if sweep.search_space:
            raise UsageError(f"--only selects trials of a grid; {sweep.name} is a search: fix values with --set")
        trials = select_trials(trials, parse_only(args.only), sweep.name)

    if args.dry_run:
        if sweep.search_space:
            print(f"search {sweep.name}: {args.trials} trials from this base, sampling: {', '.join(sweep.search_space())}")
        for index, trial in enumerate(trials, 1):
            print(json.dumps(trial.to_dict()) if args.json else describe_trial(index, trial))
        if not args.json:
            print(describe_total([trial_cost(trial) for trial in trials]))
            print(f"{len(trials)} trial(s)" + (f"; re-evaluates models of {sweep.evaluate_from}" if sweep.evaluate_from else ""))
        return None


    storage = validate.storage_location(args.storage)
    check_data_folders(trials)
    for line in validate.certification_warnings(trials):
        print(line, file=sys.stderr)
    if not args.address:  # a cluster's nodes are known once it is joined (launcher.check_resources)
        node = validate.local_node(count_gpus=any(t.gpus_per_trial for t in trials))  # Ray's import: ~1 s
        validate.check_fits(trials, [node], where="this machine's local Ray")
    uri = args.tracking_uri or tracking.default_tracking_uri()
    tracking.check_tracking_uri(uri)
    buffer.outage_limit_s()  # the trials' bound on an outage of the store: a bad value is a usage error now
    space.check_space(storage, uri, space.concurrent_trials(len(trials), args.max_concurrent))
    if args.address:
        launcher.check_address(args.address)
        if uri.startswith("sqlite:"):
            print("warning: trials on other machines cannot share a sqlite file; on a multi-machine cluster use "
                  "--tracking-uri http://<head>:5000 (mlflow server --serve-artifacts)", file=sys.stderr)
    if sweep.evaluate_from:
        trials = attach_source_runs(trials, uri, experiment_name(sweep.evaluate_from, args.profile))
    validate.check_source_runs(trials, uri)
    study_storage = args.study_storage or tracking.default_tracking_uri().replace("mlflow.db", "optuna.db")
    if sweep.search_space:
        validate.check_study_storage(study_storage)
    kind = "search" if sweep.search_space else ("reevaluation" if sweep.evaluate_from else "grid")
    settings = LaunchSettings(
        tracking_uri=uri, storage=storage, address=args.address,
        max_concurrent=args.max_concurrent, max_failures=args.max_failures, resume=args.resume, fresh=args.fresh,
        study_storage=study_storage, trials=args.trials or 0, reuse_workers=not args.fresh_workers, sweep_kind=kind,
    )
    return Plan(sweep, args.profile, trials, uri, settings)


def launch(plan: Plan) -> int:
    """Start (or join) Ray and run the trials. UsageError still means bad input found before any trial started."""
    with lease.heartbeats():
        return _launch(plan)


def claim_sweep(plan: Plan, experiment_id: str) -> None:
    """First of all: close the runs that drivers now gone left RUNNING, and stop if a live driver runs this sweep."""
    for line in lease.end_ghosts(plan.tracking_uri, experiment_id):
        print(line, flush=True)
    digest = tracking.sweep_digest(plan.trials[:1] if plan.sweep.search_space else plan.trials, plan.tracking_uri)
    lease.refuse_if_live(plan.tracking_uri, experiment_id, digest, plan.trials[0].experiment_name)


def _launch(plan: Plan) -> int:

    sweep, trials, uri, settings = plan.sweep, plan.trials, plan.tracking_uri, plan.settings
    print(f"MLflow tracking URI: {uri}", flush=True)
    if sweep.search_space:
        with ThreadPoolExecutor(1) as pool:  # a new MLflow store creates its tables (~4 s) while Ray starts
            experiment = pool.submit(tracking.ensure_experiment, uri, trials[0].experiment_name)
            launcher.connect_ray(settings.address)
            experiment_id = experiment.result()
        claim_sweep(plan, experiment_id)
    else:  # a grid whose trials all finished shows their results without starting or joining Ray
        experiment_id = tracking.ensure_experiment(uri, trials[0].experiment_name)
        claim_sweep(plan, experiment_id)
        settled = launcher.settled_before_ray(trials, experiment_id, settings)
        if settled is not None:
            return report_results(settled, uri, trials[0].experiment_name)
        launcher.connect_ray(settings.address)
    launcher.check_resources(trials)
    prepare_data(trials)  # decode once, on every core, before any trial holds a GPU
    title = f"{sweep.name} --profile {plan.profile}"
    if sweep.search_space:
        print(f"running {title}: {settings.trials} trial(s)", flush=True)
        results, study = launcher.run_search(trials[0], sweep.search_space(), experiment_id, settings)
        print_pareto_front(study, uri, trials[0].experiment_name)
    else:
        results = launcher.run_grid(trials, experiment_id, settings, title=title)
    return report_results(results, uri, trials[0].experiment_name)


def report_results(results, uri: str, experiment: str) -> int:
    print()
    print(summary_table(results))
    print(f"\nopen the results: mlflow ui --backend-store-uri {uri}   (then http://127.0.0.1:5000, experiment {experiment})")
    failed = [r.name for r in results if r.status != "finished"]
    if failed:
        print(f"{len(failed)} trial(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def attach_source_runs(trials: list[TrialConfig], tracking_uri: str, source_experiment: str) -> list[TrialConfig]:
    """Re-evaluation: each trial evaluates the model trained by the same-named trial of the source sweep."""
    runs = tracking.finished_runs_by_name(tracking_uri, source_experiment)
    if not runs:
        raise UsageError(f"no finished runs with trained models in MLflow experiment {source_experiment!r} at {tracking_uri}; "
                         f"run that sweep first")
    missing = [t.run_name for t in trials if t.run_name not in runs]
    if missing:
        raise UsageError(f"{source_experiment!r} has no finished model for: {', '.join(missing)}")
    return [t.replace(source_run_id=runs[t.run_name]) for t in trials]


def print_pareto_front(study, tracking_uri: str, experiment: str) -> None:
    from .pareto import log_pareto_front, pareto_table  # matplotlib: only search sweeps draw a front

    print(f"\nPareto front of study {study.study_name} ({len(study.trials)} trials in the study):")
    print(pareto_table(study))
    log_pareto_front(study, tracking_uri, experiment)


if __name__ == "__main__":
    sys.exit(main())
