"""Issue #18, part A: every bad input is refused before Ray starts (one line, exit 2), and no wait is unbounded.

Nothing here starts Ray: `launcher.connect_ray` is replaced by a function that fails the test, so an input that
slipped past validation shows as exit 1 ("the sweep failed after it started"), not as a hang.
"""

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from sweep import launcher
from sweep.run import build_parser, main, prepare
from trainables.spec import TrialConfig


@pytest.fixture
def no_ray(monkeypatch):
    def must_not_start(address):
        raise AssertionError("Ray would start: the input passed validation")

    monkeypatch.setattr(launcher, "connect_ray", must_not_start)


@pytest.fixture
def tiny(tmp_path):
    return ["paper_grid", "--profile", "tiny", "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db",
            "--storage", str(tmp_path / "ray_results")]


def refused(argv, capsys, message: str) -> float:
    """Exit 2 with one line containing message; returns the seconds it took."""
    start = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - start
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert message in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return seconds


# ---------------------------------------------------------------- defect 5: values, checked in the driver

@pytest.mark.parametrize("assignment, message", [
    ("epochs=abc", "epochs must be an integer >= 1. Received: epochs='abc'"),
    ("epochs=2.5", "epochs must be an integer >= 1. Received: epochs=2.5"),
    ("seed=abc", "seed must be an integer >= 0. Received: seed='abc'"),
    ("epsilons=0.01", "epsilons must be a list of numbers in (0, 1], e.g. [0.01,0.02]. Received: epsilons=0.01"),
    ("epsilons=[0.02,0.01]", "epsilons must be increasing"),
    ("epsilons=[0.01,abc]", "epsilons must be a list of numbers"),
    ("memory_gb=abc", "memory_gb must be a finite number > 0. Received: memory_gb='abc'"),
    ("learning_rate=-1", "learning_rate must be a finite number > 0. Received: learning_rate=-1"),
    ("reference_epsilon=0", "reference_epsilon must be None or a finite number in (0, 1]"),
    ("reference_epsilon=-0.01", "reference_epsilon must be None or a finite number in (0, 1]"),
    ("reference_epsilon=5", "reference_epsilon must be None or a finite number in (0, 1]"),
    ("reference_epsilon=0.5", "reference_epsilon must be > 0 and <= the ladder's largest epsilon"),
    ("image_size=16", "image_size must be None or an integer >= 24"),
    ("image_size=24", "image_size must be >= 32 for resnet50"),
    ("max_train=0", "max_train must be None or an integer >= 1"),
    ("max_test=0", "max_test must be None or an integer >= 1"),
    ("max_eval=0", "max_eval must be None or an integer >= 1"),
    ("weights=foo", "weights must be None, 'imagenet' or the path of an existing"),
    ("dropout=1", "dropout must be a finite number in [0, 1)"),
    ("attack.pgd.random_start=maybe", "attack.pgd.random_start must be true or false"),
    ("batch_size=0", "batch_size must be an integer >= 1"),
    ("gpus_per_trial=-1", "gpus_per_trial must be an integer >= 0"),
    ("adv_eps=1.5", "adv_eps must be None or a finite number in (0, 1]. Received: adv_eps=1.5"),
    ("adv_training=trades", "adv_training='trades' needs trades_beta"),
    ("adv_training=fgsm", "unknown adv_training 'fgsm'; expected one of: none, pgd, trades"),
    ("attention=hard", "unknown attention 'hard'; expected one of: none, soft_faithful"),
])
def test_bad_values_are_one_line_before_ray_starts(assignment, message, tiny, no_ray, capsys):
    assert refused([*tiny, "--set", assignment], capsys, message) < 5


def test_memory_gb_abc_builds_no_string(tiny, no_ray, capsys):
    refused([*tiny, "--set", "memory_gb=abc"], capsys, "memory_gb must be")  # was "abc" * 2**30 in tune_resources


def test_every_config_field_has_a_rule():
    from trainables.spec.config import RULES

    assert set(RULES) == set(TrialConfig.field_names())


