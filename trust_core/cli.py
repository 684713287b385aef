"""The ``trust`` command line."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from trust_core import __version__
from trust_core.component_options import describe_declared, parse_component_options
from trust_core.contracts import BackendOptions
from trust_core.errors import UserError
from trust_core.flag_translation import fold_judge_family, translate_flags

PLUGIN_DIRS_ENV = "TRUST_PLUGIN_DIRS"
API_OPTIONS = (
    "base_url", "judge_base_url", "max_concurrency", "request_timeout", "max_retries", "chat_template",
    "api_key_env", "judge_api_key_env", "allow_insecure",
)  # fmt: skip
"""Options for API backends and judges (and ``--chat-template``), passed to components in
``BackendOptions.extra`` under these names."""


def _registry(ctx: click.Context) -> Any:
    return ctx.find_root().obj["registry"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="trust")
@click.option(
    "--plugin-dir",
    "plugin_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Load every *.py file in DIR as a plugin (repeatable, before or after the command; also "
    f"${PLUGIN_DIRS_ENV}, ':'-separated).",
)
def cli(plugin_dirs: Sequence[Path]) -> None:
    """trust: measure how trustworthy a large language model is, and how compression changes it.

    \b
    Quick start (offline, embedded SmolLM2 model, packaged sample data):
      trust run --tasks truthfulness --limit 3
    \b
    Plugins are discovered from the entry-point group "trust"; set
    TRUST_LOAD_PLUGINS=a,b to load only those (empty = none).
    \b
    Exit status: 0 success; 2 bad input (one message, no traceback);
    3 no response succeeded (nothing scored, no results written);
    130 interrupted (what was stored stays stored).
    """


# --------------------------------------------------------------------------- shared options


def _option_name(option: Callable[..., Any]) -> str:
    """The parameter name a ``click.option`` decorator declares (applied to a throwaway function)."""
    return str(_apply(lambda: None, [option]).__click_params__[0].name)  # type: ignore[attr-defined]


def _apply(func: Callable[..., Any], options: list[Callable[..., Any]]) -> Callable[..., Any]:
    for option in reversed(options):
        func = option(func)
    return func


def _run_options(func: Callable[..., Any], only: tuple[str, ...] | None = None) -> Callable[..., Any]:
    options = [
        click.option(
            "--model",
            "model",
            metavar="MODEL",
            help="HF id, local folder, GGUF file, or a registered alias (default: the embedded model).",
        ),
        click.option(
            "--backend", metavar="NAME", help="Backend to run the model with (default: chosen from the model)."
        ),
        click.option(
            "--tasks",
            "tasks",
            multiple=True,
            metavar="TASKS",
            help="Task ids, aliases or dimensions, comma-separated or repeated "
            "(e.g. truthfulness/hallucination, use_internal_knowledge). Default: all.",
        ),
        click.option(
            "--dimensions",
            "dimensions",
            multiple=True,
            metavar="DIMS",
            help="Dimensions to evaluate, comma-separated (e.g. truthfulness).",
        ),
        click.option(
            "--data-dir",
            "data_dir",
            type=click.Path(exists=True, path_type=Path),
            help="TrustLLM data: a folder in the layout <dimension>/<file>.json, or dataset.zip itself. "
            "Default: each task's packaged sample.",
        ),
        click.option("--limit", type=click.IntRange(min=1), help="At most N items per subtask, stratified by source."),
        click.option(
            "--run-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("trust-run"),
            show_default=True,
            help="Directory holding the run store (responses, verdicts, embeddings).",
        ),
        click.option(
            "--restart",
            is_flag=True,
            help="Start over with a new run store; the old one is set aside and deleted once the new run has begun.",
        ),
        click.option(
            "--max-new-tokens",
            "max_new_tokens",
            type=click.IntRange(min=1),
            default=256,
            show_default=True,
            help="Maximum tokens generated per response.",
        ),
        click.option(
            "--temperature",
            type=click.FloatRange(min=0.0),
            help="Override every task's sampling temperature (default: the TrustLLM temperature per task).",
        ),
        click.option(
            "--num-gpus",
            "num_gpus",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="GPUs to spread the model over (0 = CPU).",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=8,
            show_default=True,
            help="Prompts per generation batch.",
        ),
        click.option("--seed", type=int, default=42, show_default=True, help="Seed for sampling and shuffles."),
        click.option("--trust-remote-code", is_flag=True, help="Allow code from model repositories to run."),
        click.option(
            "-o",
            "--option",
            "component_options",
            multiple=True,
            metavar="[NAME.]KEY=VALUE",
            help="An option a backend, judge or embedder declares (repeatable, or comma-separated): NAME is the "
            "component's name (-o minilm.batch_size=16); a bare KEY is the backend's (-o n_ctx=4096). Checked "
            "before any work; `trust plugins` lists each component's options.",
        ),
        click.option(
            "--key",
            "keys",
            multiple=True,
            metavar="NAME=KEY",
            help="An API key, for the components that need the key NAME (repeatable; --NAME-api-key KEY is the same). "
            "`trust plugins` lists each component's key and the environment variable it is read from when not given "
            "here; a key read from the environment is sent only to the provider's own endpoint (see --api-key-env).",
        ),
        click.option(
            "--chat-template",
            metavar="NAME[:ARG]",
            help="Render prompts with this registered chat template (`trust plugins` lists them) instead of the "
            "tokenizer's; by default a registered template is used only when the tokenizer has none.",
        ),
        click.option(
            "--base-url",
            metavar="URL",
            help="API backends and embedders: the server's base URL (e.g. http://127.0.0.1:8000/v1 for an "
            "OpenAI-compatible server; default: the provider's base-URL environment variable, else its own endpoint). "
            "A key read from the environment is not sent to it: see --api-key-env.",
        ),
        click.option(
            "--api-key-env",
            metavar="NAME",
            help="Send the value of environment variable NAME as the API key to the --base-url endpoint "
            "(e.g. a provider's key variable, or a variable holding your server's key).",
        ),
        click.option(
            "--allow-insecure",
            is_flag=True,
            help="Allow sending an API key over plain http:// to a host other than this machine (refused otherwise).",
        ),
        click.option(
            "--max-concurrency",
            type=click.IntRange(min=1),
            default=4,
            show_default=True,
            help="API backends and judges: requests in flight at once.",
        ),
        click.option(
            "--request-timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=60.0,
            show_default=True,
            help="API backends and judges: seconds before one request times out (it is then retried).",
        ),
        click.option(
            "--max-retries",
            type=click.IntRange(min=0),
            default=5,
            show_default=True,
            help="API backends and judges: retries after a 429, 5xx, timeout or connection error "
            "(exponential backoff with jitter, honouring Retry-After).",
        ),
    ]
    if only is not None:
        options = [option for option in options if _option_name(option) in only]
    return _apply(func, options)


RUN_VARIANT_NOTE = "the variant is produced before generating, cached in RUN_DIR/variants and reused"
"""Where ``trust run/generate/evaluate`` keep a variant they produce (help text of ``--prune``/``--quantize``)."""

COMPRESS_VARIANT_NOTE = "the variant is written to --out"
"""Where ``trust compress`` writes its variant (help text of ``--prune``/``--quantize``)."""


def _compression_options(func: Callable[..., Any], variant_note: str = RUN_VARIANT_NOTE) -> Callable[..., Any]:
    options = [
        click.option(
            "--prune",
            metavar="METHOD",
            help=f"Prune the model with this pruner (`trust plugins` lists them); {variant_note}.",
        ),
        click.option(
            "--quantize",
            metavar="METHOD",
            help=f"Quantize the model with this quantizer (`trust plugins` lists them); {variant_note}. "
            "The ORNL workflow's --load_<method>_model flags mean --quantize <method>.",
        ),
        click.option(
            "--sparsity",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            help="Pruning: fraction of weights to zero (default 0.5).",
        ),
        click.option("--pattern", metavar="N:M", help="Pruning: N:M semi-structured pattern, e.g. 2:4 or 4:8."),
        click.option(
            "--quant-bits",
            "quant_bits",
            type=click.IntRange(1, 16),
            help="Quantization: bits per weight (default 4; the ORNL workflow's --<method>_bits).",
        ),
        click.option(
            "--quant-group-size",
            "quant_group_size",
            type=click.IntRange(1),
            help="Quantization: group size (default 64; the ORNL workflow's --<method>_groupsize).",
        ),
        click.option(
            "--recipe",
            "recipe",
            multiple=True,
            metavar="KEY=VALUE",
            help="A key of the method's own recipe, repeatable or comma-separated (e.g. --recipe quant_type=fp4); "
            "`trust plugins` lists each method's keys. Overrides the options above; an unknown key is an error "
            "naming the method and the key.",
        ),
        click.option(
            "--calibration-samples",
            type=click.IntRange(1),
            help="Calibration sequences for methods that use them (plugin default otherwise).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _compress_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The compression options of ``trust compress``, whose variant goes to ``--out``."""
    return _compression_options(func, COMPRESS_VARIANT_NOTE)


