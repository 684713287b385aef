"""Run orchestration: resolve → plan → generate → judge and score → results.

``generate`` and ``evaluate`` are the two stages; ``run`` does both. Planning
is the same for all three, so ``evaluate`` finds exactly the responses that
``generate`` stored, and a re-run finds everything a killed run committed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trust_core.contracts import (
    Backend,
    BackendOptions,
    ChatRequest,
    Embedder,
    Generation,
    GenerationSettings,
    Judge,
    MetricValue,
    Prompt,
    Sample,
    Task,
    content_hash,
)
from trust_core.data import DataSource, LoadedData, load_task_data, normalize_items, parse_items, validate_items
from trust_core.errors import UserError
from trust_core.evaluation import CachedEvaluators
from trust_core.progress import progress
from trust_core.registry import ComponentContext, Registry
from trust_core.store import ResponseKey, Store


@dataclass
class RunOptions:
    """Everything a run is configured with (the CLI options, parsed)."""

    run_dir: Path
    model: str | None = None
    backend: str | None = None
    tasks: Sequence[str] = ()
    dimensions: Sequence[str] = ()
    data_dir: Path | None = None
    limit: int | None = None
    output: Path | None = None
    restart: bool = False
    max_new_tokens: int = 256
    temperature: float | None = None
    seed: int = 42
    judge: str | None = None
    refusal_judge: str | None = None
    toxicity_scorer: str | None = None
    embedder: str | None = None
    backend_options: BackendOptions = field(default_factory=BackendOptions)
    generations_dir: Path | None = None
    compression: Any = None


@dataclass(frozen=True)
class PlannedPrompt:
    """A prompt of a sample, rendered, with its store key and request."""

    task: Task
    sample: Sample
    prompt: Prompt
    key: ResponseKey
    rendered: str

    def request(self) -> ChatRequest:
        """The backend request for this prompt, with the settings recorded in its key."""
        return ChatRequest(
            key=self.key.key, messages=self.prompt.messages, settings=GenerationSettings(**self.key.settings)
        )


@dataclass
class TaskData:
    """A resolved task with its loaded samples."""

    task: Task
    data: LoadedData


# --------------------------------------------------------------------------- resolution


def _task_index(registry: Registry) -> dict[str, type[Task]]:
    index: dict[str, type[Task]] = {}
    for cls in registry.tasks():
        subtask = cls.id.split("/", 1)[1]
        names = {cls.id, subtask, *cls.aliases, *(f"{cls.id.split('/')[0]}/{alias}" for alias in cls.aliases)}
        for name in names:
            if name in index and index[name] is not cls:
                index[name] = _Ambiguous  # type: ignore[assignment]
            else:
                index[name] = cls
    return index


class _Ambiguous(Task):
    """Marker for a name two tasks answer to."""


def resolve_tasks(registry: Registry, specs: Sequence[str], dimensions: Sequence[str]) -> list[Task]:
    """Task instances for ``--tasks`` (ids, aliases, dimension names) and ``--dimensions``; all when neither."""
    all_tasks = registry.tasks()
    if not all_tasks:
        raise UserError("no task plugins are installed (try: pip install -e plugins/truthfulness)")
    wanted = [name.strip() for spec in specs for name in spec.split(",") if name.strip()]
    dims = [name.strip() for spec in dimensions for name in spec.split(",") if name.strip()]
    known_dims = sorted({cls.id.split("/", 1)[0] for cls in all_tasks})
    chosen: list[type[Task]] = []
    for dim in dims:
        if dim not in known_dims:
            raise UserError(f"--dimensions {dim}: unknown dimension (available: {', '.join(known_dims)})")
        chosen += [cls for cls in all_tasks if cls.id.startswith(dim + "/")]
    index = _task_index(registry)
    for name in wanted:
        if name in known_dims:
            chosen += [cls for cls in all_tasks if cls.id.startswith(name + "/")]
            continue
        cls = index.get(name)
        if cls is None:
            raise UserError(f"--tasks {name}: unknown task (available: {', '.join(c.id for c in all_tasks)})")
        if cls is _Ambiguous:
            raise UserError(f"--tasks {name}: more than one task answers to this name; use the full id")
        chosen.append(cls)
    if not wanted and not dims:
        chosen = list(all_tasks)
    return [cls() for cls in dict.fromkeys(chosen)]


def load_all(tasks: Sequence[Task], source: DataSource, limit: int | None) -> list[TaskData]:
    """Load and validate every task's data before any model is touched."""
    return [TaskData(task, load_task_data(task, source, limit)) for task in tasks]


