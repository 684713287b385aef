"""Errors the CLI turns into one clear message and exit status 2."""

from __future__ import annotations


class UserError(Exception):
    """A problem with what the user gave (option, file, plugin, key): exit 2, no traceback."""

    exit_code = 2


class DataError(UserError):
    """A dataset item that cannot be used; names the file, the item index and the field."""

    def __init__(self, file: str, problem: str, index: int | None = None, field: str | None = None) -> None:
        self.file = file
        self.index = index
        self.field = field
        self.problem = problem
        where = file
        if index is not None:
            where += f", item {index}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}")
