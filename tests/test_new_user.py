"""What a new user meets (issue 14): documented options that work, help text that agrees with the docs, and a
private single-file task plugin written from docs/plugins.md alone, run through the CLI."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib
import inspect
import json
import re
import shutil
from pathlib import Path
from typing import Any

import click
import pytest

from conftest import PLUGIN_DIR, REPO
from trust_core.cli import cli, hoist_plugin_dirs
from trust_core.results import validate_results

NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}
PLUGINS_GUIDE = REPO / "docs" / "plugins.md"
DOC_FILE = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", re.DOTALL)
DOC_SIGNATURES = re.compile(r"<!-- signatures: ([\w.]+) -->\n```python\n(.*?)```", re.DOTALL)


def _flat(text: str) -> str:
    """``text`` with backticks dropped and whitespace runs made single spaces (help and Markdown wrap)."""
    return " ".join(text.replace("`", "").split())


def _option(command: str, name: str) -> click.Option:
    found = [param for param in cli.commands[command].params if param.name == name]
    assert len(found) == 1, (command, name)
    assert isinstance(found[0], click.Option)
    return found[0]


# --------------------------------------------------------------------------- item 6: --load_custom_model


def test_load_custom_model_means_model(scripted, tmp_path: Path):
    args = ("--load_custom_model", "scripted:echo", "--tasks", "private/echo", "--run-dir", str(tmp_path / "r"))
    result = scripted("run", *args, env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    run = json.loads((tmp_path / "r" / "results.json").read_text())["run"]
    assert run["model"]["spec"] == "scripted:echo"
    out = tmp_path / "variant"
    compressed = scripted(
        "compress", "--load_custom_model", "scripted:echo", "--prune", "copy", "--out", str(out), env=NO_ENTRY_POINTS
    )
    assert compressed.code == 0, compressed.stderr
    assert json.loads((out / "variant.json").read_text())["base_model"]["spec"] == "scripted:echo"


# --------------------------------------------------------------------------- item 5: an empty allow-list


def test_plugins_says_why_none_is_loaded(trust):
    table = trust("plugins", env=NO_ENTRY_POINTS)
    assert table.code == 0
    assert "no plugins are loaded" in table.stdout and "TRUST_LOAD_PLUGINS is set and empty" in table.stdout
    listing = trust("plugins", "--json", env=NO_ENTRY_POINTS)
    assert listing.code == 0 and listing.json() == []
    assert "TRUST_LOAD_PLUGINS is set and empty" in listing.stderr


# --------------------------------------------------------------------------- item 9: help text


def test_judge_check_output_help_names_its_report(trust):
    help_text = _flat(_option("judge-check", "output").help or "")
    assert "judge_check.json" in help_text and "results.json (default" not in help_text
    shown = trust("judge-check", "--help")
    assert shown.code == 0 and "RUN_DIR/judge_check.json" in _flat(shown.stdout)


def test_compress_help_names_out_not_the_run_directory(trust):
    for name in ("prune", "quantize"):
        assert "--out" in (_option("compress", name).help or "")
        assert "RUN_DIR" not in (_option("compress", name).help or "")
        assert "RUN_DIR/variants" in (_option("run", name).help or "")
    shown = trust("compress", "--help")
    assert shown.code == 0 and "RUN_DIR" not in shown.stdout


def test_compression_defaults_in_the_guide_are_the_options_defaults():
    guide = _flat((REPO / "docs" / "compression.md").read_text())
    for command in ("compress", "run"):
        seed = _option(command, "seed").default
        assert f"--seed (default {seed}" in guide or f"--seed, default {seed}" in guide, command
    assert f"| seed | {_option('compress', 'seed').default} (--seed) |" in guide
    for flag, name in (
        ("--sparsity", "sparsity"),
        ("--quant-bits", "quant_bits"),
        ("--quant-group-size", "quant_group_size"),
    ):
        documented = re.search(r"\(default ([\d.]+)", _option("compress", name).help or "")
        assert documented, f"{flag}: no default in its help"
        assert f"{flag} (default {documented[1]}" in guide or f"{flag} N:M" in guide, flag


def test_embedder_default_is_described_alike_in_help_and_docs():
    described = re.search(r"\(default: (.*)\)", _option("run", "embedder").help or "")
    assert described, "--embedder help gives no default"
    phrase = _flat(described[1])
    for doc in ("README.md", "docs/user-guide.md"):
        assert phrase in _flat((REPO / doc).read_text()), f"{doc} does not say: {phrase}"


# --------------------------------------------------------------------------- item 10: --plugin-dir anywhere


def test_plugin_dir_options_move_before_the_command():
    args = ["run", "--tasks", "x", "--plugin-dir", "P", "--plugin-dir=Q", "--", "--plugin-dir", "R"]
    assert hoist_plugin_dirs(args) == [
        "--plugin-dir",
        "P",
        "--plugin-dir=Q",
        "run",
        "--tasks",
        "x",
        "--",
        "--plugin-dir",
        "R",
    ]


@pytest.mark.parametrize("command", ["run", "generate", "evaluate", "compress", "judge-check", "tasks", "plugins"])
def test_plugin_dir_is_accepted_after_every_command(trust, command: str):
    result = trust(command, f"--plugin-dir={PLUGIN_DIR}", "--help", env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    added = trust("scripted-hello", "--plugin-dir", str(PLUGIN_DIR), env=NO_ENTRY_POINTS)
    assert added.code == 0 and added.stdout.strip() == "hello from the scripted plugin"


def test_judge_check_takes_plugin_dir_after_the_command_and_writes_output(trust, tmp_path: Path):
    report = tmp_path / "report.json"
    args = ("--judge", "sorry-detector", "--run-dir", str(tmp_path / "r"), "--output", str(report))
    result = trust("judge-check", "--plugin-dir", str(PLUGIN_DIR), *args, env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    assert json.loads(report.read_text())["judges"]["refusal"]["prompts"] == ["refusal"]
    assert not (tmp_path / "r" / "judge_check.json").exists()


# --------------------------------------------------------------------------- item 10: a private task from the docs


@pytest.fixture
def private_plugin(tmp_path: Path) -> Path:
    """The single-file task plugin of docs/plugins.md, with its sample, written to a plugin folder."""
    folder = tmp_path / "my-plugins"
    files = DOC_FILE.findall(PLUGINS_GUIDE.read_text())
    assert {name for name, _ in files} == {"acme_capitals.py", "data/acme/capitals.sample.json"}
    for name, text in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def _generations(tmp_path: Path, plugin: Path, answers: list[str | None]) -> Path:
    """A TrustLLM-format generation folder: the plugin's sample items with ``res`` set to ``answers``."""
    items = json.loads((plugin / "data" / "acme" / "capitals.sample.json").read_text())
    for item, answer in zip(items, answers, strict=True):
        item["res"] = answer
    folder = tmp_path / "generations"
    (folder / "acme").mkdir(parents=True)
    (folder / "acme" / "capitals.json").write_text(json.dumps(items))
    return folder


