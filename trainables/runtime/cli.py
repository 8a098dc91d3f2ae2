"""The command lines' parser: a bad argument raises the program's own error (printed on one line, exit 2)."""

from __future__ import annotations

import argparse


class OneLineParser(argparse.ArgumentParser):
    """argparse, except that an error raises `error_type(message)` instead of printing usage and exiting."""

    def __init__(self, *args, error_type: type[Exception], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.error_type = error_type

    def error(self, message: str):
        raise self.error_type(f"{message} (see --help)")
