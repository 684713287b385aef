"""Plugin discovery and the registry of components they provide.

Plugins come from the entry-point group ``trust`` (filtered by the allow-list
``TRUST_LOAD_PLUGINS=a,b``; set but empty loads none) and from single-file
plugins in ``--plugin-dir`` folders. Each plugin's registrations are tagged
with the plugin's name, so ``trust plugins`` can say who provides what. A single-file plugin has no
distribution version: it is recorded as ``file:sha256:<first 12 hex digits of its code's sha256>``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pluggy

from trust_core import hookspecs
from trust_core.contracts import (
    Backend,
    BackendOptions,
    CalibrationSet,
    ChatTemplate,
    Embedder,
    EvaluatorUnavailable,
    Judge,
    Pruner,
    Quantizer,
    Task,
)
from trust_core.errors import UserError

ENTRY_POINT_GROUP = "trust"
KIND_OPTIONS = {"custom": "--judge", "refusal": "--refusal-judge", "toxicity": "--toxicity-scorer"}
"""The CLI option that picks the judge of each kind."""
ALLOW_LIST_ENV = "TRUST_LOAD_PLUGINS"

KIND_HOOKS: dict[str, tuple[str, type | None]] = {
    "backend": ("register_backends", Backend),
    "quantizer": ("register_quantizers", Quantizer),
    "pruner": ("register_pruners", Pruner),
    "task": ("register_tasks", Task),
    "judge": ("register_judges", Judge),
    "calibration_set": ("register_calibration_sets", CalibrationSet),
    "embedder": ("register_embedders", Embedder),
    "chat_template": ("register_chat_templates", ChatTemplate),
    "model": ("register_models", None),
}
"""Component kind → (hook that registers it, base class registrations must subclass)."""


@dataclass(frozen=True)
class ModelAlias:
    """A short name for a model, resolved lazily to a path or id."""

    alias: str
    resolve: Callable[[], str]
    description: str = ""
    default: bool = False
    name: str = ""


@dataclass
class PluginInfo:
    """A loaded plugin: its name, distribution version and what it registered, by kind."""

    name: str
    version: str
    source: str
    components: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ComponentContext:
    """What a judge or embedder factory may need from the run: backends for model-based judges,
    user options (API keys live in ``backend_options.secrets``)."""

    registry: Registry
    backend_options: BackendOptions


def _plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    return pm


def _allow_list() -> set[str] | None:
    raw = os.environ.get(ALLOW_LIST_ENV)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def entry_points_disabled() -> bool:
    """True when ``TRUST_LOAD_PLUGINS`` is set but names no plugin, so no installed plugin is loaded."""
    return _allow_list() == set()


def _load_entry_point_plugins(pm: pluggy.PluginManager) -> dict[str, tuple[str, str]]:
    """Register entry-point plugins; return plugin name → (version, distribution)."""
    allowed = _allow_list()
    found: dict[str, tuple[str, str]] = {}
    seen: set[str] = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        seen.add(ep.name)
        if (allowed is not None and ep.name not in allowed) or pm.has_plugin(ep.name):
            continue
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must say which one it is
            raise UserError(f"plugin '{ep.name}' ({ep.value}) failed to import: {exc}") from exc
        _register(pm, module, ep.name)
        dist = ep.dist
        found[ep.name] = (dist.version if dist else "unknown", dist.name if dist else ep.value)
    if allowed is not None and (missing := sorted(allowed - seen)):
        raise UserError(
            f"{ALLOW_LIST_ENV} names plugins that are not installed: {', '.join(missing)} "
            f"(installed: {', '.join(sorted(seen)) or 'none'})"
        )
    return found


def _load_directory_plugins(pm: pluggy.PluginManager, directories: Iterable[Path]) -> dict[str, tuple[str, str]]:
    """Register every ``*.py`` file in ``directories`` as a plugin named after the file."""
    found: dict[str, tuple[str, str]] = {}
    for directory in directories:
        if not directory.is_dir():
            raise UserError(f"--plugin-dir {directory}: not a directory")
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith("_"):
                continue
            module = _import_file(path)
            _register(pm, module, path.stem)
            found[path.stem] = (file_plugin_version(path), str(path))
    return found


FILE_DIGEST_LENGTH = 12
"""Hex digits of a single-file plugin's sha256 kept in its version (``file:sha256:<12 hex>``)."""


