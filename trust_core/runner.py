"""Run orchestration: resolve → plan → generate → judge and score → results.

``generate`` and ``evaluate`` are the two stages; ``run`` does both. Planning
is the same for all three, so ``evaluate`` finds exactly the responses that
``generate`` stored, and a re-run finds everything a killed run committed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

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
from trust_core.data import (
    DataSource,
    LoadedData,
    load_task_data,
    normalize_items,
    parse_items,
    task_samples,
    validate_items,
)
from trust_core.errors import DataError, UserError
from trust_core.evaluators import CachedEvaluators
from trust_core.logs import library_output
from trust_core.progress import load_model, progress, stage_label
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
    shard: tuple[int, int] | None = None
    """(I, N): generate only shard I of N of the planned prompts (see :mod:`trust_core.sharding`)."""


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
                index[name] = _Ambiguous  # type: ignore[type-abstract]  # a marker class, never instantiated
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
    wanted = _names("--tasks", specs)
    dims = _names("--dimensions", dimensions)
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


def _names(option: str, specs: Sequence[str]) -> list[str]:
    """The comma-separated names of every ``option`` value; UserError for a value that names nothing
    (``--tasks ""``, ``--tasks ,``), which would otherwise select every task."""
    names = []
    for spec in specs:
        found = [name.strip() for name in spec.split(",") if name.strip()]
        if not found:
            raise UserError(f"{option} {spec!r}: names no task or dimension (leave the option out to select all)")
        names += found
    return names


def load_all(tasks: Sequence[Task], source: DataSource, limit: int | None) -> list[TaskData]:
    """Load and validate every task's data before any model is touched; say (stderr) which tasks ``limit``
    rounded up to the smallest selection they can score, and warn about any it left without items."""
    loaded = [TaskData(task, load_task_data(task, source, limit)) for task in tasks]
    for entry in loaded:
        for line in limit_notes(entry, limit):
            click.echo(line, err=True)
    return loaded


def limit_notes(entry: TaskData, limit: int | None) -> list[str]:
    """What the user should know about how ``--limit`` selected ``entry``'s samples (empty: nothing)."""
    if limit is None:
        return []
    selected, total = len(entry.data.samples), entry.data.total_items
    if selected > limit:
        return [
            f"note: {entry.task.id}: --limit {limit} is rounded up to {selected} items, the smallest selection it "
            "can score (its items are scored together, in pairs or groups)"
        ]
    if selected == 0 and total > 0:
        return [f"warning: {entry.task.id}: --limit {limit} selects none of its {total} items: it has nothing to score"]
    return []


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
    rendered_cache: dict[tuple[Any, ...], str] = {}
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
    load_milliseconds: int | None = None
    """Loading the model (None when nothing was generated, so nothing was loaded)."""
    generation_milliseconds: int | None = None
    """Generating the responses of this command (after the load)."""
    completion_tokens: int | None = None
    """Tokens generated in this command, as the backend counts them (None when it does not)."""


def generate(planned: Sequence[PlannedPrompt], backend: Backend, store: Store) -> GenerationReport:
    """Generate every distinct planned prompt without a successful stored response, committing each at once."""
    unique = {p.key.key: p for p in planned}
    stored = store.responses(unique)
    pending = {key: p for key, p in unique.items() if key not in stored or stored[key].status != "ok"}
    generated = failed = 0
    tokens: int | None = None
    load_ms: int | None = None
    if pending:
        loading = time.perf_counter()
        load_model(backend)  # "loading model X (backend Y)...", before the bar starts timing responses
        load_ms = round((time.perf_counter() - loading) * 1000)
    generating = time.perf_counter()
    first_task = next(iter(pending.values())).key.task_id if pending else None
    bar = progress(total=len(pending), desc="generating", unit="response", task=first_task)
    with bar, library_output():  # what the backend's libraries print goes to RUN_DIR/trust.log
        requests = [p.request() for p in pending.values()]
        for result in backend.generate(requests) if requests else ():
            entry = pending[result.key]
            store.put_response(entry.key, entry.rendered, result)
            if result.text is None or result.error:
                failed += 1
            else:
                generated += 1
                if result.completion_tokens is not None:
                    tokens = (tokens or 0) + result.completion_tokens
            bar.set_description(stage_label("generating", entry.key.task_id), refresh=False)
            bar.update(1)
    generation_ms = round((time.perf_counter() - generating) * 1000) if pending else None
    return GenerationReport(len(unique), len(unique) - len(pending), generated, failed, load_ms, generation_ms, tokens)


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
    """Generations from a TrustLLM-format generation folder (items with ``res``), scored with their own prompts.

    A file in which no selected item has a usable response (``res``, a string) is refused; items without
    one are counted in a warning and scored as invalid, with the reason in their generation's error.
    """
    kept: list[TaskData] = []
    by_task: dict[str, list[Generation]] = {}
    for entry in task_data:
        path = folder / entry.task.data_file
        if not path.is_file():
            continue
        name, raw = str(path), _read_generation_file(path)
        items = normalize_items(entry.task, parse_items(name, raw))
        validate_items(name, items, dict(entry.task.item_schema))
        samples = task_samples(entry.task, name, items)
        selected = entry.task.limit(samples, limit)
        generations = [_imported(entry.task, sample) for sample in selected]
        _check_responses(name, generations)
        by_task[entry.task.id] = generations
        digest = hashlib.sha256(raw).hexdigest()
        kept.append(TaskData(entry.task, LoadedData(name, digest, len(samples), selected)))
    if not kept:
        raise UserError(
            f"--generations {folder}: no generation file for the selected tasks (expected <dimension>/<file>.json)"
        )
    return kept, by_task