def test_rules_normalise_what_they_accept():
    config = TrialConfig(scale="mini", weights=None, epsilons="0.01, 0.02", attack={"attacks": "pgd,square"}, memory_gb=2)
    assert config.epsilons == (0.01, 0.02) and config.attack_settings.attacks == ("pgd", "square")
    assert isinstance(config.memory_gb, float)
    assert config.resolved().reference_epsilon == 0.0025  # below the ladder is allowed (a lower bound)


def test_unknown_source_run_id_is_refused(tmp_path, tiny, no_ray, capsys):
    from trainables import tracking

    refused([*tiny, "--set", "source_run_id=0123abc"], capsys, "source_run_id '0123abc': no such MLflow run")
    tracking.ensure_experiment(f"sqlite:///{tmp_path}/mlflow.db", "something")  # an existing store, still no run
    capsys.readouterr()  # MLflow's table creation log
    refused([*tiny, "--set", "source_run_id=0123abc"], capsys, "source_run_id '0123abc': no such MLflow run")


# ---------------------------------------------------------------- defect 5/6: data folders, before Ray starts

def write_npz(path, truncate=False):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in (("train", 20), ("val", 6), ("test", 10)):
        arrays[f"{split}_images"] = rng.integers(0, 255, (count, 64, 64, 3), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 7, (count, 1))
    np.savez_compressed(path, **arrays)
    if truncate:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("source, make, message", [
    ("medmnist", lambda root: None, "no dermamnist_{64,128,224}.npz or dermamnist.npz found"),
    ("medmnist", lambda root: write_npz(root / "dermamnist_64.npz", truncate=True),
     "{root}/dermamnist_64.npz: cannot be read as an npz file"),  # the error names the path
    ("original", lambda root: None, "HAM10000_metadata.csv: file not found"),
    ("original", lambda root: (root / "HAM10000_metadata.csv").write_text("lesion_id,image_id\nL1,I1\n"),
     "HAM10000_metadata.csv: missing column(s) 'dx'"),
])
def test_data_folder_problems_are_refused_before_ray_starts(source, make, message, tmp_path, tiny, no_ray, capsys):
    root = tmp_path / "data"
    root.mkdir()
    make(root)
    argv = [*tiny, "--only", "task=skin_lesion", "--set", f"source={source}", "--set", f"data_root={root}"]
    refused(argv, capsys, message.replace("{root}", str(root)))


# ---------------------------------------------------------------- defect 6: stores and files that are the user's

def test_tracking_store_that_is_a_folder_or_not_a_database(tmp_path, tiny, no_ray, capsys):
    (tmp_path / "notes.txt").write_text("not a database")
    argv = [a for a in tiny]
    argv[argv.index("--tracking-uri") + 1] = f"sqlite:///{tmp_path}"
    refused(argv, capsys, "is a folder; expected a sqlite database file")
    argv[argv.index("--tracking-uri") + 1] = f"sqlite:///{tmp_path}/notes.txt"
    refused(argv, capsys, "notes.txt is not a sqlite database")


def test_storage_that_is_not_a_writable_folder(tmp_path, tiny, no_ray, capsys):
    (tmp_path / "file").write_text("")
    argv = [a for a in tiny]
    argv[argv.index("--storage") + 1] = str(tmp_path / "file" / "below")
    refused(argv, capsys, "is not a folder; expected a folder for Ray's results")
    argv[argv.index("--storage") + 1] = "ftp://host/results"
    refused(argv, capsys, "unknown scheme 'ftp'")
    argv[argv.index("--storage") + 1] = "file://relative/results"
    refused(argv, capsys, "a file URI needs an absolute path")
    if Path("/proc/self").is_dir():  # not writable even by root, whom access() lets write anywhere
        argv[argv.index("--storage") + 1] = "/proc/ars-results"
        refused(argv, capsys, "cannot create folders in /proc")


