"""The sweep-level checks before launch: the run options, `--storage`, the study store, the trials' data folders
and source runs, and whether each trial fits a node. Each raises UsageError (one line, exit 2) naming the input,
what is wrong and what is allowed. The trial values themselves are checked by TrialConfig (trainables/spec/config.py).
"""

from __future__ import annotations

import math
import os
import socket
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from trainables.spec import TrialConfig
from trainables.spec.smoothing import ladder_warning
from trainables.runtime.waits import connect_timeout, how_to_wait_longer
from trainables.spec import keys
from trainables.tracking import check_sqlite_file
from trainables.tracking.reader import logged_model

from .errors import UsageError

# --storage URIs handed to Ray (pyarrow file systems) as they are; file:// is a local path
REMOTE_SCHEMES = ("s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss")
CONFLICTING_FLAGS = (("fresh", "resume", "--fresh runs a finished sweep again; --resume continues an interrupted one"),)


def check_options(args) -> None:
    for first, second, meaning in CONFLICTING_FLAGS:
        if getattr(args, first) and getattr(args, second):
            raise UsageError(f"--{first} and --{second} exclude each other ({meaning}); give one")


def storage_location(text: str) -> str:
    """--storage as Ray should get it: a remote URI unchanged, a local folder (or file:// URI) absolute and writable."""
    scheme, sep, rest = text.partition("://")
    if sep and scheme in REMOTE_SCHEMES:
        if not rest.strip("/"):
            raise UsageError(f"--storage {text}: name a bucket or path after {scheme}://")
        return text
    if sep and scheme != "file":
        raise UsageError(f"--storage {text}: unknown scheme {scheme!r}; expected a local folder, file:///abs/path or "
                         f"one of {', '.join(s + '://' for s in REMOTE_SCHEMES)}")
    if sep and not rest.startswith("/"):
        raise UsageError(f"--storage {text}: a file URI needs an absolute path, e.g. file:///shared/ray_results")
    path = Path(rest if sep else text).expanduser().absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(f"--storage {text}: {existing} is not a folder; expected a folder for Ray's results")
    try:  # access() says yes to root everywhere, and /proc is "writable": create something to know
        os.rmdir(tempfile.mkdtemp(prefix=".ars-write-check-", dir=existing))
    except OSError as error:
        raise UsageError(f"--storage {text}: cannot create folders in {existing} ({error.strerror}); expected a "
                         f"folder this user can write") from None
    return str(path)


def check_study_storage(url: str) -> None:
    """The Optuna storage of a search opens (creating its tables where it is new)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"--study-storage {url!r}: not a database URL; expected e.g. sqlite:////abs/path/optuna.db "
                         f"or postgresql://user@host/db") from None
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise UsageError(f"--study-storage {url}: name a database file (a study must outlive the run)")
        path = Path(parsed.database).absolute()
        if not path.parent.is_dir():
            raise UsageError(f"--study-storage {url}: folder {path.parent} does not exist")
        try:
            check_sqlite_file(path, f"--study-storage {url}", example="optuna.db")
        except ValueError as error:
            raise UsageError(str(error)) from None
    import optuna

    try:
        optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": connect_args(parsed)}).engine.dispose()
    except Exception as error:  # noqa: BLE001 - any driver's failure to open is the user's URL
        raise UsageError(f"--study-storage {url}: cannot be opened ({type(error).__name__}: "
                         f"{first_line(error)})") from None


def connect_args(parsed) -> dict:
    """A bounded connection wait for the database drivers that take one."""
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return {"timeout": connect_timeout()}
    if backend in ("postgresql", "mysql"):
        return {"connect_timeout": int(max(1, connect_timeout()))}
    return {}


def first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def check_source_runs(trials: Iterable[TrialConfig], tracking_uri: str) -> None:
    """Every source_run_id names a run in the tracking store that logged a model."""
    run_ids = sorted({t.source_run_id for t in trials if t.source_run_id})
    if not run_ids:
        return
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri[len("sqlite:///"):]).is_file():
        raise UsageError(f"source_run_id {run_ids[0]!r}: no such MLflow run, the store {tracking_uri} does not exist "
                         f"yet; expected the id of a finished trial run there")
    for run_id in run_ids:
        found = logged_model(tracking_uri, run_id)
        if found is None:
            raise UsageError(f"source_run_id {run_id!r}: no such MLflow run at {tracking_uri}; expected the id of a "
                             f"finished trial run (or leave it unset to train)")
        if not found:
            raise UsageError(f"source_run_id {run_id!r}: the run logged no {keys.MODEL_ARTIFACT}; expected a finished "
                             f"trial run that trained a model")


# ---------------------------------------------------------------- does each trial fit a node?

RESOURCE_NAMES = {"CPU": "CPUs", "GPU": "GPUs", "memory": "memory"}


def certification_warnings(trials: Iterable[TrialConfig]) -> list[str]:
    """One line per distinct case of ladder epsilons that no certificate can reach at a trial's sigma and n."""
    found = []
    for trial in trials:
        if trial.certify:
            line = ladder_warning(trial.epsilons, sigma=trial.noise_sigma, n=trial.certify_n,
                                  alpha=trial.certify_alpha, image_shape=(trial.image_size, trial.image_size, 3))
            if line and f"warning: {line}" not in found:
                found.append(f"warning: {line}")
    return found