def _read_generation_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"--generations: cannot read {path} ({exc.strerror or exc})") from None


_JSON_TYPES = {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object"}


def _imported(task: Task, sample: Sample) -> Generation:
    prompt = Prompt(sample.id, ({"role": "user", "content": str(sample.item.get("prompt", ""))},), task.temperature)
    if "res" not in sample.item:
        return Generation(sample, prompt, None, "the imported item has no `res`")
    response = sample.item["res"]
    if response is None:
        return Generation(sample, prompt, None, "the imported item's `res` is null")
    if not isinstance(response, str):
        kind = _JSON_TYPES.get(type(response), type(response).__name__)
        return Generation(sample, prompt, None, f"the imported item's `res` is {kind}, not a string")
    return Generation(sample, prompt, response)


def _check_responses(name: str, generations: Sequence[Generation]) -> None:
    """Refuse a generation file with no usable response; warn, with counts by reason, when some lack one."""
    unusable = Counter(str(g.error) for g in generations if g.text is None)
    if not unusable:
        return
    reasons = "; ".join(f"{reason}: {count}" for reason, count in sorted(unusable.items(), key=lambda rc: -rc[1]))
    total, missing = len(generations), sum(unusable.values())
    if missing == total:
        raise DataError(name, f"none of the {total} selected items has a usable response (a string `res`): {reasons}")
    click.echo(
        f"warning: {name}: {missing} of {total} items have no usable response, scored as invalid ({reasons})",
        err=True,
    )


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
        evaluators.current_task = entry.task.id  # names the judge and embedding progress bars
        result = entry.task.score(task_generations, evaluators, seed)
        metrics += result.metrics
        records += _with_prompts(entry.task.id, result.records, task_generations)
    return Scores(metrics, records)


def _with_prompts(
    task_id: str, records: Sequence[dict[str, Any]], generations: Sequence[Generation]
) -> list[dict[str, Any]]:
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
    """Build (and release) every evaluator the user named, before any work.

    Constructors are cheap and validate their settings, so a missing API key or a malformed argument of
    ``--judge gpt:...``, ``--toxicity-scorer perspective`` or ``--embedder openai``, and a judge model that
    cannot be loaded (``--judge qwen`` or ``--judge ORG/NAME`` whose hub model is neither in the local cache
    nor fetchable), stop the run with one message (exit 2) before a model is loaded or a response generated.
    """
    context = ComponentContext(registry, options.backend_options)
    for kind, spec in (
        ("custom", options.judge),
        ("refusal", options.refusal_judge),
        ("toxicity", options.toxicity_scorer),
    ):
        if not spec:
            continue
        if spec.partition(":")[0] not in registry.components["judge"]:
            _require_judge_model(registry, kind, spec)
        with library_output():  # closing a model judge's backend may touch its libraries
            judge = registry.make_judge(spec, context, kind=kind)
            judge.close()
    if options.embedder and options.embedder.partition(":")[0] in registry.components["embedder"]:
        registry.make_embedder(options.embedder, context)


def _require_judge_model(registry: Registry, kind: str, spec: str) -> None:
    """UserError, naming the option, when ``spec`` is neither a registered judge nor a model a backend loads."""
    from trust_core.registry import KIND_OPTIONS

    try:
        registry.backend_class(None, registry.resolve_model(spec))
    except UserError:
        raise UserError(
            f"{KIND_OPTIONS[kind]} {spec}: neither a registered judge (judges: {', '.join(registry.names('judge'))}) "
            f"nor a model an installed backend can load (backends: {', '.join(registry.names('backend'))})"
        ) from None


def now() -> str:
    """Current UTC time, ISO 8601."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