def file_plugin_version(path: Path) -> str:
    """The version recorded for a single-file plugin: ``file:sha256:`` and the start of its code's sha256, so
    results name the exact code that produced them (a file has no distribution version)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"file:sha256:{digest[:FILE_DIGEST_LENGTH]}"


def _import_file(path: Path) -> ModuleType:
    module_name = f"trust_plugin_dir_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UserError(f"plugin file {path} failed to import: {exc}") from exc
    return module


def _register(pm: pluggy.PluginManager, module: ModuleType, name: str) -> None:
    if pm.has_plugin(name):
        raise UserError(f"two plugins are named '{name}'")
    try:
        pm.register(module, name=name)
    except pluggy.PluginValidationError as exc:
        raise UserError(f"plugin '{name}' has an invalid hook implementation: {exc}") from exc


def _check_pending(pm: pluggy.PluginManager) -> None:
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        known = ", ".join(hookspecs.HOOK_NAMES)
        raise UserError(f"{exc} (known hooks: {known})") from exc


TASK_ATTRIBUTES = ("data_file", "item_schema")
"""Class attributes a task must set besides ``id`` (``sample_package`` defaults to the task's module)."""


def _check_component(plugin: str, kind: str, name: str, component: type) -> None:
    """Refuse, naming the plugin, component and what is missing, a class that cannot be built or a task
    without its required attributes."""
    if inspect.isabstract(component):
        missing = ", ".join(sorted(getattr(component, "__abstractmethods__", ())))
        raise UserError(f"plugin '{plugin}' registered {kind} '{name}', which does not implement: {missing}")
    if kind == "task":
        absent = [attribute for attribute in TASK_ATTRIBUTES if not hasattr(component, attribute)]
        if absent:
            raise UserError(
                f"plugin '{plugin}' registered task '{name}' without the class attribute(s) {', '.join(absent)} "
                "(see docs/plugins.md, register_tasks)"
            )


class Registry:
    """Every loaded plugin and the components each registered, looked up by name."""

    def __init__(self, plugin_dirs: Sequence[Path] = ()) -> None:
        self.pm = _plugin_manager()
        sources = _load_entry_point_plugins(self.pm)
        sources.update(_load_directory_plugins(self.pm, plugin_dirs))
        _check_pending(self.pm)
        self.plugins: dict[str, PluginInfo] = {
            name: PluginInfo(name=name, version=version, source=source) for name, (version, source) in sources.items()
        }
        self.components: dict[str, dict[str, Any]] = {kind: {} for kind in KIND_HOOKS}
        self.owner: dict[tuple[str, str], str] = {}
        for kind in KIND_HOOKS:
            self._collect(kind)

    # ------------------------------------------------------------------ collection

    def _collect(self, kind: str) -> None:
        hook_name, base = KIND_HOOKS[kind]
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            plugin = impl.plugin_name
            impl.function(register=self._register_callback(kind, base, plugin))

    def _register_callback(self, kind: str, base: type | None, plugin: str) -> Callable[..., None]:
        def register(component: Any, resolve: Callable[[], str] | None = None, **kwargs: Any) -> None:
            if kind == "model":
                name = str(component)
                if resolve is None:
                    raise UserError(f"plugin '{plugin}' registered model alias '{name}' without a resolve function")
                entry: Any = ModelAlias(alias=name, resolve=resolve, name=name, **kwargs)
            else:
                if not (isinstance(component, type) and base is not None and issubclass(component, base)):
                    expected = base.__name__ if base else "?"
                    problem = f"registered {component!r} as a {kind}, not a {expected} subclass"
                    raise UserError(f"plugin '{plugin}' {problem}")
                name = str(getattr(component, "id" if kind == "task" else "name", None) or "")
                if not name:
                    raise UserError(f"plugin '{plugin}' registered a {kind} without a name: {component!r}")
                _check_component(plugin, kind, name, component)
                entry = component
            if (kind, name) in self.owner:
                raise UserError(
                    f"{kind} '{name}' is registered twice (plugins '{self.owner[(kind, name)]}' and '{plugin}')"
                )
            self.components[kind][name] = entry
            self.owner[(kind, name)] = plugin
            self.plugins.setdefault(plugin, PluginInfo(plugin, "unknown", "unknown")).components.setdefault(
                kind, []
            ).append(name)

        return register

    # ------------------------------------------------------------------ lookups

    def names(self, kind: str) -> list[str]:
        """Registered names of one kind, sorted."""
        return sorted(self.components[kind])

    def plugin_of(self, kind: str, name: str) -> PluginInfo:
        """The plugin that registered component ``name`` of ``kind``."""
        return self.plugins[self.owner[(kind, name)]]

    def _lookup(self, kind: str, name: str, option: str) -> Any:
        try:
            return self.components[kind][name]
        except KeyError:
            available = ", ".join(self.names(kind)) or "none installed"
            raise UserError(f"{option} {name}: unknown {kind} (available: {available})") from None

    def compressor(self, kind: str, method: str) -> Pruner | Quantizer:
        """A new pruner (``kind`` "pruner") or quantizer (``kind`` "quantizer") registered as ``method``."""
        option = "--prune" if kind == "pruner" else "--quantize"
        return cast("Pruner | Quantizer", self._lookup(kind, method, option)())

    def api_keys(self) -> dict[str, str | None]:
        """Every API key a registered backend, judge or embedder needs (``needs_key``), by name, with the
        environment variable it is read from (``key_env_var``)."""
        keys: dict[str, str | None] = {}
        for kind in ("backend", "judge", "embedder"):
            for component in self.components[kind].values():
                name = getattr(component, "needs_key", None)
                if name:
                    keys[name] = keys.get(name) or getattr(component, "key_env_var", None)
        return dict(sorted(keys.items()))

    def tasks(self) -> list[type[Task]]:
        """Every registered task class, sorted by id."""
        return [self.components["task"][name] for name in self.names("task")]

    def model_alias(self, name: str) -> ModelAlias | None:
        """The alias registered under ``name``, if any."""
        return self.components["model"].get(name)

    def default_model(self) -> str:
        """The alias registered as the default model."""
        defaults = [alias for alias in self.components["model"].values() if alias.default]
        if not defaults:
            raise UserError("no default model is registered: pass --model, or install trust-smollm2")
        return str(defaults[0].alias)

    def resolve_model(self, spec: str) -> str:
        """A model alias → its path or id; anything else is returned unchanged."""
        alias = self.model_alias(spec)
        return alias.resolve() if alias else spec

    def backend_class(self, name: str | None, model: str) -> type[Backend]:
        """The backend named ``name``, or the best-scoring backend for ``model``."""
        if name:
            return cast("type[Backend]", self._lookup("backend", name, "--backend"))
        scored = [(cls.supports(model), cls.name, cls) for cls in self.components["backend"].values()]
        scored = [entry for entry in scored if entry[0] > 0]
        if not scored:
            available = ", ".join(self.names("backend")) or "none installed"
            raise UserError(f"--model {model}: no installed backend can load it (backends: {available})")
        return cast("type[Backend]", max(scored, key=lambda entry: (entry[0], entry[1]))[2])

    def make_backend(self, model_spec: str, backend: str | None, options: BackendOptions) -> Backend:
        """Resolve a model spec (alias, path, id) and build the backend for it."""
        named = self._lookup("backend", backend, "--backend") if backend else None
        if named is not None and not named.resolves_aliases:
            return cast(Backend, named(model_spec, options))  # e.g. a served model's id
        model = self.resolve_model(model_spec)
        return self.backend_class(backend, model)(model, self._with_chat_templates(options))

    def _with_chat_templates(self, options: BackendOptions) -> BackendOptions:
        """``options`` with the chat template the user named (``extra["chat_template"]``, a ``name[:argument]``
        spec) built, or with ``extra["chat_template_for"]``: model -> the first registered template matching
        it, for a backend whose tokenizer has none."""
        from dataclasses import replace

        spec = options.extra.get("chat_template")
        if isinstance(spec, str):
            name, _, argument = spec.partition(":")
            template = self._lookup("chat_template", name, "--chat-template")(argument or None)
            return replace(options, extra={**options.extra, "chat_template": template})
        templates = [self.components["chat_template"][name] for name in self.names("chat_template")]

        def template_for(model: str) -> ChatTemplate | None:
            for cls in templates:
                if (found := cls.for_model(model)) is not None:
                    return cast("ChatTemplate | None", found)
            return None

        return replace(options, extra={**options.extra, "chat_template_for": template_for})

    def _component(self, kind: str, spec: str, option: str, context: ComponentContext) -> Any:
        name, _, argument = spec.partition(":")
        cls = self._lookup(kind, name, option)
        return cls(argument or None, context)

    def make_embedder(self, spec: str | None, context: ComponentContext) -> Embedder:
        """The embedder for ``--embedder name[:argument]``, or the default one."""
        if not spec:
            spec = self.default_embedder()
        return cast(Embedder, self._component("embedder", spec, "--embedder", context))

    def default_embedder(self) -> str:
        """The name of the default embedder: the highest-priority registered default that is available."""
        defaults = [cls for cls in self.components["embedder"].values() if getattr(cls, "default", False)]
        defaults.sort(key=lambda cls: (-getattr(cls, "default_priority", 0), cls.name))
        reasons = []
        for cls in defaults:
            reason = cls.unavailable_reason() if hasattr(cls, "unavailable_reason") else None
            if reason is None:
                return str(cls.name)
            reasons.append(f"{cls.name}: {reason}")
        detail = f" ({'; '.join(reasons)})" if reasons else ""
        raise UserError(
            f"no default embedder is available{detail}: pass --embedder or install trust-sentence-transformers"
        )

    def make_judge(
        self, spec: str | None, context: ComponentContext, reusable: Backend | None = None, kind: str = "custom"
    ) -> Judge:
        """The judge for ``kind`` ("custom", "refusal", "toxicity").

        ``spec`` is a registered judge ``name[:argument]`` (which must answer ``kind``) or a model
        (alias, path, id) wrapped in the core's LLM judge; when that model is the one ``reusable``
        holds, the judge shares that backend instead of loading the model twice. Without ``spec``,
        the registered default for ``kind`` is used (the default model as LLM judge for "custom").
        """
        from trust_core.llm_judge import LLMJudge

        option = KIND_OPTIONS[kind]
        spec = spec or self._default_judge_spec(kind, context)
        name = spec.partition(":")[0]
        if name in self.components["judge"]:
            cls = self.components["judge"][name]
            if kind not in cls.kinds:
                raise UserError(
                    f"{option} {name}: this judge cannot judge {kind} (it judges: {', '.join(sorted(cls.kinds))})"
                )
            return cast(Judge, self._component("judge", spec, option, context))
        model = self.resolve_model(spec)
        if reusable is not None and reusable.model == model:
            return LLMJudge(reusable, label=spec, owns_backend=False)
        return LLMJudge(self.make_backend(spec, None, context.backend_options), label=spec)

    def _default_judge_spec(self, kind: str, context: ComponentContext) -> str:
        if kind == "custom":
            return self.default_model()
        reasons = []
        for name in self.names("judge"):
            cls = self.components["judge"][name]
            if kind in cls.default_for:
                reason = cls.unavailable_reason(context.backend_options.secrets)
                if reason is None:
                    return name
                reasons.append(f"{name}: {reason}")
        raise EvaluatorUnavailable(
            kind, "; ".join(reasons) or f"no default {kind} judge is installed; pass {KIND_OPTIONS[kind]}"
        )