@pytest.mark.parametrize("name, text, message", [
    ("notes.txt", "x", "expected an existing .py file"),
    ("broken.py", "register_sweep(\n", "not valid Python (line"),
    ("raises.py", "import no_such_module_xyz\n", "running it raised ModuleNotFoundError"),
])
def test_sweeps_file_that_is_not_python(name, text, message, tmp_path, capsys):
    (tmp_path / name).write_text(text)
    refused(["--sweeps-file", str(tmp_path / name), "--list"], capsys, message)


@pytest.mark.parametrize("url, message", [
    ("bogus", "not a database URL"),
    ("sqlite:///{tmp}", "is a folder"),
    ("sqlite:///{tmp}/missing/optuna.db", "does not exist"),
    ("nosuchdialect://host/db", "cannot be opened"),
])
def test_bogus_study_storage(url, message, tmp_path, no_ray, capsys):
    argv = ["optuna_robust", "--profile", "tiny", "--trials", "1", "--tracking-uri", f"sqlite:///{tmp_path}/m.db",
            "--storage", str(tmp_path / "ray_results"), "--study-storage", url.format(tmp=tmp_path)]
    refused(argv, capsys, message)


# ---------------------------------------------------------------- defect 1: --storage URIs stay URIs

@pytest.mark.parametrize("given, expected", [
    ("s3://bucket/ray_results", "s3://bucket/ray_results"),
    ("gs://bucket/ray_results", "gs://bucket/ray_results"),
    ("file://{tmp}/results", "{tmp}/results"),
    ("{tmp}/results", "{tmp}/results"),
])
def test_storage_uris_reach_ray_unchanged(given, expected, tmp_path, tiny):
    argv = [a for a in tiny]
    argv[argv.index("--storage") + 1] = given.format(tmp=tmp_path)
    plan = prepare(build_parser().parse_args(argv))
    assert str(plan.settings.storage) == expected.format(tmp=tmp_path)  # was ./s3:/bucket/ray_results


# ---------------------------------------------------------------- defect 4: nothing hangs

def test_max_failures_must_be_non_negative(tiny, no_ray, capsys):
    refused([*tiny, "--max-failures", "-1"], capsys, "--max-failures: expected an integer >= 0")  # Ray: forever


def test_fresh_and_resume_exclude_each_other(tiny, no_ray, capsys):
    refused([*tiny, "--fresh", "--resume"], capsys, "--fresh and --resume exclude each other")


def test_a_trial_no_node_can_hold_is_refused(monkeypatch, tmp_path, no_ray, capsys):
    from sweep import validate

    monkeypatch.setattr(validate.os, "cpu_count", lambda: 2)
    argv = ["paper_grid", "--profile", "paper", "--set", "gpus_per_trial=0", "--set", "source=synthetic",
            "--tracking-uri", f"sqlite:///{tmp_path}/m.db", "--storage", str(tmp_path)]
    refused(argv, capsys, "no node of this machine's local Ray can run a trial: each asks for CPU 8, GPU 0")


@pytest.mark.parametrize("gpus, refused_too", [(0, True), (1, False)])
def test_gpus_are_counted_before_the_local_ray_starts(gpus, refused_too, monkeypatch, tmp_path, no_ray, capsys):
    from sweep import validate

    monkeypatch.setattr(validate, "local_gpus", lambda: float(gpus))
    argv = ["paper_grid", "--profile", "paper", "--set", "source=synthetic", "--set", "cpus_per_trial=1",
            "--set", "memory_gb=1", "--tracking-uri", f"sqlite:///{tmp_path}/m.db", "--storage", str(tmp_path)]
    if refused_too:
        refused(argv, capsys, "each asks for CPU 1, GPU 1, memory 1.0 GB, nodes have at most CPU")
    else:
        assert prepare(build_parser().parse_args(argv)) is not None


