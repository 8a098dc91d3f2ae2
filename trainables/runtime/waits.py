"""Bounded waits: how long the driver (and the report) waits for a Ray cluster or an MLflow server to answer before
giving up with one line, instead of the libraries' own minutes of retries."""

from __future__ import annotations

import os

TIMEOUT_ENV = "ARS_CONNECT_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 10.0


def connect_timeout() -> float:
    """Seconds, from $ARS_CONNECT_TIMEOUT_S (default 10); a value that is not a positive number is a usage error."""
    text = os.environ.get(TIMEOUT_ENV, "")
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError(f"${TIMEOUT_ENV} must be a number of seconds > 0. Received: {TIMEOUT_ENV}={text!r}")
    return seconds


def how_to_wait_longer() -> str:
    return f"waited {connect_timeout():g} s; set {TIMEOUT_ENV}=<seconds> to wait longer"