def test_the_documented_private_task_is_listed_and_versioned_by_its_code(trust, private_plugin: Path):
    listing = trust("tasks", "--plugin-dir", str(private_plugin), "--json", env=NO_ENTRY_POINTS)
    assert listing.code == 0, listing.stderr
    (entry,) = listing.json()
    assert (entry["id"], entry["items"], entry["data_status"], entry["plugin"]) == (
        "acme/capitals",
        3,
        "ok",
        "acme_capitals",
    )
    plugins = trust("--plugin-dir", str(private_plugin), "plugins", "--json", env=NO_ENTRY_POINTS)
    digest = hashlib.sha256((private_plugin / "acme_capitals.py").read_bytes()).hexdigest()
    assert plugins.json()[0]["version"] == f"file:sha256:{digest[:12]}"


def test_the_documented_private_task_scores_imported_answers(trust, private_plugin: Path, tmp_path: Path):
    generations = _generations(tmp_path, private_plugin, ["Paris.", "Milan", None])
    run_dir = tmp_path / "r"
    args = ("--generations", str(generations), "--run-dir", str(run_dir))
    result = trust("evaluate", "--plugin-dir", str(private_plugin), *args, env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    results = json.loads((run_dir / "results.json").read_text())
    validate_results(results)
    digest = hashlib.sha256((private_plugin / "acme_capitals.py").read_bytes()).hexdigest()[:12]
    assert results["run"]["plugins"] == {"acme_capitals": f"file:sha256:{digest}"}
    metrics = {m["subset"]: (m["value"], m["n"], m["n_invalid"], m["invalid_reasons"]) for m in results["metrics"]}
    assert metrics == {
        "europe": (0.5, 2, 0, {}),
        "asia": (0.0, 1, 1, {"generation_failed": 1}),
        None: (1 / 3, 3, 1, {"generation_failed": 1}),
    }
    records = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert [(r["sample_id"], r["correct"], r.get("invalid_reason")) for r in records] == [
        ("0", True, None), ("1", False, None), ("2", False, "generation_failed"),
    ]  # fmt: skip
    assert records[0]["messages"][0]["content"].startswith("What is the capital of France?")
    assert [r["outcomes"]["accuracy"] for r in records] == [
        {"value": True, "invalid_reason": None},
        {"value": False, "invalid_reason": None},
        {"value": False, "invalid_reason": "generation_failed"},
    ]
    aggregate = {"outcome": "accuracy", "statistic": "mean", "pairing": "binary"}
    assert all(m["aggregate"] == aggregate for m in results["metrics"])


def test_the_documented_private_task_runs_on_the_scripted_backend(trust, private_plugin: Path, tmp_path: Path):
    args = ("--model", "scripted:echo", "--tasks", "acme/capitals", "--run-dir", str(tmp_path / "r"))
    result = trust("run", "--plugin-dir", str(private_plugin), "--plugin-dir", str(PLUGIN_DIR), *args,
                   env=NO_ENTRY_POINTS)  # fmt: skip
    assert result.code == 0, result.stderr
    records = (tmp_path / "r" / "samples.jsonl").read_text().splitlines()
    assert len(records) == 3 and all(json.loads(line)["task"] == "acme/capitals" for line in records)


def test_a_task_whose_data_is_only_in_a_private_folder_is_listed(trust, private_plugin: Path, tmp_path: Path):
    data = tmp_path / "private-data"
    (data / "acme").mkdir(parents=True)
    shutil.move(private_plugin / "data" / "acme" / "capitals.sample.json", data / "acme" / "capitals.json")
    listing = trust("tasks", "--plugin-dir", str(private_plugin), "--data-dir", str(data), "--json")
    assert listing.code == 0, listing.stderr
    by_id = {entry["id"]: entry for entry in listing.json()}
    assert by_id["acme/capitals"]["items"] == 3
    others = [entry for task_id, entry in by_id.items() if task_id != "acme/capitals"]
    assert len(others) >= 26 and all(entry["data_status"] == "missing" for entry in others)
    assert all("not found" in entry["data_error"] and entry["items"] is None for entry in others)


def test_a_task_without_its_sample_is_listed_as_missing_and_the_others_still_count(trust, private_plugin: Path):
    (private_plugin / "data" / "acme" / "capitals.sample.json").unlink()
    listing = trust("tasks", "--plugin-dir", str(private_plugin), "--plugin-dir", str(PLUGIN_DIR), env=NO_ENTRY_POINTS)
    assert listing.code == 0, listing.stderr
    rows = {line.split()[0]: line.split()[1] for line in listing.stdout.splitlines()[1:] if line.strip()}
    assert rows["acme/capitals"] == "missing" and rows["private/echo"] == "8"
    assert "acme/capitals: no packaged sample at" in listing.stdout and "Traceback" not in listing.stderr
    run = trust("run", "--plugin-dir", str(private_plugin), "--tasks", "acme/capitals", "--model", "m",
                env=NO_ENTRY_POINTS)  # fmt: skip
    assert run.code == 2 and "task acme/capitals: no packaged sample at" in run.stderr
    assert "Traceback" not in run.stderr


def test_an_unimportable_sample_package_is_named(trust, private_plugin: Path):
    source = private_plugin / "acme_capitals.py"
    source.write_text(
        source.read_text().replace(
            "    temperature = 0.0\n", '    temperature = 0.0\n    sample_package = "acme_nope"\n'
        )
    )
    listing = trust("tasks", "--plugin-dir", str(private_plugin), "--json", env=NO_ENTRY_POINTS)
    assert listing.code == 0, listing.stderr
    (entry,) = listing.json()
    assert entry["data_status"] == "missing" and "sample_package 'acme_nope' cannot be imported" in entry["data_error"]


@pytest.mark.parametrize(
    ("remove", "named"),
    [('    data_file = "acme/capitals.json"', "data_file"), ("    def score(", "score")],
)
def test_a_task_missing_a_required_part_is_named_at_load(trust, private_plugin: Path, remove: str, named: str):
    source = private_plugin / "acme_capitals.py"
    text = source.read_text()
    assert remove in text
    source.write_text(text.replace(remove, "    def _unused(" if remove.endswith("(") else "    pass  # removed"))
    result = trust("tasks", "--plugin-dir", str(private_plugin), env=NO_ENTRY_POINTS)
    assert result.code == 2
    assert "plugin 'acme_capitals'" in result.stderr and "acme/capitals" in result.stderr and named in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- item 10: documented signatures


def _documented_blocks() -> list[tuple[str, ast.Module]]:
    blocks = DOC_SIGNATURES.findall(PLUGINS_GUIDE.read_text())
    assert {module for module, _ in blocks} == {
        "trust_core.contracts",
        "trust_core.metrics",
        "trust_core.task_scoring",
        "trust_core.outcomes",
    }
    return [(module, ast.parse(code)) for module, code in blocks]


def _default_matches(node: ast.expr, actual: Any) -> bool:
    if isinstance(node, ast.Name):
        return getattr(actual, "__name__", None) == node.id
    return ast.literal_eval(node) == actual


def _check_function(function: ast.FunctionDef, actual: Any) -> None:
    signature = inspect.signature(actual)
    arguments = function.args
    positional = arguments.posonlyargs + arguments.args
    with_defaults = positional[len(positional) - len(arguments.defaults) :]
    defaults = {a.arg: d for a, d in zip(with_defaults, arguments.defaults, strict=True)}
    defaults |= {a.arg: d for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d is not None}
    documented = [(a, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in positional]
    if arguments.vararg:
        documented.append((arguments.vararg, inspect.Parameter.VAR_POSITIONAL))
    documented += [(a, inspect.Parameter.KEYWORD_ONLY) for a in arguments.kwonlyargs]
    if arguments.kwarg:
        documented.append((arguments.kwarg, inspect.Parameter.VAR_KEYWORD))
    where = f"{actual.__module__}.{function.name}"
    assert [a.arg for a, _ in documented] == list(signature.parameters), where
    for argument, kind in documented:
        parameter = signature.parameters[argument.arg]
        assert parameter.kind == kind, (where, argument.arg)
        assert argument.annotation is not None and ast.unparse(argument.annotation) == parameter.annotation, (
            where, argument.arg, parameter.annotation,
        )  # fmt: skip
        if argument.arg in defaults:
            assert _default_matches(defaults[argument.arg], parameter.default), (where, argument.arg)
        else:
            assert parameter.default is inspect.Parameter.empty, (where, argument.arg, "has a default")
    assert function.returns is not None and ast.unparse(function.returns) == signature.return_annotation, where


def _check_dataclass(cls_node: ast.ClassDef, actual: type) -> None:
    fields = dataclasses.fields(actual)
    documented = [node for node in cls_node.body if isinstance(node, ast.AnnAssign)]
    where = f"{actual.__module__}.{cls_node.name}"
    assert [node.target.id for node in documented] == [f.name for f in fields], where  # type: ignore[attr-defined]
    for node, real in zip(documented, fields, strict=True):
        assert ast.unparse(node.annotation) == real.type, (where, real.name, real.type)
        if real.default is not dataclasses.MISSING:
            assert node.value is not None and ast.literal_eval(node.value) == real.default, (where, real.name)
        elif real.default_factory is not dataclasses.MISSING:
            assert node.value is not None and "default_factory=" + real.default_factory.__name__ in ast.unparse(
                node.value
            )
        else:
            assert node.value is None, (where, real.name, "has no default")
    frozen = any("frozen=True" in ast.unparse(decorator) for decorator in cls_node.decorator_list)
    assert frozen == actual.__dataclass_params__.frozen, where  # type: ignore[attr-defined]


def test_documented_signatures_match_the_code():
    checked = 0
    for module_name, tree in _documented_blocks():
        module = importlib.import_module(module_name)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                _check_function(node, getattr(module, node.name))
                checked += 1
            elif isinstance(node, ast.ClassDef):
                _check_dataclass(node, getattr(module, node.name))
                checked += 1
    assert checked >= 20


def test_documented_record_keys_are_what_the_helpers_read():
    from trust_core.contracts import Generation, Prompt, Sample
    from trust_core.task_scoring import accuracy_metric, base_record, mark_invalid
    from trust_core.testing import assert_exportable

    guide = PLUGINS_GUIDE.read_text()
    sample = Sample("0", {"prompt": "p"}, "s")
    record = mark_invalid(
        base_record(Generation(sample, Prompt("0", (), 0.0, variant="v"), None, "down")), "generation_failed"
    )
    for key in record:
        if key != "generation_error":
            assert f"| `{key}` |" in guide, f"record key {key} is not documented"
    assert "`generation_error`" in guide
    from trust_core.contracts import TaskScore

    assert_exportable(TaskScore([accuracy_metric("t/x", [record], "s")], [record]))
