"""Creating a tracking store from several processes at once: MLflow's sqlite store creates its tables on first use,
and two processes doing it together fail (`alembic_version already exists`). The first use goes through a file
lock next to the database; an http:// store is created by its server, which serialises it itself."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from filelock import FileLock

SQLITE = "sqlite:///"
LOCK_TIMEOUT_S = 300  # a new store's tables take ~4 s on 2 CPUs


@contextlib.contextmanager
def first_use(tracking_uri: str) -> Iterator[None]:
    if not tracking_uri.startswith(SQLITE):
        yield
        return
    with FileLock(f"{Path(tracking_uri[len(SQLITE):])}.create.lock", timeout=LOCK_TIMEOUT_S):
        yield