def _evaluate_options(func: Callable[..., Any], only: tuple[str, ...] | None = None) -> Callable[..., Any]:
    options = [
        click.option(
            "--judge",
            metavar="JUDGE",
            help="Judge: a registered judge name[:arg], or a model (alias, path, id) used as LLM judge "
            "(default: the default model).",
        ),
        click.option(
            "--refusal-judge",
            metavar="JUDGE",
            help="Decides refused/complied for RtA metrics: a registered judge (default: the pattern detector "
            "refusal-patterns) or a model used as LLM judge with a refusal prompt.",
        ),
        click.option(
            "--toxicity-scorer",
            metavar="JUDGE",
            help="Scores toxicity: a registered scorer (`trust plugins`; an API scorer needs its --key), or a model "
            "used as LLM rater. Without one, toxicity metrics are reported as skipped.",
        ),
        click.option(
            "--judge-family",
            "judge_family",
            metavar="FAMILY",
            help="The ORNL workflow's judge selection (--judge_family): a registered judge family; with "
            "--judge-model the same as --judge FAMILY:MODEL.",
        ),
        click.option("--judge-model", "judge_model", metavar="MODEL", help="The judge family's model (--judge_model)."),
        click.option(
            "--judge-base-url",
            metavar="URL",
            help="API judges (--judge NAME:MODEL): the server's base URL, for any OpenAI-compatible server "
            "(default: the provider's own endpoint, never --base-url).",
        ),
        click.option(
            "--judge-api-key-env",
            metavar="NAME",
            help="Send the value of environment variable NAME as the API key to the --judge-base-url endpoint.",
        ),
        click.option(
            "--embedder",
            metavar="EMBEDDER",
            help="Embedder name[:arg] (default: bge-m3 when it is in the local Hugging Face cache, else minilm). "
            "The ORNL workflow's --embed_choice 0 means the OpenAI embedder.",
        ),
        click.option(
            "--output",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Where to write results.json (default: RUN_DIR/results.json).",
        ),
        click.option(
            "--samples-output",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Where to write per-sample records as JSONL (default: RUN_DIR/samples.jsonl).",
        ),
    ]
    if only is not None:
        options = [option for option in options if _option_name(option) in only]
    return _apply(func, options)


