"""Runs expanded trials on Ray Tune (grid or Optuna search) and summarises them.

ray, optuna and .progress (a Ray Tune callback) are imported inside the functions that start Ray: importing Ray
costs seconds, and bad input must be refused (exit 2) before that."""

from __future__ import annotations

import itertools
import logging
import os
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any

from trainables.spec import TrialConfig
from trainables.spec.models import get_backbone
from trainables.runtime.resources import tune_resources
from trainables import tracking
from trainables.spec import keys
from trainables.tracking import buffer, lease
from trainables.trial import run_trial

from . import ray_auth, ray_state, signals, space
from .errors import UsageError
from .failures import failure_cause
from .labels import trial_label, trial_label_from_config
from .validate import check_fits, cluster_nodes, probe_ray


@dataclass(frozen=True)
class LaunchSettings:
    tracking_uri: str
    storage: str  # a local folder or a URI Ray's storage understands (sweep.validate.storage_location)
    address: str | None = None
    max_concurrent: int | None = None
    max_failures: int = 2
    resume: bool = False
    fresh: bool = False
    study_storage: str | None = None
    trials: int = 0
    # one worker process runs trial after trial, saving its start and TensorFlow import (~10 s on 2 CPUs) per
    # trial; trainables.runtime.isolation keeps its memory flat from trial to trial
    reuse_workers: bool = True
    sweep_kind: str = "grid"  # grid | search | reevaluation, tagged on every run


@dataclass(frozen=True)
class TrialOutcome:
    name: str
    status: str  # finished | failed
    metrics: dict[str, Any]
    error: str = ""


TRIAL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
# the driver's value, when set, is passed to every worker
SHARED_ENV = ("ARS_CACHE_DIR", buffer.OUTAGE_ENV, *buffer.TRIAL_MLFLOW_ENV)
# Per-epoch checkpoints are small at CPU scale; Ray's warning about frequent snapshots is noise here.
DRIVER_ENV = {"TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0", "RAY_AIR_NEW_OUTPUT": "0"}


def check_address(address: str) -> None:
    """Fail fast, within the bounded wait (trainables.runtime.waits), on an address where no Ray answers: ray.init
    would otherwise retry for minutes, or hang where something else listens."""
    if address == "local":
        return
    if address == "auto":
        address = find_auto_address()
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address must be host:port (e.g. 127.0.0.1:6379), 'auto' or ray://host:10001; received {address!r}")
    probe_ray(host, int(port), address)


def find_auto_address() -> str:
    """What --address auto means to Ray ($RAY_ADDRESS, else the cluster last started on this machine)."""
    from ray._private.services import canonicalize_bootstrap_address

    try:
        found = canonicalize_bootstrap_address("auto")
    except ConnectionError:
        found = None
    if not found:
        raise UsageError("--address auto: no Ray cluster started on this machine and no $RAY_ADDRESS; start one "
                         "with `ray start --head`, or give --address host:port")
    return found


def trial_worker_env() -> dict[str, str]:
    """Every worker's environment: TRIAL_ENV, MLflow's HTTP retries shortened so that a trial buffers its writes
    through an outage (trainables.tracking.buffer), and the driver's values of SHARED_ENV over both."""
    shared = {name: os.environ[name] for name in SHARED_ENV if name in os.environ}
    return {**TRIAL_ENV, **buffer.TRIAL_MLFLOW_ENV, **shared}


def connect_ray(address: str | None) -> None:
    import ray

    os.environ.update(TRIAL_ENV)
    os.environ.update(DRIVER_ENV)
    if ray.is_initialized():  # an embedding program (or a test) already connected
        return
    # trials and prepare tasks on every node open the prepared data where the driver prepared it
    worker_env = trial_worker_env()
    if address:
        check_address(address)
        ray_auth.use_token_if_available()
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False,
                     runtime_env={"env_vars": worker_env})
        except Exception as error:
            if ray_auth.is_auth_failure(error):
                raise UsageError(f"--address {address}: {ray_auth.HINT}") from None
            raise
    else:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
                 runtime_env={"env_vars": worker_env})
    signals.take_back()  # ray.init installed its own SIGTERM handler (a stack dump and abort)


def check_resources(trials: list[TrialConfig]) -> None:
    """Every trial fits some node of the connected cluster (CPUs, GPUs, memory), else Ray keeps it pending forever."""
    check_fits(trials, cluster_nodes(), where="the Ray cluster")


def longest_first(trials: list[TrialConfig]) -> list[TrialConfig]:
    """Trials by decreasing estimated compute (backbone cost per pixel x pixels x epochs; attention breaks ties), so
    that the trials started last are short and no worker idles long while the last one runs. A heuristic: it
    ignores data size and early stopping, and only the order (never a result) depends on it."""
    def estimate(trial: TrialConfig) -> tuple[float, bool]:
        per_pixel = get_backbone(trial.backbone, trial.scale).relative_cost
        return per_pixel * trial.image_size**2 * trial.epochs, trial.attention != "none"

    return sorted(trials, key=estimate, reverse=True)