# --------------------------------------------------------------------------- planning


def request_seed(run_seed: int, prompt_hash: str) -> int:
    """Per-request seed: depends on the run seed and the prompt, never on batch or order."""
    return int(content_hash([run_seed, prompt_hash])[:8], 16)


def plan(task_data: Sequence[TaskData], backend: Backend, options: RunOptions) -> list[PlannedPrompt]:
    """Render every task's prompts and compute their store keys.

    A task that scores another task's responses (``generation_of``) gets that task's prompts and
    keys, so the shared responses are generated once. Within a task identical keys are kept once.
    """
    fingerprint = backend.fingerprint()
    backend_id = f"{backend.name}/{backend.version}"
    rendered_cache: dict[tuple, str] = {}
    planned: dict[tuple[str, str], PlannedPrompt] = {}
    for entry in task_data:
        owner = entry.task.generation_of() if entry.task.generation_of else entry.task
        samples = {sample.id: sample for sample in entry.data.samples}
        for prompt in owner.prompts(entry.data.samples, options.seed):
            messages_key = tuple(tuple(sorted(m.items())) for m in prompt.messages)
            if messages_key not in rendered_cache:
                rendered_cache[messages_key] = backend.render(prompt.messages)
            rendered = rendered_cache[messages_key]
            prompt_hash = content_hash(rendered)
            temperature = options.temperature if options.temperature is not None else prompt.temperature
            settings = GenerationSettings(temperature, options.max_new_tokens, request_seed(options.seed, prompt_hash))
            key = ResponseKey(
                model_fingerprint=fingerprint,
                backend=backend_id,
                task_id=owner.id,
                task_version=owner.version,
                sample_id=prompt.sample_id,
                variant=prompt.variant,
                prompt_hash=prompt_hash,
                settings=settings.as_dict(),
            )
            if prompt.sample_id not in samples:
                raise RuntimeError(f"task {owner.id} made a prompt for unknown sample {prompt.sample_id}")
            planned.setdefault(
                (entry.task.id, key.key), PlannedPrompt(entry.task, samples[prompt.sample_id], prompt, key, rendered)
            )
    return list(planned.values())


# --------------------------------------------------------------------------- generation


@dataclass
class GenerationReport:
    """What the generate stage did."""

    planned: int
    already_stored: int
    generated: int
    failed: int


def generate(planned: Sequence[PlannedPrompt], backend: Backend, store: Store) -> GenerationReport:
    """Generate every distinct planned prompt without a successful stored response, committing each at once."""
    unique = {p.key.key: p for p in planned}
    stored = store.responses(unique)
    pending = {key: p for key, p in unique.items() if key not in stored or stored[key].status != "ok"}
    generated = failed = 0
    with progress(total=len(pending), desc="generating", unit="response") as bar:
        requests = [p.request() for p in pending.values()]
        for result in backend.generate(requests) if requests else ():
            entry = pending[result.key]
            store.put_response(entry.key, entry.rendered, result)
            if result.text is None or result.error:
                failed += 1
            else:
                generated += 1
            bar.update(1)
    return GenerationReport(len(unique), len(unique) - len(pending), generated, failed)


# --------------------------------------------------------------------------- scoring


def stored_generations(planned: Sequence[PlannedPrompt], store: Store) -> dict[str, list[Generation]]:
    """Generations by task id, from the store; a prompt with no stored response is an error."""
    stored = store.responses(p.key.key for p in planned)
    missing = [p for p in planned if p.key.key not in stored]
    if missing:
        tasks = sorted({p.task.id for p in missing})
        raise UserError(
            f"{len(missing)} responses are not in the store of this run directory (tasks: {', '.join(tasks)}); "
            "run `trust generate` (or `trust run`) with the same options first"
        )
    by_task: dict[str, list[Generation]] = {}
    for p in planned:
        response = stored[p.key.key]
        text = response.text if response.status == "ok" else None
        by_task.setdefault(p.task.id, []).append(Generation(p.sample, p.prompt, text, response.error))
    return by_task


def imported_generations(
    task_data: Sequence[TaskData], folder: Path, limit: int | None
) -> tuple[list[TaskData], dict[str, list[Generation]]]:
    """Generations from a TrustLLM-format generation folder (items with ``res``), scored with their own prompts."""
    kept: list[TaskData] = []
    by_task: dict[str, list[Generation]] = {}
    for entry in task_data:
        path = folder / entry.task.data_file
        if not path.is_file():
            continue
        items = normalize_items(entry.task, parse_items(str(path), path.read_bytes()))
        validate_items(str(path), items, dict(entry.task.item_schema))
        samples = [entry.task.to_sample(i, item) for i, item in entry.task.select_items(items)]
        samples = entry.task.limit(samples, limit)
        by_task[entry.task.id] = [_imported(entry.task, sample) for sample in samples]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        kept.append(TaskData(entry.task, LoadedData(str(path), digest, len(samples), samples)))
    if not kept:
        raise UserError(
            f"--generations {folder}: no generation file for the selected tasks (expected <dimension>/<file>.json)"
        )
    return kept, by_task