def test_fit_counts_every_node_and_the_autoscaler_s_node_types(tmp_path):
    from sweep import validate

    trials = [TrialConfig(scale="mini", weights=None, cpus_per_trial=8, gpus_per_trial=1, memory_gb=12)]
    head = {"CPU": 4.0, "memory": 64 * 1024**3}
    gpu = {"CPU": 8.0, "GPU": 1.0, "memory": 30 * 1024**3}
    validate.check_fits(trials, [head, gpu], where="a cluster")
    with pytest.raises(launcher.UsageError, match="each asks for CPU 8, GPU 1, memory 12.0 GB, nodes have at most "
                                                  "CPU 8, GPU 0, memory 64.0 GB"):
        validate.check_fits(trials, [head, {"CPU": 8.0, "memory": 16 * 1024**3}], where="a cluster")
    config = tmp_path / "ray_bootstrap_config.yaml"
    config.write_text("available_node_types:\n  head: {resources: {CPU: 0}, max_workers: 0}\n"
                      "  gpu: {resources: {CPU: 8, GPU: 1}, min_workers: 0, max_workers: 8}\n")
    validate.check_fits(trials, [head, *validate.autoscaler_node_types(config)], where="a cluster")


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def http_port():
    """A port where an HTTP/1 server (not Ray, not MLflow) answers."""
    import http.server

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_address_where_something_else_listens_is_refused_at_once(http_port, tiny, no_ray, capsys):
    seconds = refused([*tiny, "--address", f"127.0.0.1:{http_port}"], capsys, "something other than Ray listens")
    assert seconds < 5


def test_address_that_never_answers_gives_up_after_the_bounded_wait(silent_port, tiny, no_ray, monkeypatch, capsys):
    monkeypatch.setenv("ARS_CONNECT_TIMEOUT_S", "1")
    seconds = refused([*tiny, "--address", f"127.0.0.1:{silent_port}"], capsys,
                      "no answer from a Ray cluster (waited 1 s; set ARS_CONNECT_TIMEOUT_S=<seconds> to wait longer)")
    assert seconds < 5


def test_address_auto_without_a_cluster_is_refused(monkeypatch, tiny, no_ray, capsys):
    import ray._private.services

    def nothing_found(address):
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(ray._private.services, "canonicalize_bootstrap_address", nothing_found)
    refused([*tiny, "--address", "auto"], capsys, "--address auto: no Ray cluster started on this machine")


def test_a_grpc_server_passes_the_address_probe():
    from sweep import validate

    grpc = pytest.importorskip("grpc")
    server = grpc.server(ThreadPoolExecutor(1))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        validate.probe_ray("127.0.0.1", port, f"127.0.0.1:{port}")  # what Ray's GCS and Ray Client are
    finally:
        server.stop(None)


def test_bad_timeout_setting_is_a_usage_error(silent_port, tiny, no_ray, monkeypatch, capsys):
    monkeypatch.setenv("ARS_CONNECT_TIMEOUT_S", "soon")
    refused([*tiny, "--address", f"127.0.0.1:{silent_port}"], capsys, "$ARS_CONNECT_TIMEOUT_S must be a number")


def test_tracking_server_that_never_answers(silent_port, tiny, no_ray, monkeypatch, capsys):
    monkeypatch.setenv("ARS_CONNECT_TIMEOUT_S", "1")
    argv = [a for a in tiny]
    argv[argv.index("--tracking-uri") + 1] = f"http://127.0.0.1:{silent_port}"
    assert refused(argv, capsys, "no answer from an MLflow server (waited 1 s") < 5


@pytest.mark.parametrize("server", ["refused", "silent"])
def test_report_gives_up_on_a_tracking_server_after_the_bounded_wait(server, silent_port, monkeypatch, capsys):
    from analysis.report import main as report_main

    monkeypatch.setenv("ARS_CONNECT_TIMEOUT_S", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the old code then fails in seconds, not minutes
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    uri = "http://127.0.0.1:1" if server == "refused" else f"http://127.0.0.1:{silent_port}"
    start = time.perf_counter()
    assert report_main(["paper_grid", "--profile", "tiny", "--tracking-uri", uri, "--text-only"]) == 2
    err = capsys.readouterr().err
    assert time.perf_counter() - start < 5
    assert ("is not reachable" if server == "refused" else "no answer from an MLflow server") in err, err