def trial_needs(trial: TrialConfig) -> dict[str, float]:
    """What Ray is asked for (trainables.runtime.resources.tune_resources), in Ray's resource names."""
    return {"CPU": max(1, trial.cpus_per_trial), "GPU": trial.gpus_per_trial, "memory": trial.memory_gb * 1024**3}


def check_fits(trials: Iterable[TrialConfig], nodes: list[Mapping[str, float]], where: str) -> None:
    """Refuse a trial that no node can hold: Ray would keep it pending forever. A node lacking a resource's key
    has none of it; one not known yet (before Ray runs, an autoscaler node type's memory) is math.inf."""
    for needs in {tuple(trial_needs(t).items()) for t in trials}:
        needs = dict(needs)
        if any(all(have.get(key, 0) >= need for key, need in needs.items() if need) for have in nodes):
            continue
        largest = {key: max((node.get(key, 0) for node in nodes), default=0) for key in needs}
        raise UsageError(f"no node of {where} can run a trial: each asks for {describe(needs)}, nodes have at most "
                         f"{describe(largest)}; lower cpus_per_trial / gpus_per_trial / memory_gb with --set, "
                         f"or use a profile or cluster that fits")


def describe(resources: Mapping[str, float]) -> str:
    def amount(key: str, scale: float = 1, unit: str = "") -> str:
        value = resources.get(key, 0)
        return f"{key} ?" if math.isinf(value) else f"{key} {value / scale:.{1 if unit else 0}f}{unit}"

    return ", ".join([amount("CPU"), amount("GPU"), amount("memory", 1024**3, " GB")])


def local_node(count_gpus: bool = True) -> dict[str, float]:
    """The local Ray that sweep.run starts (launcher.connect_ray: every core, the GPUs Ray detects)."""
    try:
        memory = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # no sysconf: memory is checked once Ray runs
        memory = math.inf
    return {"CPU": float(os.cpu_count() or 1), "GPU": local_gpus() if count_gpus else math.inf, "memory": memory}


def local_gpus() -> float:
    """The GPUs a local Ray would see, by Ray's own detection (math.inf where that private API moved: the check
    after Ray starts still counts them)."""
    try:
        from ray._private.accelerators import get_accelerator_manager_for_resource

        manager = get_accelerator_manager_for_resource("GPU")
        count = manager.get_current_node_num_accelerators()
        visible = manager.get_current_process_visible_accelerator_ids()
        return float(count if visible is None else min(count, len(visible)))
    except Exception:  # noqa: BLE001
        return math.inf


def cluster_nodes() -> list[dict[str, float]]:
    """The nodes of the connected Ray cluster, plus the node types its autoscaler can still start."""
    import ray

    nodes = [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]
    return nodes + autoscaler_node_types()


BOOTSTRAP_CONFIG = Path("~/ray_bootstrap_config.yaml")  # where `ray up` leaves the autoscaler's config on the head


def autoscaler_node_types(path: Path = BOOTSTRAP_CONFIG) -> list[dict[str, float]]:
    path = path.expanduser()
    if not path.is_file():
        return []
    import yaml

    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []
    return [{"memory": math.inf, **(node_type.get("resources") or {})}
            for node_type in (config.get("available_node_types") or {}).values() if node_type.get("max_workers", 0) > 0]


# ---------------------------------------------------------------- a bounded probe of a Ray address

# An HTTP/2 client preface and an empty SETTINGS frame; a gRPC server (Ray's GCS, Ray Client) answers with a SETTINGS
# frame at once, whatever else listens there answers otherwise or not at all.
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
SETTINGS_FRAME = 4


def probe_ray(host: str, port: int, address: str) -> None:
    """Raise UsageError unless a gRPC server (Ray) answers at host:port within the bounded wait."""
    start = "start one with `ray start --head` or `ray up cluster.yaml`"
    try:
        with socket.create_connection((host, port), timeout=connect_timeout()) as connection:
            connection.sendall(HTTP2_PREFACE)
            header = receive(connection, 9)
    except TimeoutError:
        raise UsageError(f"--address {address}: no answer from a Ray cluster ({how_to_wait_longer()})") from None
    except OSError as error:
        raise UsageError(f"--address {address}: no Ray cluster reachable ({error.strerror or error}); {start}") from None
    if len(header) < 9 or header[3] != SETTINGS_FRAME:
        raise UsageError(f"--address {address}: something other than Ray listens there (it does not speak gRPC); "
                         f"expected a Ray head's GCS port (default 6379) or ray://host:10001")


def receive(connection: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return data
