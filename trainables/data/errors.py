"""The data layer's error type: bad input (files, folders, labels, arguments) with a one-line message."""


class DataError(ValueError):
    """Bad or missing input data; the message names the file or argument and what was expected."""
