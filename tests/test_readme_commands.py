"""Every `trust` command in a plugin's, library's or the benchmarks' README parses with the real CLI.

The README and the guides (tests/test_documented_commands.py) have their commands run; the package READMEs show
commands that need what this machine lacks (a GPU, a hub model, an API key, the full archive), so here each one is
only parsed by the real click CLI — an option renamed or removed in the core fails the fast suite instead of the
documentation going stale.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from test_documented_commands import (
    ELIDED,
    SHELL_BLOCKS,
    Documented,
    fenced_blocks,
    logical_lines,
    parse,
    split_commands,
    tokenize,
)

from conftest import REPO

READMES = tuple(
    sorted(str(path.relative_to(REPO)) for pattern in ("plugins/*/README.md", "libs/*/README.md", "bench/README.md")
           for path in REPO.glob(pattern))
)  # fmt: skip
PLACEHOLDERS = {"/path/to/TrustLLM/dataset.zip": "archive.zip", "path/to/dataset.zip": "archive.zip"}
"""Documented paths that must exist for the option to parse, and the file that stands for them here."""


def readme_commands() -> list[Documented]:
    """The `trust` commands of the shell (and unlabelled) blocks of :data:`READMES`, first occurrence kept."""
    seen: dict[str, Documented] = {}
    for document in READMES:
        for block in fenced_blocks(document):
            if block.info not in SHELL_BLOCKS | {"", "text"}:  # READMEs often leave the shell block unlabelled
                continue
            for line, text in logical_lines(block):
                for tokens in split_commands(tokenize(text)):
                    found = Documented(tuple(tokens), f"{document}:{line}")
                    if found.is_trust:
                        seen.setdefault(found.command, found)
    return list(seen.values())


COMMANDS = readme_commands()


def test_the_package_readmes_document_trust_commands() -> None:
    documents = {documented.where.split(":")[0] for documented in COMMANDS}
    assert len(COMMANDS) >= 40, len(COMMANDS)
    assert {"plugins/refusal/README.md", "plugins/gptq/README.md", "plugins/openai/README.md"} <= documents


@pytest.mark.parametrize("documented", COMMANDS, ids=lambda documented: documented.command)
def test_readme_command_parses(documented: Documented, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "archive.zip").write_bytes(b"")
    args = [PLACEHOLDERS.get(arg, arg) for arg in documented.tokens[1:] if arg != ELIDED]
    try:
        parse(args)
    except click.UsageError as exc:
        pytest.fail(f"`{documented.command}` ({documented.where}) does not parse: {exc.format_message()}")
