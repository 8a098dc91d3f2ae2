import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ARS_CACHE_DIR", os.path.join(os.environ.get("PYTEST_TMPDIR", "/tmp"), "ars-test-cache"))

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def mlflow_schema_copied_from_one_template(tmp_path_factory):
    """MLflow makes every new sqlite store by running its whole migration history (~1 s each on this machine; the
    fast tier makes dozens). Stores made in a test process get a copy of one store migrated once per session instead:
    the same tables. Subprocesses (drivers, Ray workers, `mlflow server`) still migrate their own."""
    import sqlite3

    import sqlalchemy
    from mlflow.store.db import utils

    migrate = utils._initialize_tables
    template = tmp_path_factory.mktemp("mlflow-schema") / "template.db"

    def initialize_from_template(engine):
        database = engine.url.database
        if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return migrate(engine)
        if not template.exists():
            migrate(sqlalchemy.create_engine(f"sqlite:///{template}"))
        engine.dispose()
        source, target = sqlite3.connect(template), sqlite3.connect(database)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()

    utils._initialize_tables = initialize_from_template
    yield
    utils._initialize_tables = migrate


def pytest_collection_modifyitems(items):
    """Modules whose tests are all slow (Ray sweeps) first, then those with some slow tests, then the rest; file
    order otherwise. Under -n with --dist loadscope (pyproject's addopts) a module goes to one worker where its first
    test stands, and a worker takes the next module while its last test still runs: long modules paired early are
    evened out by the many short modules that fill the workers' last minutes."""
    slow_by_module: dict[str, list[bool]] = {}
    for item in items:
        slow_by_module.setdefault(item.nodeid.split("::")[0], []).append(item.get_closest_marker("slow") is not None)

    def rank(item) -> int:
        slow = slow_by_module[item.nodeid.split("::")[0]]
        return 0 if all(slow) else 1 if any(slow) else 2

    items.sort(key=rank)
