"""Hook specifications: how a plugin hands its components to the core.

Every hook follows the register-callback style: the core calls the hook with a
``register`` function and the plugin calls ``register(...)`` once per component
it provides. A plugin module implements a hook by defining a function of the
same name decorated with ``trust_core.hookimpl``::

    from trust_core import hookimpl

    @hookimpl
    def register_tasks(register):
        register(MyTask)

Misspelled hook implementations are an error at load time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from trust_core.contracts import Backend, CalibrationSet, ChatTemplate, Embedder, Judge, Pruner, Quantizer, Task

hookspec = pluggy.HookspecMarker("trust")


@hookspec
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register backends: ``register(BackendClass)`` for each.

    A backend class subclasses :class:`trust_core.contracts.Backend`, has a unique
    ``name`` (the value of ``--backend``) and a ``supports(model)`` classmethod the
    core uses to choose a backend when the user names none.
    """


@hookspec
def register_quantizers(register: Callable[[type[Quantizer]], None]) -> None:
    """Register quantizers: ``register(QuantizerClass)`` for each.

    A quantizer class subclasses :class:`trust_core.contracts.Quantizer` and has a
    unique ``name`` (the quantization method, e.g. ``hqq``).
    """


@hookspec
def register_pruners(register: Callable[[type[Pruner]], None]) -> None:
    """Register pruners: ``register(PrunerClass)`` for each.

    A pruner class subclasses :class:`trust_core.contracts.Pruner` and has a unique
    ``name`` (the pruning method, e.g. ``wanda``).
    """


@hookspec
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    """Register tasks: ``register(TaskClass)`` for each scored subtask.

    A task class subclasses :class:`trust_core.contracts.Task`; its ``id`` is
    ``<dimension>/<subtask>`` and its ``aliases`` are extra names ``--tasks`` accepts.
    """


@hookspec
def register_judges(register: Callable[[type[Judge]], None]) -> None:
    """Register judges: ``register(JudgeClass)`` for each.

    A judge class subclasses :class:`trust_core.contracts.Judge`, has a unique
    ``name`` (the value of ``--judge``) and is built as ``JudgeClass(argument, context)``
    where ``argument`` is the text after ``name:`` in ``--judge name:argument`` (or None)
    and ``context`` is a :class:`trust_core.registry.ComponentContext`.
    """


@hookspec
def register_calibration_sets(register: Callable[[type[CalibrationSet]], None]) -> None:
    """Register labelled sets for ``trust judge-check``: ``register(SetClass)`` for each.

    A set class subclasses :class:`trust_core.contracts.CalibrationSet`, has a unique ``name`` and the judge
    ``kind`` it checks (e.g. ``refusal``); ``trust judge-check`` measures every judge of that kind on its
    ``items(lookup)``, per ``group`` and ``part`` of the items. ``lookup`` reads items of the user's
    ``--data-dir``, for sets that ship without the data's prompts.
    """


@hookspec
def register_embedders(register: Callable[[type[Embedder]], None]) -> None:
    """Register embedders: ``register(EmbedderClass)`` for each.

    An embedder class subclasses :class:`trust_core.contracts.Embedder`, has a unique
    ``name`` (the value of ``--embedder``) and is built as ``EmbedderClass(argument, context)``
    like a judge. The embedder registered with ``default = True`` is used when the
    user names none.
    """


@hookspec
def register_chat_templates(register: Callable[[type[ChatTemplate]], None]) -> None:
    """Register chat-template providers: ``register(TemplateClass)`` for each.

    A template class subclasses :class:`trust_core.contracts.ChatTemplate`, has a unique ``name``
    (``--chat-template name[:argument]``) and renders chats for models whose tokenizer has no chat template.
    Backends use a template the user named, or, only for a tokenizer without its own template, the first
    provider (in name order) whose ``for_model(model)`` returns one.
    """


@hookspec
def register_models(register: Callable[..., None]) -> None:
    """Register model aliases: ``register(alias, resolve, description=..., default=False)``.

    ``resolve`` is a zero-argument callable returning the model spec (a path or
    id) the alias stands for; it is called only when the alias is used. The alias
    registered with ``default=True`` is the model ``trust run`` uses when the user
    gives no ``--model``.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``trust`` command-line interface.

    ``cli`` is the root :class:`click.Group`; decorate functions with ``@cli.command()``.
    """


HOOK_NAMES: tuple[str, ...] = (
    "register_backends",
    "register_quantizers",
    "register_pruners",
    "register_tasks",
    "register_judges",
    "register_calibration_sets",
    "register_embedders",
    "register_chat_templates",
    "register_models",
    "register_commands",
)
"""Every hook the core defines, in documentation order."""
