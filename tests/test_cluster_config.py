"""cluster.yaml and cluster-local.yaml validate against Ray's own schema and keep safe defaults."""

from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["cluster.yaml", "cluster-local.yaml"])
def test_cluster_file_validates_against_ray_schema(name):
    config = prepare_config(yaml.safe_load((ROOT / name).read_text()))
    validate_config(config)


def test_aws_cluster_has_gpu_workers_and_installs_the_gpu_extra():
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    worker = config["available_node_types"]["gpu_worker"]
    assert worker["resources"]["GPU"] == 1 and isinstance(worker["resources"]["CPU"], int)
    assert worker["node_config"]["InstanceMarketOptions"]["MarketType"] == "spot"
    assert any("[gpu]" in command for command in config["setup_commands"])


@pytest.mark.parametrize("name", ["cluster.yaml", "cluster-local.yaml"])
def test_services_are_not_opened_to_the_internet(name):
    text = (ROOT / name).read_text()
    config = yaml.safe_load(text)
    head = " ".join(config["head_start_ray_commands"])
    assert "mlflow server" in head and "--serve-artifacts" in head
    assert "0.0.0.0" not in text  # dashboard and MLflow stay on loopback / the private address
    lowered = text.lower()
    assert "aws_secret_access_key" not in lowered and "password" not in lowered and "BEGIN" not in text


@pytest.mark.parametrize("name", ["cluster.yaml", "cluster-local.yaml"])
def test_every_node_starts_with_token_authentication_and_gets_the_token(name):
    """Ray 2.60 turns token authentication on for `ray start --head` once a token exists; a node (or driver) that
    joins an address sends its token only with RAY_AUTH_MODE=token."""
    config = yaml.safe_load((ROOT / name).read_text())
    starts = [c for c in config["head_start_ray_commands"] + config["worker_start_ray_commands"] if "ray start" in c]
    assert len(starts) == 2 and all("RAY_AUTH_MODE=token ray start" in command for command in starts)
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    assert any("export RAY_AUTH_MODE=token" in command for command in config["setup_commands"])


def test_the_driver_sends_a_token_when_it_finds_one(tmp_path):
    from sweep import ray_auth

    home = tmp_path / "home"
    environ = {"HOME": str(home)}
    assert not ray_auth.use_token_if_available(environ) and "RAY_AUTH_MODE" not in environ
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text("abc\n")
    assert ray_auth.use_token_if_available(environ) and environ["RAY_AUTH_MODE"] == "token"
    assert ray_auth.use_token_if_available({"RAY_AUTH_TOKEN": "abc"})
    assert not ray_auth.use_token_if_available({"RAY_AUTH_MODE": "disabled", "RAY_AUTH_TOKEN": "abc"})  # user's call
    try:
        try:
            raise RuntimeError("RPC error: InvalidAuthToken: Authentication token is missing or incorrect")
        except RuntimeError as error:
            raise ConnectionError("Failed to connect to Ray cluster at 127.0.0.1:6379") from error
    except ConnectionError as wrapped:
        assert ray_auth.is_auth_failure(wrapped)
    assert not ray_auth.is_auth_failure(ConnectionError("Failed to connect"))
