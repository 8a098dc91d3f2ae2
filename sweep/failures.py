"""A failed trial's cause in one line for the summary: the original exception's type and its first meaningful line
(Ray wraps it in a RayTaskError whose text is a traceback; SQLAlchemy and others end with a link, not the cause)."""

from __future__ import annotations

import re

# lines that say where to read more, or echo a statement, instead of what went wrong
NOISE = (re.compile(r"^\(?Background on this error at:"), re.compile(r"^\(?https?://\S+\)?$"),
         re.compile(r"^\[(SQL|parameters):"), re.compile(r"^Traceback \(most recent call last\)"),
         re.compile(r'^File ".*", line \d+'))
EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Za-z_]\w*(?:Error|Exception|Interrupt|Exit|Failure))(?:: (.*))?$")
WIDTH = 200


def meaningful_lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not any(pattern.match(line) for pattern in NOISE)]


def failure_cause(error: BaseException | str | None) -> str:
    """'<Type>: <first meaningful line>' of the innermost known cause; '' for no error."""
    if error is None:
        return ""
    cause = getattr(error, "cause", None)  # ray.exceptions.RayTaskError keeps the trial's own exception
    if isinstance(cause, BaseException):
        error = cause
    if isinstance(error, BaseException):
        lines = meaningful_lines(str(error))
        text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    else:
        text = from_traceback_text(error)
    return text[:WIDTH]


def from_traceback_text(text: str) -> str:
    """From a traceback's text: the last 'SomeError: message' line, else the first meaningful line."""
    lines = meaningful_lines(text)
    for index in range(len(lines) - 1, -1, -1):
        match = EXCEPTION_LINE.match(lines[index])
        if match:
            message = match.group(2) or (lines[index + 1] if index + 1 < len(lines) else "")
            return f"{match.group(1)}: {message}".rstrip(": ")
    return lines[0] if lines else ""
