"""Ray's token authentication, for a driver that joins a cluster with --address.

Ray 2.60 turns token authentication on for `ray start --head` as soon as a token exists (~/.ray/auth_token, which
any local `ray.init()` also writes), but a process joining an explicit address only sends its token when
RAY_AUTH_MODE=token: the README's recipe then failed with InvalidAuthToken. The deliberate choice here: keep
authentication on. Every `ray start` of the recipe and of the cluster files runs with RAY_AUTH_MODE=token, the
token reaches each node as ~/.ray/auth_token (or RAY_AUTH_TOKEN), and the driver turns token mode on itself when it
finds a token; sending one to a cluster without authentication is harmless.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

MODE = "RAY_AUTH_MODE"
TOKEN = "RAY_AUTH_TOKEN"
TOKEN_PATH = "RAY_AUTH_TOKEN_PATH"
HINT = ("the cluster uses Ray token authentication: copy the head's token (`ray get-auth-token` there) to "
        "~/.ray/auth_token on this machine or export RAY_AUTH_TOKEN=<token>, and start every node with "
        "RAY_AUTH_MODE=token (README: Running on a cluster)")


def token_available(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Where Ray looks, in its order: RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token."""
    if environ.get(TOKEN, "").strip():
        return True
    path = environ.get(TOKEN_PATH) or str(Path(environ.get("HOME") or Path.home()) / ".ray" / "auth_token")
    try:
        return bool(Path(path).read_text().strip())
    except OSError:
        return False


def use_token_if_available(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Before ray.init(address=...): token mode on when RAY_AUTH_MODE is unset and a token is at hand. True when
    the driver will send a token; an explicit RAY_AUTH_MODE is left as the user set it."""
    if MODE in environ:
        return environ[MODE].lower() == "token"
    if not token_available(environ):
        return False
    environ[MODE] = "token"
    if environ is os.environ:
        _refresh_ray_config()
    return True


def _refresh_ray_config() -> None:
    """Ray caches its configuration, the auth mode with it, when first imported (as Ray's own helper does)."""
    try:
        from ray._raylet import Config
    except ImportError:
        return
    Config.initialize("")


def is_auth_failure(error: BaseException | None) -> bool:
    """ray.init raises ConnectionError("Failed to connect ...") from the AuthenticationError: look down the chain."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        text = f"{type(error).__name__} {error}"
        if "AuthenticationError" in text or "InvalidAuthToken" in text:
            return True
        error = error.__cause__ or error.__context__
    return False