def trainable_with_resources(trials: list[TrialConfig]):
    from ray import tune

    first = trials[0]
    return tune.with_resources(run_trial, tune_resources(first.cpus_per_trial, first.gpus_per_trial, first.memory_gb))


def run_config(name: str, settings: LaunchSettings):
    from ray import tune

    from .progress import ProgressCallback

    return tune.RunConfig(
        name=name,
        storage_path=str(settings.storage),
        verbose=0,
        failure_config=tune.FailureConfig(max_failures=settings.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        callbacks=[ProgressCallback()],
    )


def fit_in_sweep_run(tuner, settings: LaunchSettings, experiment_id: str, parent_run_id: str, expected: int = 0):
    """tuner.fit() with the sweep's MLflow parent run closed as it ended (finished, failed or interrupted).

    Ray Tune catches the first Ctrl-C itself and returns early with the trials it had not finished (some never
    started, without metrics, or not even created: fewer than the `expected` trials): that is an interrupt too,
    raised as KeyboardInterrupt (exit 130). A sweep that failed or stopped early with --storage below the floor
    of one running trial raises space.StorageFilled (Ray's results there cannot be trusted: fit itself may have
    died reading back a truncated error file)."""
    def storage_filled() -> space.StorageFilled | None:
        if space.storage_filled(settings.storage):
            return space.StorageFilled(settings.storage, space.concurrent_trials(expected, settings.max_concurrent))
        return None

    try:
        results = tuner.fit()
        stopped_early = interrupted(results, expected)
        if stopped_early or any(result.error is not None for result in results):
            full = storage_filled()
            if full:
                raise full
        if stopped_early:
            raise KeyboardInterrupt
    except BaseException as error:
        stopped = isinstance(error, KeyboardInterrupt)
        tracking.end_sweep_run(settings.tracking_uri, parent_run_id, failed=int(not stopped), interrupted=stopped)
        full = isinstance(error, Exception) and not isinstance(error, space.StorageFilled) and storage_filled()
        if full:
            raise full from error
        raise
    tracking.end_sweep_run(settings.tracking_uri, parent_run_id, failed=sum(r.error is not None for r in results))
    return results


def interrupted(results, expected: int = 0) -> bool:
    """A trial neither failed nor evaluated, or fewer trials than the grid or search asked for (Tune creates a
    grid's trials as it goes): Tune stopped early, which it only does when interrupted."""
    return len(results) < expected or any(
        result.error is None and (result.metrics or {}).get(keys.PHASE) != keys.PHASE_EVALUATED for result in results)


def grid_state(trials: list[TrialConfig], experiment_id: str, settings: LaunchSettings
               ) -> tuple[str, dict[str, dict[str, Any]], list[TrialConfig], str, str]:
    """(sweep digest, run name -> metrics of the trials with a finished run of the same config, the others, the Ray
    folder's name, its path): read from the tracking store alone."""
    sweep_id = tracking.sweep_digest(trials, settings.tracking_uri)
    digests = tracking.trial_digests(trials)
    done = tracking.finished_runs_by_digest(settings.tracking_uri, experiment_id)
    finished = {t.run_name: done[digests[t.run_name]] for t in trials if digests[t.run_name] in done}
    pending = [t for t in trials if t.run_name not in finished]
    name = f"{trials[0].experiment_name}-{sweep_id[:8]}"
    return sweep_id, finished, pending, name, f"{settings.storage.rstrip('/')}/{name}"  # a folder, or s3://, gs://


def settled_before_ray(trials: list[TrialConfig], experiment_id: str, settings: LaunchSettings,
                       state: tuple | None = None) -> list[TrialOutcome] | None:
    """What a grid's launch decides without Ray (no cluster is started or joined for it): the results when every
    trial already finished; UsageError when an unfinished run of these settings waits for --resume; else None.
    state: grid_state's answer when the caller has it."""
    from ray import tune  # Tuner.can_restore only reads the folder

    if settings.fresh:
        return None
    _, finished, pending, _, path = state or grid_state(trials, experiment_id, settings)
    if not pending:
        print(f"sweep {trials[0].experiment_name} already finished: all {len(trials)} trial(s) have finished runs "
              f"of the same config in {settings.tracking_uri}; showing their results. Use --fresh to run it again.",
              flush=True)
        return finished_outcomes(finished)
    if not settings.resume and tune.Tuner.can_restore(path):
        raise UsageError(f"an unfinished run of {trials[0].experiment_name} with these settings exists in {path}; "
                         "continue it with --resume, or start over with --fresh")
    return None


def run_grid(trials: list[TrialConfig], experiment_id: str, settings: LaunchSettings,
             title: str = "") -> list[TrialOutcome]:
    """Run the trials that have no finished MLflow run of the same config (identity.trial_digest) in this store;
    the Ray folder is keyed by the sweep's digest (its trials and tracking store), so changed settings are a new
    run and `ray_results` can be lost without running a finished trial again."""
    from ray import tune

    first = trials[0]
    if settings.fresh:
        tracking.supersede_finished(settings.tracking_uri, experiment_id, tracking.trial_digests(trials).values(),
                                    by=f"fresh {tracking.sweep_digest(trials, settings.tracking_uri)}")
    state = grid_state(trials, experiment_id, settings)
    settled = settled_before_ray(trials, experiment_id, settings, state)
    if settled is not None:
        return settled
    sweep_id, finished, pending, name, path = state
    announce_identity(first.experiment_name, sweep_id, path, settings, experiment_id)
    if finished:
        print(f"already finished: {len(finished)} of {len(trials)} trial(s) (finished MLflow runs of the same "
              "config; not run again)", flush=True)

    def start_parent(resume: bool) -> str:
        run_id = tracking.start_sweep_run(settings.tracking_uri, experiment_id, sweep=first.sweep, profile=first.profile,
                                          sweep_kind=settings.sweep_kind, trials=len(trials), resume=resume,
                                          digest=sweep_id)
        lease.hold(settings.tracking_uri, experiment_id, run_id, sweep_id, first.experiment_name)
        return run_id

    from . import progress

    progress.start(len(trials), settings.tracking_uri, first.experiment_name, done=finished)
    trainable = trainable_with_resources(trials)
    restorable = tune.Tuner.can_restore(path) and not settings.fresh  # settled_before_ray refused it without --resume
    damaged = restorable and is_local(settings.storage) and ray_state.damage(path)
    if restorable and not damaged:
        parent = start_parent(resume=True)  # the lease first: of two drivers resuming at once, one goes on
        tuner = tune.Tuner.restore(path, trainable, resume_errored=True)
        print(f"resuming {first.experiment_name} from {path}", flush=True)
    else:
        if damaged:
            print(f"Ray's state in {path} cannot be read back ({damaged}; written on a full disk?): set aside; "
                  f"the {len(pending)} unfinished trial(s) start from their beginning", flush=True)
        elif settings.resume:
            print(f"--resume: no interrupted run of {first.experiment_name} with these settings in {path}; "
                  "starting its unfinished trials", flush=True)
        if is_local(settings.storage) and Path(path).exists():  # --fresh, or a folder Ray cannot restore
            Path(path).rename(Path(path).with_name(f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"))
        elif settings.fresh and tune.Tuner.can_restore(path):  # a bucket's folder cannot be renamed: a new one
            name = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        parent = start_parent(resume=bool(damaged))
        tuner = tune.Tuner(
            trainable,
            param_space={"trial": tune.grid_search([t.to_dict() for t in longest_first(pending)]),
                         **run_settings(settings, experiment_id, parent)},
            tune_config=tune.TuneConfig(max_concurrent_trials=settings.max_concurrent, reuse_actors=settings.reuse_workers,
                                        trial_name_creator=trial_label, trial_dirname_creator=lambda t: t.trial_id),
            run_config=run_config(name, settings),
        )
    print(f"running {title or first.experiment_name}: {len(pending)} trial(s)", flush=True)
    try:
        ran = outcomes(fit_in_sweep_run(tuner, settings, experiment_id, parent, expected=len(pending)))
    except space.StorageFilled as full:
        full.outcomes = stored_outcomes(trials, experiment_id, settings, cause="no space left at --storage")
        raise
    merged = {o.name: o for o in finished_outcomes(finished)}
    merged.update({o.name: o for o in ran})
    return sorted(merged.values(), key=lambda o: o.name)


def stored_outcomes(trials: list[TrialConfig], experiment_id: str, settings: LaunchSettings,
                    cause: str) -> list[TrialOutcome]:
    """The grid's outcomes as the tracking store has them: finished runs of the same config, the others failed
    with `cause` (where Ray's own results cannot be read back)."""
    _, finished, pending, _, _ = grid_state(trials, experiment_id, settings)
    failed = [TrialOutcome(trial.run_name, "failed", {}, cause) for trial in pending]
    return sorted([*finished_outcomes(finished), *failed], key=lambda o: o.name)


def is_local(storage: str) -> bool:
    return "://" not in storage


def announce_identity(experiment: str, sweep_id: str, path: str, settings: LaunchSettings, experiment_id: str) -> None:
    """Say when these settings differ from every earlier run of the sweep (in this store or this storage folder)."""
    earlier = {digest[:8] for digest in tracking.sweep_digests(settings.tracking_uri, experiment_id)}
    if is_local(settings.storage) and Path(settings.storage).is_dir():
        earlier |= {p.name[len(experiment) + 1:][:8] for p in Path(settings.storage).glob(f"{experiment}-*")
                    if p.is_dir()}
    if earlier and sweep_id[:8] not in earlier:
        print(f"settings changed since the last run of {experiment} (trial values or tracking store): this is a new "
              f"run, {sweep_id[:8]}, in {path}", flush=True)


def finished_outcomes(finished: dict[str, dict[str, Any]]) -> list[TrialOutcome]:
    return [TrialOutcome(name, "finished", metrics) for name, metrics in sorted(finished.items())]


def run_settings(settings: LaunchSettings, experiment_id: str, parent_run_id: str) -> dict[str, Any]:
    """What every trial gets beside its config (trainables.trial.RUN_SETTINGS)."""
    return {"tracking_uri": settings.tracking_uri, "experiment_id": experiment_id, "parent_run_id": parent_run_id,
            "sweep_kind": settings.sweep_kind}


def numbered_trial_names(first: int):
    """Ray Tune trial_name_creator for searches: "<config name>-t<n>", n counting from `first` (the study's size when
    this invocation starts). Ray names each trial once, as the searcher creates it, so n follows the order in which
    Optuna numbers its trials; the trial's MLflow run takes this name."""
    numbers = itertools.count(first)

    def name(trial) -> str:
        return f"{trial_label(trial)}-t{next(numbers)}"

    return name


def run_search(base: TrialConfig, space: dict[str, Any], experiment_id: str, settings: LaunchSettings) -> tuple[list[TrialOutcome], Any]:
    """Optuna multi-objective search (clean_acc, robust_objective); the study persists in an RDB storage."""
    import optuna
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    from . import progress

    storage = optuna.storages.RDBStorage(settings.study_storage)
    objectives = list(keys.SEARCH_OBJECTIVES)
    study = optuna.create_study(study_name=base.experiment_name, storage=storage, load_if_exists=True,
                                directions=["maximize"] * len(objectives))
    study.set_metric_names(objectives)  # optuna-dashboard shows these names instead of "0" and "1"
    searcher = OptunaSearch(metric=objectives, mode=["max"] * len(objectives),
                            storage=storage, study_name=base.experiment_name)
    name = f"{base.experiment_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    progress.start(settings.trials, settings.tracking_uri, base.experiment_name)
    digest = tracking.sweep_digest([base], settings.tracking_uri)
    parent = tracking.start_sweep_run(settings.tracking_uri, experiment_id, sweep=base.sweep, profile=base.profile,
                                      sweep_kind=settings.sweep_kind, trials=settings.trials, digest=digest)
    lease.hold(settings.tracking_uri, experiment_id, parent, digest, base.experiment_name)
    tuner = tune.Tuner(
        trainable_with_resources([base]),
        param_space={"trial": base.to_dict(), **run_settings(settings, experiment_id, parent), **space},
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=settings.trials,
                                    max_concurrent_trials=settings.max_concurrent, reuse_actors=settings.reuse_workers,
                                    trial_name_creator=numbered_trial_names(len(study.trials)),
                                    trial_dirname_creator=lambda t: t.trial_id),
        run_config=run_config(name, settings),
    )
    results = fit_in_sweep_run(tuner, settings, experiment_id, parent, expected=settings.trials)
    study = optuna.load_study(study_name=base.experiment_name, storage=storage)
    return outcomes(results), study


def outcomes(results) -> list[TrialOutcome]:
    found = []
    for result in results:
        label = trial_label_from_config(result.config or {})
        metrics = dict(result.metrics or {})  # None for a trial that never reported
        finished = result.error is None and metrics.get(keys.PHASE) == keys.PHASE_EVALUATED
        found.append(TrialOutcome(label, "finished" if finished else "failed", metrics, failure_cause(result.error)))
    return sorted(found, key=lambda o: o.name)


def summary_table(results: list[TrialOutcome]) -> str:
    header = f"{'trial':58s} {'clean':>6s} {'robust@ref':>10s} {'objective':>9s}  status"
    lines = [header, "-" * len(header)]
    for outcome in results:
        m = outcome.metrics
        cells = [f"{m[k]:.3f}" if isinstance(m.get(k), float) and m.get(keys.PHASE) == keys.PHASE_EVALUATED else "-"
                 for k in (keys.CLEAN_ACC, keys.ROBUST_ACC_REF, keys.ROBUST_OBJECTIVE)]
        status = outcome.status + (f" ({outcome.error})" if outcome.error else "")
        lines.append(f"{outcome.name:58s} {cells[0]:>6s} {cells[1]:>10s} {cells[2]:>9s}  {status}")
    return "\n".join(lines)
