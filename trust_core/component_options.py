"""``-o NAME.KEY=VALUE``: the options backends, judges and embedders declare, checked before any work.

A component declares its options in ``declared_options`` (:class:`~trust_core.contracts.Option`); the user sets
them on the command line (``-o``, repeatable, comma-separated items allowed) or in a study file (``options``).
``NAME`` is the component's registered name (``llamacpp``, ``minilm``, ``gpt``); a bare ``KEY`` is an option of
the run's backend. Each value is typed and checked against the declaration, and an error names the component and
the key. The values reach components in :attr:`BackendOptions.component_options`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from trust_core.contracts import Option
from trust_core.errors import UserError

OPTION_KINDS = ("backend", "judge", "embedder")
"""The kinds of component that declare options."""


def split_items(given: Iterable[str]) -> list[str]:
    """``-o`` values, each possibly a comma-separated list of ``KEY=VALUE`` items."""
    return [item.strip() for value in given for item in value.split(",") if item.strip()]


def parse_component_options(
    given: Iterable[str], registry: Any, backend: Callable[[], str | None]
) -> dict[str, dict[str, Any]]:
    """The typed values of ``-o`` items, by component name then key.

    ``backend()`` is the name of the run's backend (the component of a bare ``KEY``; asked only when there is
    one), None for a command that runs none. UserError naming the item for a malformed item, an unknown
    component, an option the component does not declare, or a value the option refuses."""
    values: dict[str, dict[str, Any]] = {}
    for item in split_items(given):
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"-o {item}: expected KEY=VALUE or NAME.KEY=VALUE (e.g. -o n_ctx=4096)")
        component, dot, key = name.strip().rpartition(".")
        if not dot:
            run_backend = backend()
            if run_backend is None:
                raise UserError(
                    f"-o {item}: this command runs no backend; name the component (-o NAME.{key}=...; "
                    "`trust plugins` lists the options of each)"
                )
            component = run_backend
        kind, declared = _declared(registry, component, item)
        option = declared.get(key)
        if option is None:
            known = ", ".join(sorted(declared)) or "none"
            raise UserError(f"-o {item}: {kind} {component} has no option {key} (its options: {known})")
        try:
            values.setdefault(component, {})[key] = option.parse(raw)
        except ValueError as exc:
            raise UserError(f"-o {item}: {kind} {component} option {key}: {exc}") from None
    return values


def _declared(registry: Any, component: str, item: str) -> tuple[str, Mapping[str, Option]]:
    """The kind of the registered component ``component`` and the options it declares."""
    for kind in OPTION_KINDS:
        cls = registry.components[kind].get(component)
        if cls is not None:
            return kind, dict(getattr(cls, "declared_options", {}) or {})
    installed = sorted({name for kind in OPTION_KINDS for name in registry.components[kind]})
    raise UserError(
        f"-o {item}: no installed backend, judge or embedder is named {component} "
        f"(installed: {', '.join(installed) or 'none'})"
    )


def describe_declared(declared: Mapping[str, Option]) -> dict[str, dict[str, Any]]:
    """The declared options as ``trust plugins --json`` shows them."""
    return {key: option.describe() for key, option in sorted(declared.items())}