def _request(params: dict[str, Any]) -> Any:
    """The compression request in ``params`` (removing its options), or None."""
    from trust_core.compression import compression_request, parse_recipe_items

    return compression_request(
        params.pop("prune", None),
        params.pop("quantize", None),
        sparsity=params.pop("sparsity", None),
        pattern=params.pop("pattern", None),
        bits=params.pop("quant_bits", None),
        group_size=params.pop("quant_group_size", None),
        calibration_samples=params.pop("calibration_samples", None),
        seed=params.get("seed", 42),
        extra=parse_recipe_items(params.pop("recipe", ()) or ()),
    )


def _api_keys(registry: Any, given: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The API keys of the run and, for those read from the environment, the variable each came from (such a key
    is sent only to the provider's own endpoint, see ``trust_api.endpoint_key`` in the trust-api library).

    ``given`` holds ``--key NAME=KEY`` items; a key no installed component needs is an error naming it. A key not
    given is read from the environment variable its components declare (``key_env_var``)."""
    declared: dict[str, str | None] = registry.api_keys()
    secrets: dict[str, str] = {}
    for item in given:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UserError("--key: expected NAME=KEY (or --NAME-api-key KEY)")
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none installed"
            raise UserError(f"--key {name}=...: no installed component takes a key named {name} (known: {known})")
        if value:
            secrets[name] = value
    from_environment: dict[str, str] = {}
    for name, variable in declared.items():
        if name not in secrets and variable and os.environ.get(variable):
            secrets[name] = os.environ[variable]
            from_environment[name] = variable
    return secrets, from_environment


def _run_backend(params: dict[str, Any], registry: Any) -> str | None:
    """The name of the backend the command runs (the component of ``-o KEY=VALUE``); None when it scores an
    imported generation folder."""
    if params.get("generations_dir") is not None:
        return None
    if params.get("backend"):
        return str(params["backend"])
    model = registry.resolve_model(params.get("model") or registry.default_model())
    return str(registry.backend_class(None, model).name)


def _build_options(params: dict[str, Any], registry: Any) -> Any:
    from trust_core.runner import RunOptions
    from trust_core.sharding import parse_shard

    compression = _request(params)
    component_options = parse_component_options(
        params.pop("component_options", ()) or (), registry, lambda: _run_backend(params, registry)
    )
    secrets, from_environment = _api_keys(registry, params.pop("keys", ()) or ())
    fold_judge_family(params)
    api = {name: params.pop(name, None) for name in API_OPTIONS}
    api["keys_from_environment"] = from_environment or None
    backend_options = BackendOptions(
        batch_size=params.pop("batch_size"),
        num_gpus=params.pop("num_gpus"),
        trust_remote_code=params.pop("trust_remote_code"),
        secrets={name: value for name, value in secrets.items() if value},
        extra={name: value for name, value in api.items() if value is not None},
        component_options=component_options,
    )
    params.pop("samples_output", None)
    shard = params.pop("shard", None)
    return RunOptions(
        backend_options=backend_options,
        compression=compression,
        shard=None if shard is None else parse_shard(shard),
        **params,
    )


def _shard_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--shard",
        metavar="I/N",
        help="Plan the whole run, then generate only shard I of N (1 <= I <= N) into this run directory: a "
        "deterministic split of the prompts, balanced by length, for Slurm arrays or several machines. Nothing is "
        "scored; `trust merge` the shards' run directories, then `trust evaluate` the merged one.",
    )(func)


# --------------------------------------------------------------------------- run / generate / evaluate


@cli.command()
@_run_options
@_compression_options
@_evaluate_options
@_shard_option
@click.pass_context
def run(ctx: click.Context, /, **params: Any) -> None:
    """Generate responses, then judge and score them (both stages).

    Every response is committed to the run store as soon as it exists; run the
    same command again after an interruption and only the missing items are
    generated. Writes results.json (schema-validated) and per-sample JSONL, and
    prints a summary table; each evaluation also keeps its own copy of both in
    RUN_DIR/evaluations/. Exit status 3 when no response succeeded.
    """
    from trust_core.session import execute

    samples_output = params.get("samples_output")
    execute(_registry(ctx), _build_options(params, _registry(ctx)), "run", samples_output)


@cli.command()
@_run_options
@_compression_options
@_shard_option
@click.pass_context
def generate(ctx: click.Context, /, **params: Any) -> None:
    """Generate responses only (the ORNL workflow's --do_generate); score later with `trust evaluate`.

    Exit status 3 when no response succeeded.
    """
    from trust_core.session import execute

    execute(_registry(ctx), _build_options(params, _registry(ctx)), "generate", None)


@cli.command()
@_run_options
@_compression_options
@_evaluate_options
@click.option(
    "--generations",
    "generations_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Score a TrustLLM-format generation folder (<dimension>/<file>.json, items with `res`) "
    "instead of the run store.",
)
@click.pass_context
def evaluate(ctx: click.Context, /, **params: Any) -> None:
    """Judge and score stored responses (the ORNL workflow's --do_evaluate), or an imported generation folder.

    With the same options as `trust generate`, finds exactly the responses that
    command stored. Verdicts and embeddings are cached in the run store. Each
    evaluation keeps its own copy of results.json and the per-sample records in
    RUN_DIR/evaluations/, so a second opinion from another judge loses nothing.
    Exit status 3 when no stored response succeeded.
    """
    from trust_core.session import execute

    samples_output = params.get("samples_output")
    execute(_registry(ctx), _build_options(params, _registry(ctx)), "evaluate", samples_output)


@cli.command()
@click.option(
    "--model",
    "model",
    metavar="MODEL",
    help="Base model: HF id, local folder, GGUF file or alias (default: the embedded model).",
)
@_compress_options
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the variant and its variant.json to (must not exist or be empty).",
)
@click.option(
    "--seed",
    type=int,
    default=42,
    show_default=True,
    help="Seed for calibration sampling (recorded in the recipe as `seed`).",
)
@click.option("--trust-remote-code", is_flag=True, help="Allow code from model repositories to run.")
@click.pass_context
def compress(ctx: click.Context, /, **params: Any) -> None:
    """Produce a pruned or quantized variant of a model, with a variant.json recording how.

    \b
    Example:
      trust compress --model smollm2 --prune PRUNER --pattern 2:4 --out variants/smollm2-2of4
      trust run --model variants/smollm2-2of4 --tasks truthfulness/hallucination --limit 3
      trust compress --model smollm2 --quantize QUANTIZER --quant-bits 4 --recipe KEY=VALUE --out variants/q4

    The installed pruners and quantizers are listed by `trust plugins`.
    """
    from trust_core.compression import compress as produce
    from trust_core.logs import command_log, library_output

    registry = _registry(ctx)
    request = _request(params)
    if request is None:
        raise click.UsageError("give --prune METHOD or --quantize METHOD")
    options = BackendOptions(trust_remote_code=params["trust_remote_code"])
    out: Path = params["out"]
    # what the compression libraries print goes to trust.log beside the variant folder (named on failure)
    with command_log(out.absolute().parent, "compress"), library_output():
        info = produce(registry, params["model"] or registry.default_model(), request, out, options)
    click.echo(json.dumps({key: info[key] for key in ("kind", "method", "recipe", "size_bytes", "seconds")}))
    click.echo(f"variant: {params['out']}")


JUDGE_CHECK_OPTIONS = (
    "tasks", "dimensions", "data_dir", "limit", "run_dir", "batch_size", "num_gpus", "seed", "trust_remote_code",
    "keys", "component_options", "base_url", "max_concurrency", "request_timeout", "max_retries", "judge_base_url",
    "api_key_env", "judge_api_key_env", "allow_insecure",
)  # fmt: skip


def _judge_check_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where to write the report (default: RUN_DIR/judge_check.json, the file later runs in RUN_DIR "
        "record in results.json).",
    )(func)
    func = _evaluate_options(func, only=JUDGE_CHECK_OPTIONS)
    return _run_options(func, only=JUDGE_CHECK_OPTIONS)


@cli.command("judge-check")
@click.option("--judge", required=True, metavar="JUDGE", help="The judge to check: a registered judge or a model.")
@_judge_check_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@click.pass_context
def judge_check(ctx: click.Context, /, judge: str, as_json: bool, **params: Any) -> None:
    """Measure a judge on labelled calibration items before trusting its verdicts.

    Runs JUDGE on items whose correct verdict is known — for each task's judge prompt (from the task
    plugins) and for the refusal prompt — and reports, per prompt and overall, agreement (share of
    correct verdicts), sensitivity (positive items labelled positive: CORRECTED, REFUSED, ...) and
    specificity (the other items labelled correctly), with n and the failed verdicts, which count as wrong.
    A refusal judge is also measured on the labelled sets plugins ship (the refusal plugin's real model
    responses): precision, recall and Cohen's kappa for REFUSED with 95 % bootstrap intervals, per part
    (dev, heldout, independent) and per task — only the selected tasks' items with --tasks / --dimensions, at
    most N per part and task with --limit N. Those sets ship without the TrustLLM prompts; --data-dir (the
    archive) rebuilds them for judges that read the prompt.
    The report goes to RUN_DIR/judge_check.json; later runs in RUN_DIR with the same judge record it in
    results.json (run.judge.calibration).

    \b
    Example:
      trust judge-check --judge smollm2
      trust judge-check --judge JUDGE:MODEL --tasks truthfulness
      trust judge-check --judge refusal-patterns
      trust judge-check --judge JUDGE --data-dir path/to/dataset.zip
    """
    from trust_core.results import summary_table
    from trust_core.session import judge_check as check

    output = params.pop("output", None)
    report = check(_registry(ctx), _build_options(params, _registry(ctx)), judge, output)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    click.echo(summary_table(report))
    if report["prompts_without_calibration"]:
        click.echo(f"no calibration items: {', '.join(report['prompts_without_calibration'])}")
    click.echo(f"report: {report['path']}")


# --------------------------------------------------------------------------- compare


@cli.command()
@click.argument("base", type=click.Path(exists=True, path_type=Path))
@click.argument("variants", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--fail-on-regression",
    "rules",
    multiple=True,
    metavar="TASKS:METRIC:TOL",
    help="Exit 1 when a variant is significantly worse than the base on a matching metric by more than TOL "
    "(task and metric are patterns, e.g. 'safety/*:rta:0.02'); repeatable. For release gating in CI.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON instead of tables.")
@click.pass_context
def compare(
    ctx: click.Context, /, base: Path, variants: tuple[Path, ...], rules: tuple[str, ...], as_json: bool
) -> None:
    """Compare a base run with its variants item by item, with paired statistics.

    BASE and each VARIANT are run directories (or their results.json, with samples.jsonl beside it); a study's
    run directory alone (`trust study run`) compares its base with each of its variants. For each
    metric both report, on the items both answered: each side's value, the delta (variant - base) with a 95 %
    paired bootstrap interval (resampling items), and for right/wrong or refused/complied outcomes the items
    that flipped each way and an exact McNemar test. Items only one side has are left out and counted.

    \b
    Example:
      trust compare runs/base runs/int4 runs/pruned-2of4
      trust compare runs/base runs/int4 --fail-on-regression 'safety/*:rta:0.02' --json

    Exit status: 0; 1 when --fail-on-regression catches a regression; 2 bad input.
    """
    from trust_core.comparison import (
        RegressionRule,
        compare_runs,
        comparison_table,
        load_side,
        regressions,
        unpaired_counts,
    )

    parsed_rules = [RegressionRule.parse(rule) for rule in rules]
    if not variants:
        from trust_core.studies import study_runs

        base, listed = study_runs(base, warn=lambda line: click.echo(line, err=True))
        variants = tuple(listed)
        if not variants:
            raise UserError(f"{base.parent.parent}: the study has no variant besides its base")
    registry = _registry(ctx)
    tasks = {cls.id: cls() for cls in registry.tasks()}
    base_side = load_side(base)
    comparisons = [compare_runs(base_side, load_side(variant), tasks) for variant in variants]
    for comparison in comparisons:
        base_only, variant_only = unpaired_counts(comparison)
        if base_only or variant_only:
            click.echo(
                f"warning: {comparison.variant}: the runs answered different items (up to {base_only} only in "
                f"{comparison.base}, {variant_only} only in {comparison.variant}); compared on the shared items",
                err=True,
            )
    caught = regressions(comparisons, parsed_rules)
    if as_json:
        report = {
            "comparisons": [comparison.as_dict() for comparison in comparisons],
            "regressions": [{"variant": variant, **metric.as_dict()} for variant, metric in caught],
        }
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo("\n\n".join(comparison_table(comparison) for comparison in comparisons))
        for variant, metric in caught:
            where = f"{metric.task} {metric.metric}" + (f" [{metric.subset}]" if metric.subset else "")
            click.echo(f"regression: {variant}: {where} {metric.delta:+.3f}", err=True)
    if caught:
        sys.exit(1)


@cli.command("export")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "form", type=click.Choice(["csv", "parquet", "jsonl"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The file to write.")
@click.pass_context
def export_command(ctx: click.Context, /, run_dirs: tuple[Path, ...], form: str, out: Path) -> None:
    """Write every metric of a study (its run directory) or of runs (the first is the base) as one long table.

    One row per variant and metric: variant, method, bits, sparsity, pattern, dimension, task, subset, metric,
    value, ci_low, ci_high, n, n_invalid, higher_is_better, and the paired delta to the base with its interval
    (`trust compare`). Parquet keeps the column types (int64, float64, bool, string; nulls where a value does
    not apply); CSV and JSON lines hold the same columns.
    """
    from trust_core.comparison import compare_runs, load_side
    from trust_core.export import rows, write_table
    from trust_core.studies import study_runs

    folders = list(run_dirs)
    if len(folders) == 1 and (folders[0] / "study.json").is_file():
        base, listed = study_runs(folders[0], warn=lambda line: click.echo(line, err=True))
        folders = [base, *listed]
    sides = [load_side(folder) for folder in folders]
    tasks = {cls.id: cls() for cls in _registry(ctx).tasks()}
    comparisons = {side.label: compare_runs(sides[0], side, tasks) for side in sides[1:]}
    table = rows(sides, comparisons)
    write_table(table, out, form)
    click.echo(f"{len(table)} rows ({len(sides)} runs) written to {out}")


@cli.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The HTML file to write.")
@click.option(
    "--figures",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write every chart as SVG and PNG into this folder (for a paper).",
)
@click.option("--title", help="The page's title (default: the study's name).")
@click.pass_context
def report_command(
    ctx: click.Context, /, run_dirs: tuple[Path, ...], out: Path, figures: Path | None, title: str | None
) -> None:
    """Write one self-contained HTML report of a study (its run directory) or of runs (the first is the base).

    It opens offline (no CDN, no network): per dimension, grouped bars of every metric per subset across
    variants with 95 % intervals; trust against efficiency (size, peak memory, tokens/s); a variants x metrics
    table colored by the paired delta to the base with significance marks; each variant's provenance; and the
    items that flipped, with the prompt and both responses.
    """
    from trust_core.comparison import compare_runs, load_side
    from trust_core.report import ReportInput, render_html, write_figures
    from trust_core.studies import read_index, study_runs

    folders, study = list(run_dirs), None
    if len(folders) == 1 and (folders[0] / "study.json").is_file():
        study = read_index(folders[0])
        base, listed = study_runs(folders[0], warn=lambda line: click.echo(line, err=True))
        folders = [base, *listed]
    sides = [load_side(folder) for folder in folders]
    tasks = {cls.id: cls() for cls in _registry(ctx).tasks()}
    comparisons = {side.label: compare_runs(sides[0], side, tasks) for side in sides[1:]}
    name = title or ((study or {}).get("study", {}).get("name")) or f"{sides[0].label} and its variants"
    data = ReportInput(f"trust report: {name}", sides, comparisons, study)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(data), encoding="utf-8")
    click.echo(f"report: {out}")
    if figures is not None:
        written = write_figures(data, figures)
        click.echo(f"{len(written)} figures (SVG and PNG) in {figures}")


# --------------------------------------------------------------------------- studies


@cli.command("merge")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--into",
    "into",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The new run directory to write the merged store to (must not hold a store).",
)
def merge_command(run_dirs: tuple[Path, ...], into: Path) -> None:
    """Merge the run stores of RUN_DIRS (the shards of a run, or runs of the same tasks) into a new one.

    Every response, verdict and embedding is copied; an entry found in several stores is kept once, and a key
    the stores answer differently (two texts for one response) stops the merge with nothing written. Shards of
    different runs (another seed, task version, model or split) and stores of different task versions are
    refused. Then score the whole with `trust evaluate` and the run's options, `--run-dir INTO`.

    \b
    Example (a Slurm array of 4):
      trust generate --tasks truthfulness --shard $SLURM_ARRAY_TASK_ID/4 --run-dir shards/$SLURM_ARRAY_TASK_ID
      trust merge shards/1 shards/2 shards/3 shards/4 --into merged
      trust evaluate --tasks truthfulness --run-dir merged
    """
    from trust_core.sharding import merge_stores

    report = merge_stores(list(run_dirs), into)
    for line in report.lines():
        click.echo(line, err=line.startswith("warning:"))


@cli.group()
def study() -> None:
    """Evaluate a base model and its variants on the same items (a study file), and follow its progress.

    \b
    A study file (TOML; schemas/study.schema.json, docs/user-guide.md "Studies"):
      [study]
      model = "smollm2"
      tasks = ["truthfulness/hallucination"]
      limit = 20
      [[variants]]
      name = "dense"
      [[variants]]
      name = "int4"
      quantize = "QUANTIZER"
      recipe = { bits = 4 }
      [[sweeps]]
      prune = ["PRUNER", "OTHER_PRUNER"]
      recipe = { sparsity = [0.3, 0.5] }
    The first variant (or one with base = true) is the base. `trust plugins` lists the methods;
    docs/examples/offline-study.toml is a complete study.
    """


@study.command("run")
@click.argument("study_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The study's folder: study.json (index, provenance, efficiency) and runs/NAME per variant.",
)
@click.option(
    "--executor",
    type=click.Choice(["serial", "ray"]),
    default="serial",
    show_default=True,
    help="serial: one variant after the other, here; ray: every variant a task of a Ray cluster "
    "(pip install 'trust-core[ray]').",
)
@click.option(
    "--address",
    metavar="HOST:PORT",
    help="The Ray cluster's head to connect to (default: start a local Ray instance for the study).",
)
@click.option(
    "--cpus-per-variant", type=float, default=1, show_default=True, help="CPUs Ray reserves for each variant."
)
@click.option(
    "--gpus-per-variant", type=float, default=0, show_default=True, help="GPUs Ray reserves for each variant."
)
@click.pass_context
def study_run(
    ctx: click.Context,
    /,
    study_file: Path,
    run_dir: Path,
    executor: str,
    address: str | None,
    cpus_per_variant: float,
    gpus_per_variant: float,
) -> None:
    """Evaluate the base, then every variant, each in a process of its own, into RUN_DIR/runs/NAME.

    Variants already finished are not run again: after an interruption, run the same command to resume.
    With --executor ray, every variant is a task of a Ray cluster (several at once, each with the CPUs and GPUs
    it asks for; a task whose worker dies is retried and resumes from its store); RUN_DIR must be on storage
    every node sees. Then: `trust study status RUN_DIR`, `trust compare RUN_DIR`.
    """
    from trust_core.studies import RayExecutor, check_study, load_study, run_study

    plan = load_study(study_file)
    check_study(_registry(ctx), plan)  # methods, recipes and tasks, before any model is loaded
    plugin_dirs = list(ctx.find_root().params.get("plugin_dirs") or ())  # $TRUST_PLUGIN_DIRS is inherited
    if address is not None and executor != "ray":
        raise click.UsageError("--address needs --executor ray")
    runner = RayExecutor(address, cpus_per_variant, gpus_per_variant) if executor == "ray" else None
    echo = lambda line: click.echo(line, err=True)  # noqa: E731
    index = run_study(plan, run_dir, plugin_dirs, echo=echo, executor=runner)
    failed = [entry["name"] for entry in index["variants"] if entry.get("status") == "failed"]
    click.echo(f"study: {run_dir / 'study.json'}; compare with: trust compare {run_dir}")
    if failed:
        raise UserError(f"variants that failed (see their messages above): {', '.join(failed)}")


@study.command("status")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def study_status_command(run_dir: Path, as_json: bool) -> None:
    """Each variant of the study in RUN_DIR: done, partial (with the responses stored so far) or not started."""
    from trust_core.studies import study_status

    rows = study_status(run_dir)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        click.echo(f"{row['name'].ljust(width)}  {row['status']}  ({row['responses']} responses stored)")


# --------------------------------------------------------------------------- listings


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """Every loaded plugin, its version and the components it registers, by kind."""
    from trust_core.registry import ALLOW_LIST_ENV, entry_points_disabled

    registry = _registry(ctx)
    listing = [
        {
            "name": info.name,
            "version": info.version,
            "source": info.source,
            "components": info.components,
            "options": _component_options(registry, info.components),
        }
        for info in sorted(registry.plugins.values(), key=lambda info: info.name)
    ]
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        if not listing:
            click.echo(_no_plugins_line(), err=True)
        return
    for entry in listing:
        click.echo(f"{entry['name']} {entry['version']}")
        for kind, names in sorted(entry["components"].items()):
            click.echo(f"  {kind}: {', '.join(sorted(names))}")
        for component, declared in entry["options"].items():
            click.echo(f"    {component}: {_describe_options(declared)}")
    if not listing:
        click.echo(_no_plugins_line())
    elif entry_points_disabled():
        click.echo(f"(no installed plugin is loaded: {ALLOW_LIST_ENV} is set and empty)")


def _component_options(registry: Any, components: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """``kind/name`` -> what the component declares: ``recipe`` (a quantizer's or pruner's recipe keys and what
    each means), ``key`` / ``key_env_var`` (the API key it sends and the variable it is read from) and ``options``
    (the ``-o`` options of a backend, judge or embedder: help, type, default, choices)."""
    options: dict[str, dict[str, Any]] = {}
    for kind, names in sorted(components.items()):
        for name in sorted(names):
            component = registry.components.get(kind, {}).get(name)
            declared: dict[str, Any] = {}
            if getattr(component, "recipe_options", None):
                declared["recipe"] = dict(component.recipe_options)
            if getattr(component, "needs_key", None):
                declared |= {"key": component.needs_key, "key_env_var": component.key_env_var}
            if getattr(component, "declared_options", None):
                declared["options"] = describe_declared(component.declared_options)
            if declared:
                options[f"{kind}/{name}"] = declared
    return options


def _describe_options(declared: dict[str, Any]) -> str:
    """One line of ``trust plugins`` for a component's declared options."""
    parts = []
    if "recipe" in declared:
        parts.append(f"--recipe keys: {', '.join(declared['recipe'])}")
    if "key" in declared:
        variable = f" (or {declared['key_env_var']})" if declared.get("key_env_var") else ""
        parts.append(f"needs --key {declared['key']}=KEY{variable}")
    if "options" in declared:
        listed = [f"{key} ({spec['type']})" for key, spec in declared["options"].items()]
        parts.append(f"-o options: {', '.join(listed)}")
    return "; ".join(parts)


def _no_plugins_line() -> str:
    """Why ``trust plugins`` lists nothing."""
    from trust_core.registry import ALLOW_LIST_ENV, entry_points_disabled

    if entry_points_disabled():
        return (
            f"no plugins are loaded: {ALLOW_LIST_ENV} is set and empty, which loads none of the installed plugins "
            f"(unset it to load them all, or name some: {ALLOW_LIST_ENV}=hf,smollm2)"
        )
    return "no plugins are loaded: none is installed in the entry-point group 'trust' and no --plugin-dir was given"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--data-dir",
    "data_dir",
    type=click.Path(exists=True, path_type=Path),
    help="Count items in this TrustLLM folder or dataset.zip instead of the packaged samples (a task whose "
    "file it lacks is listed as missing).",
)
@click.pass_context
def tasks(ctx: click.Context, as_json: bool, data_dir: Path | None) -> None:
    """Every task: id, dimension, item count of its data, temperature, the evaluators it needs.

    A task whose data cannot be read (no packaged sample, not in --data-dir, an invalid item) is listed
    as "missing" or "invalid", with the reason under the table.
    """
    from trust_core.data import DataSource

    registry = _registry(ctx)
    source = DataSource(data_dir)
    listing = [_task_entry(registry, cls(), source) for cls in registry.tasks()]
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        return
    width = max((len(entry["id"]) for entry in listing), default=4)
    click.echo(f"{'task'.ljust(width)}    items  T    needs")
    for entry in listing:
        needs = ", ".join(entry["needs"]) or "-"
        items = entry["items"] if entry["data_error"] is None else entry["data_status"]
        click.echo(f"{entry['id'].ljust(width)}  {items:>7}  {entry['temperature']:<3}  {needs}")
    unreadable = [entry for entry in listing if entry["data_error"] is not None]
    if unreadable:
        where = f"--data-dir {data_dir}" if data_dir else "the packaged samples"
        click.echo(f"\nno usable data in {where} for {len(unreadable)} of {len(listing)} tasks:")
        for entry in unreadable:
            click.echo(f"  {entry['id']}: {entry['data_error']}")


def _task_entry(registry: Any, task: Any, source: Any) -> dict[str, Any]:
    """One task's row of ``trust tasks``: its data is counted, or, when it cannot be read, ``items`` is null,
    ``data_status`` says "missing" (not found) or "invalid" and ``data_error`` why."""
    from trust_core.data import load_task_data
    from trust_core.errors import DataError

    items: int | None = None
    status, error = "ok", None
    try:
        items = load_task_data(task, source, None).total_items
    except DataError as exc:
        status, error = "invalid", str(exc)
    except UserError as exc:
        status, error = "missing", str(exc).removeprefix(f"task {task.id}: ")
    return {
        "id": task.id,
        "dimension": task.dimension,
        "aliases": list(task.aliases),
        "items": items,
        "data": source.label,
        "data_status": status,
        "data_error": error,
        "temperature": task.temperature,
        "needs": sorted(task.needs),
        "plugin": registry.owner[("task", task.id)],
        "description": task.description,
    }


# --------------------------------------------------------------------------- entry point


PLUGIN_DIR_OPTION = "--plugin-dir"


def _plugin_dirs_from(argv: Sequence[str]) -> list[Path]:
    """The plugin folders of ``$TRUST_PLUGIN_DIRS`` and every ``--plugin-dir`` in ``argv`` (up to ``--``): plugins
    are loaded before click parses, since they may add commands."""
    dirs = [Path(p) for p in os.environ.get(PLUGIN_DIRS_ENV, "").split(":") if p]
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == PLUGIN_DIR_OPTION and i + 1 < len(argv):
            dirs.append(Path(argv[i + 1]))
        elif arg.startswith(PLUGIN_DIR_OPTION + "="):
            dirs.append(Path(arg.split("=", 1)[1]))
    return dirs


def hoist_plugin_dirs(args: list[str]) -> list[str]:
    """Move every ``--plugin-dir DIR`` (or ``--plugin-dir=DIR``) to the front, where the root command takes it,
    so that it may follow the command too (``trust run --plugin-dir P ...``, also for commands plugins add).
    Arguments after ``--`` are never touched."""
    hoisted: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        if arg == PLUGIN_DIR_OPTION:
            hoisted += args[index : index + 2]
            index += 2
            continue
        (hoisted if arg.startswith(PLUGIN_DIR_OPTION + "=") else rest).append(arg)
        index += 1
    return hoisted + rest


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: load plugins, let them add commands, run the CLI."""
    from trust_core.registry import Registry

    try:
        args = hoist_plugin_dirs(translate_flags(list(sys.argv[1:] if argv is None else argv)))
        registry = Registry(_plugin_dirs_from(args))
        registry.pm.hook.register_commands(cli=cli)
        cli.main(args=args, prog_name="trust", obj={"registry": registry}, standalone_mode=False)
    except UserError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
