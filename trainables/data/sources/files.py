"""Checked access to a source's folders and label tables: every failure is one line naming the path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..errors import DataError


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected {what})")
    return path


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DataError(f"{path}: folder not found (expected {what})")
    return path


def read_table(path: Path, columns: Sequence[str], what: str) -> pd.DataFrame:
    """A CSV as strings with at least `columns`; blank cells in those columns are errors."""
    require_file(path, what)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot be read as CSV ({error}); expected {what}") from None
    table.columns = [str(column).strip() for column in table.columns]
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(map(repr, missing))}; expected columns "
                        f"{', '.join(map(repr, columns))}; found {', '.join(map(repr, table.columns))}")
    if table.empty:
        raise DataError(f"{path}: has no rows; expected {what}")
    table = table[list(columns)].apply(lambda column: column.str.strip())
    for column in columns:
        blank = table.index[table[column] == ""]
        if len(blank):
            raise DataError(f"{path}: column {column!r} is empty in {len(blank)} row(s), "
                            f"first at data row {blank[0] + 1}")
    return table


def check_unique(values: pd.Series, path: Path, column: str) -> None:
    duplicated = values[values.duplicated()]
    if len(duplicated):
        raise DataError(f"{path}: column {column!r} repeats {len(duplicated)} value(s), e.g. {duplicated.iloc[0]!r}; "
                        "expected one row per image")


def first_existing(candidates: Sequence[Path]) -> Path:
    """The first candidate path that exists, else the first (so the read reports it as missing)."""
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return candidates[0]