def _imported(task: Task, sample: Sample) -> Generation:
    response = sample.item.get("res")
    prompt = Prompt(sample.id, ({"role": "user", "content": str(sample.item.get("prompt", ""))},), task.temperature)
    if not isinstance(response, str):
        return Generation(sample, prompt, None, "no `res` in the imported item")
    return Generation(sample, prompt, response)


@dataclass
class Scores:
    """Metrics and per-sample records of every task."""

    metrics: list[MetricValue]
    records: list[dict[str, Any]]


def score(
    task_data: Sequence[TaskData], generations: dict[str, list[Generation]], evaluators: CachedEvaluators, seed: int
) -> Scores:
    """Score every task; tasks needing no evaluator never load one."""
    metrics: list[MetricValue] = []
    records: list[dict[str, Any]] = []
    for entry in task_data:
        task_generations = generations.get(entry.task.id, [])
        result = entry.task.score(task_generations, evaluators, seed)
        metrics += result.metrics
        records += _with_prompts(entry.task.id, result.records, task_generations)
    return Scores(metrics, records)


def _with_prompts(task_id: str, records: Sequence[dict[str, Any]], generations: Sequence[Generation]) -> list[dict]:
    """Per-sample records prefixed with the task id and the chat the model was given."""
    chats = {(g.sample.id, g.prompt.variant): list(g.prompt.messages) for g in generations}
    enriched = []
    for record in records:
        chat = chats.get((str(record.get("sample_id")), str(record.get("variant", ""))))
        enriched.append({"task": task_id, **record, **({"messages": chat} if chat is not None else {})})
    return enriched


def make_evaluators(
    registry: Registry, store: Store, options: RunOptions, tasks: Sequence[Task], backend: Backend | None = None
) -> CachedEvaluators:
    """Evaluators for the tasks' needs, built lazily. An LLM judge on the generation model reuses ``backend``.

    A kind no task needs gets a reason instead of a factory; a kind with no usable default raises
    :class:`EvaluatorUnavailable` only when a task asks for it (the task reports the metric as skipped).
    """
    context = ComponentContext(registry, options.backend_options)
    needs = set().union(*(task.needs for task in tasks)) if tasks else set()
    specs = {
        "judge": ("custom", options.judge),
        "refusal": ("refusal", options.refusal_judge),
        "toxicity": ("toxicity", options.toxicity_scorer),
    }

    def factory(kind: str, spec: str | None) -> Callable[[], Judge]:
        return lambda: registry.make_judge(spec, context, reusable=backend, kind=kind)

    judges: dict[str, Callable[[], Judge] | str] = {
        need: factory(kind, spec) if need in needs else f"no selected task needs a {need} evaluator"
        for need, (kind, spec) in specs.items()
    }

    def make_embedder() -> Embedder:
        return registry.make_embedder(options.embedder, context)

    return CachedEvaluators(
        store,
        judges,
        make_embedder if "embedder" in needs else "no selected task needs an embedder",
        judge_batch=max(1, options.backend_options.batch_size),
    )


def preflight_evaluators(registry: Registry, options: RunOptions) -> None:
    """Build (and release) every evaluator the user named that is a registered component, before any work.

    Constructors are cheap and validate their settings, so a missing API key or a malformed argument of
    ``--judge gpt:...``, ``--toxicity-scorer perspective`` or ``--embedder openai`` stops the run with one
    message (exit 2) before a model is loaded or a response generated. Model specs used as LLM judges are
    checked when first used.
    """
    context = ComponentContext(registry, options.backend_options)
    for kind, spec in (
        ("custom", options.judge),
        ("refusal", options.refusal_judge),
        ("toxicity", options.toxicity_scorer),
    ):
        if spec and spec.partition(":")[0] in registry.components["judge"]:
            registry.make_judge(spec, context, kind=kind).close()
    if options.embedder and options.embedder.partition(":")[0] in registry.components["embedder"]:
        registry.make_embedder(options.embedder, context)


def now() -> str:
    """Current UTC time, ISO 8601."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
