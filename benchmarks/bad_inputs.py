"""Bad input through the real command line: exit code, seconds to the message, the message (issue #18).

    python benchmarks/bad_inputs.py [--out NOTE.md] [--only SUBSTRING]

Each case runs `python -m sweep.run ...` (or `python -m analysis.report ...`) as its own process in a scratch
folder, with a 60 s limit (a case that reaches it is reported as a hang). Seconds include the interpreter start and
imports (about 3 s on 2 CPUs). Servers the cases need (an HTTP/1 server, a port that never answers) run in this
process. Only the last case starts Ray (a trial asking for more memory than the local Ray's share).
"""

from __future__ import annotations

import argparse
import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LIMIT_S = 60


def servers() -> dict[str, int]:
    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

    web = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    servers.keep = (web, silent)  # alive while the cases run
    return {"http": web.server_address[1], "silent": silent.getsockname()[1]}


def scratch_files(root: Path) -> None:
    (root / "notes.txt").write_text("not a database, not Python")
    (root / "broken.py").write_text("register_sweep(\n")
    (root / "raises.py").write_text("import no_such_module_xyz\n")
    # a data set registered without its release's split sizes: its --dry-run cannot cost it
    (root / "unsized.py").write_text(
        "from search_spaces.sweeps import Sweep, axis, register_sweep\n"
        "from trainables.spec.tasks import Loader, TaskSpec, register_task\n"
        "register_task(TaskSpec(name='unsized', num_classes=2, class_names=('a', 'b'), grayscale=False,\n"
        "    epsilons=(0.01,), reference_epsilon=0.01, epoch_fraction=None,\n"
        "    loaders={'original': Loader('unsized_source:load', 'ARS_UNSIZED_DIR')}))\n"
        "register_sweep(Sweep('unsized_grid', 'a task of unknown size', axes=(axis('task', ['unsized']),),\n"
        "    values={'source': 'original', 'max_train': None}))\n")
    (root / "empty").mkdir()
    (root / "ham").mkdir()
    (root / "ham" / "HAM10000_metadata.csv").write_text("lesion_id,image_id\nL1,I1\n")
    (root / "trunc").mkdir()
    rng = np.random.default_rng(0)
    arrays = {f"{split}_{kind}": (rng.integers(0, 255, (n, 64, 64, 3), dtype=np.uint8) if kind == "images"
                                  else rng.integers(0, 7, (n, 1)))
              for split, n in (("train", 20), ("val", 6), ("test", 10)) for kind in ("images", "labels")}
    np.savez_compressed(root / "whole.npz", **arrays)
    data = (root / "whole.npz").read_bytes()
    (root / "trunc" / "dermamnist_64.npz").write_bytes(data[: len(data) // 2])


def cases(root: Path, ports: dict[str, int]) -> list[tuple[str, list[str], dict[str, str]]]:
    """(what, argv after `python -m`, extra environment)."""
    db = f"sqlite:///{root}/mlflow.db"
    tiny = ["sweep.run", "paper_grid", "--profile", "tiny", "--tracking-uri", db, "--storage", f"{root}/ray_results"]
    skin = [*tiny, "--only", "task=skin_lesion"]
    search = ["sweep.run", "optuna_robust", "--profile", "tiny", "--trials", "1", "--tracking-uri", db,
              "--storage", f"{root}/ray_results"]
    quick = {"ARS_CONNECT_TIMEOUT_S": "3"}
    values = ["epochs=abc", "epochs=2.5", "epochs=0", "seed=abc", "seed=-1", "epsilons=0.01", "epsilons=[0.02,0.01]",
              "epsilons=[0.5,2]", "epsilons=[0.01,abc]", "memory_gb=abc", "memory_gb=0", "learning_rate=-1",
              "adam_epsilon=0", "reference_epsilon=0", "reference_epsilon=5", "reference_epsilon=0.5",
              "image_size=16", "image_size=24", "max_train=0", "max_test=0", "max_eval=0", "weights=foo",
              "dropout=1", "attack.pgd.random_start=maybe", "batch_size=0", "gpus_per_trial=-1", "backbone=vgg",
              "attention=hard", "attack.attacks=pgd,foo", "attack_preset=nosuch", "attack.square.queries=0",
              "attack.nosuch.steps=1", "epochz=3", "source_run_id=0123abc", "cpus_per_trial=3",
              "memory_gb=500", "enhancement=inside", "objective_split=train", "certify=true", "noise_sigma=-1",
              "certify_alpha=1", "certify_n0=0", "eval_checkpoint_s=0", "eval_checkpoint_s=-5", "corruptions=fog",
              "corruption_points=0", "adv_eps=1.5", "adv_training=trades", "adv_training=fgsm"]
    found = [(f"--set {value}", [*tiny, "--set", value], {}) for value in values]
    found += [
        ("enhancement=model on a task without the filter", [*skin, "--set", "enhancement=model"], {}),
        ("EoT predict_n too small to confirm a break", [*tiny, "--set", "certify=true", "--set", "noise_sigma=0.25",
                                                        "--set", "attack.apgd_ce_eot.predict_n=10"], {}),
        ("ARS_TRACKING_OUTAGE_S=soon", tiny, {"ARS_TRACKING_OUTAGE_S": "soon"}),
        ("unknown sweep", ["sweep.run", "nosuch"], {}),
        ("unknown profile", ["sweep.run", "paper_grid", "--profile", "huge"], {}),
        ("--only no match", [*tiny, "--only", "task=skin"], {}),
        ("--max-failures -1", [*tiny, "--max-failures", "-1"], {}),
        ("--max-concurrent 0", [*tiny, "--max-concurrent", "0"], {}),
        ("--seeds 0", [*tiny, "--seeds", "0"], {}),
        ("--fresh --resume", [*tiny, "--fresh", "--resume"], {}),
        ("--storage a file", [*tiny, "--storage", f"{root}/notes.txt"], {}),
        ("--storage under /proc", [*tiny, "--storage", "/proc/ars-results"], {}),
        ("--storage ftp://", [*tiny, "--storage", "ftp://host/results"], {}),
        ("--tracking-uri a folder", [*tiny, "--tracking-uri", f"sqlite:///{root}"], {}),
        ("--tracking-uri not a database", [*tiny, "--tracking-uri", f"sqlite:///{root}/notes.txt"], {}),
        ("--tracking-uri relative", [*tiny, "--tracking-uri", "sqlite:///relative.db"], {}),
        ("--tracking-uri ftp://", [*tiny, "--tracking-uri", "ftp://x"], {}),
        ("--tracking-uri nothing listens", [*tiny, "--tracking-uri", "http://127.0.0.1:1"], {}),
        ("--tracking-uri never answers", [*tiny, "--tracking-uri", f"http://127.0.0.1:{ports['silent']}"], quick),
        ("--tracking-uri not MLflow", [*tiny, "--tracking-uri", f"http://127.0.0.1:{ports['http']}"], {}),
        ("--address nothing listens", [*tiny, "--address", "127.0.0.1:1"], {}),
        ("--address HTTP server", [*tiny, "--address", f"127.0.0.1:{ports['http']}"], {}),
        ("--address never answers", [*tiny, "--address", f"127.0.0.1:{ports['silent']}"], quick),
        ("--address not host:port", [*tiny, "--address", "nonsense"], {}),
        ("ARS_CONNECT_TIMEOUT_S=soon", [*tiny, "--address", f"127.0.0.1:{ports['silent']}"],
         {"ARS_CONNECT_TIMEOUT_S": "soon"}),
        ("--sweeps-file not .py", ["sweep.run", "--sweeps-file", f"{root}/notes.txt", "--list"], {}),
        ("--sweeps-file syntax error", ["sweep.run", "--sweeps-file", f"{root}/broken.py", "--list"], {}),
        ("--sweeps-file raises", ["sweep.run", "--sweeps-file", f"{root}/raises.py", "--list"], {}),
        ("--dry-run of a data set of unknown size", ["sweep.run", "--sweeps-file", f"{root}/unsized.py", "unsized_grid",
                                                     "--profile", "tiny", "--dry-run"], {}),
        ("search without --trials", ["sweep.run", "optuna_robust", "--profile", "tiny"], {}),
        ("--study-storage bogus", [*search, "--study-storage", "bogus"], {}),
        ("--study-storage a folder", [*search, "--study-storage", f"sqlite:///{root}"], {}),
        ("--study-storage unknown dialect", [*search, "--study-storage", "nosuchdialect://host/db"], {}),
        ("data: medmnist empty folder", [*skin, "--set", "source=medmnist", "--set", f"data_root={root}/empty"], {}),
        ("data: truncated npz", [*skin, "--set", "source=medmnist", "--set", f"data_root={root}/trunc"], {}),
        ("data: HAM10000 empty folder", [*skin, "--set", "source=original", "--set", f"data_root={root}/empty"], {}),
        ("data: CSV without label column", [*skin, "--set", "source=original", "--set", f"data_root={root}/ham"], {}),
        ("data: folder not set", [*skin, "--set", "source=original"], {"ARS_HAM10000_DIR": ""}),
        ("data: folder missing", [*skin, "--set", "source=original", "--set", f"data_root={root}/nope"], {}),
        ("paper, 8 CPUs/trial, gpus_per_trial=0", ["sweep.run", "paper_grid", "--profile", "paper", "--set",
                                                   "gpus_per_trial=0", "--set", "source=synthetic", "--tracking-uri",
                                                   db, "--storage", f"{root}/ray_results"], {}),
        ("report: nothing listens", ["analysis.report", "paper_grid", "--tracking-uri", "http://127.0.0.1:1",
                                     "--text-only"], {}),
        ("report: never answers", ["analysis.report", "paper_grid", "--tracking-uri",
                                   f"http://127.0.0.1:{ports['silent']}", "--text-only"], quick),
        ("paper, 1 GPU/trial, no GPU", ["sweep.run", "paper_grid", "--profile", "paper", "--set", "source=synthetic",
                                        "--set", "cpus_per_trial=1", "--set", "memory_gb=1", "--tracking-uri", db,
                                        "--storage", f"{root}/ray_results"], {}),
        (f"memory_gb={ray_share_gb()} (RAM has it, Ray's share not: starts Ray)",
         [*tiny, "--set", f"memory_gb={ray_share_gb()}"], {}),
    ]
    return found


def ray_share_gb() -> int:
    """More than a local Ray's memory resource (about 70 % of RAM), less than the RAM."""
    return int(0.85 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3)


def run_case(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int | str, float, int, str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **env}
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", *argv], cwd=cwd, env=environment, capture_output=True,
                              text=True, timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        return "hang", time.perf_counter() - start, 0, f"(no message within {LIMIT_S} s)"
    seconds = time.perf_counter() - start
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return done.returncode, seconds, len(lines), (lines[-1] if lines else "(no stderr)")


def shown(argv: list[str], root: Path) -> str:
    text = " ".join(argv).replace(str(root), "$TMP")
    return text.replace("sweep.run paper_grid --profile tiny --tracking-uri sqlite:///$TMP/mlflow.db "
                        "--storage $TMP/ray_results", "sweep.run T")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the markdown table here (default: stdout only)")
    parser.add_argument("--only", help="run only the cases whose label contains this")
    args = parser.parse_args()
    ports = servers()
    rows = ["| # | bad input | command (`T` = `paper_grid --profile tiny --tracking-uri ... --storage ...`) | exit "
            "| s | stderr lines | message (last stderr line) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        scratch_files(root)
        chosen = [case for case in cases(root, ports) if not args.only or args.only in case[0]]
        for number, (what, argv, env) in enumerate(chosen, 1):
            code, seconds, count, message = run_case(argv, env, root)
            prefix = " ".join(f"{k}={v}" for k, v in env.items())
            command = f"{prefix} {shown(argv, root)}".strip().replace("|", "\\|")
            rows.append(f"| {number} | {what} | `{command}` | {code} | {seconds:.1f} | {count} | "
                        f"{message.replace(str(root), '$TMP').replace('|', chr(92) + '|')} |")
            print(rows[-1], flush=True)
    if args.out:
        args.out.write_text("\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
