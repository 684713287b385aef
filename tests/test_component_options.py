"""Options backends, judges and embedders declare (issue #10, item 2): ``-o [NAME.]KEY=VALUE`` is typed and checked
against the component before any work, reaches the component, and ``trust plugins --json`` shows each
component's options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest

from conftest import PLUGIN_DIR
from trust_core.component_options import parse_component_options
from trust_core.contracts import BackendOptions, Option, option_value
from trust_core.errors import UserError
from trust_core.registry import Registry
from trust_core.testing import run_cli

NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}
ECHO = ("--plugin-dir", str(PLUGIN_DIR), "run", "--model", "scripted:echo", "--tasks", "private/echo")


@pytest.mark.parametrize(
    ("option", "raw", "value"),
    [
        (Option("n", "int", minimum=1), " 12 ", 12),
        (Option("x", "float"), "0.5", 0.5),
        (Option("b", "bool"), "Yes", True),
        (Option("b", "bool"), "off", False),
        (Option("s"), "main", "main"),
        (Option("c", choices=("fp16", "bf16")), "bf16", "bf16"),
    ],
)
def test_values_are_typed(option: Option, raw: str, value: object) -> None:
    assert option.parse(raw) == value


@pytest.mark.parametrize(
    ("option", "raw", "said"),
    [
        (Option("n", "int"), "4k", "expected a whole number"),
        (Option("n", "int", minimum=16), "8", "expected at least 16"),
        (Option("x", "float"), "half", "expected a number"),
        (Option("b", "bool"), "maybe", "expected true or false"),
        (Option("c", choices=("fp16", "bf16")), "fp8", "expected one of fp16, bf16"),
    ],
)
def test_a_value_the_option_refuses_says_what_it_expected(option: Option, raw: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        option.parse(raw)


def test_an_option_type_outside_the_four_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not one of"):
        Option("x", "list")


def test_a_component_reads_the_users_value_else_the_declared_default() -> None:
    class Component:
        name = "thing"
        declared_options: ClassVar[dict[str, Option]] = {"size": Option("size", "int", default=3)}

    assert option_value(Component, BackendOptions(), "size") == 3
    assert option_value(Component(), BackendOptions(component_options={"thing": {"size": 9}}), "size") == 9
    assert option_value(Component, BackendOptions(component_options={"other": {"size": 9}}), "size") == 3


@pytest.fixture(scope="module")
def registry() -> Registry:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRUST_LOAD_PLUGINS", "")
        return Registry([PLUGIN_DIR])


def test_a_bare_key_is_the_backends_and_a_named_key_the_named_components(registry: Registry) -> None:
    given = ["suffix=!", "keyword.strict=yes,scripted.suffix=?"]
    assert parse_component_options(given, registry, lambda: "scripted") == {
        "scripted": {"suffix": "?"},
        "keyword": {"strict": True},
    }


def test_the_backend_is_only_resolved_for_a_bare_key(registry: Registry) -> None:
    def no_backend() -> str:
        raise AssertionError("resolved without a bare key")

    assert parse_component_options(["keyword.strict=0"], registry, no_backend) == {"keyword": {"strict": False}}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("suffix", "-o suffix: expected KEY=VALUE or NAME.KEY=VALUE"),
        ("=1", "-o =1: expected KEY=VALUE"),
        ("nosuch.size=1", "-o nosuch.size=1: no installed backend, judge or embedder is named nosuch"),
        ("scripted.size=1", "-o scripted.size=1: backend scripted has no option size (its options: suffix)"),
        ("hashing.size=1", "-o hashing.size=1: embedder hashing has no option size (its options: none)"),
        ("keyword.strict=perhaps", "-o keyword.strict=perhaps: judge keyword option strict: expected true or false"),
    ],
)
def test_a_bad_item_is_one_message_naming_the_component_and_the_key(
    registry: Registry, item: str, message: str
) -> None:
    with pytest.raises(UserError) as raised:
        parse_component_options([item], registry, lambda: "scripted")
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_bare_key_with_no_backend_asks_for_the_components_name(registry: Registry) -> None:
    with pytest.raises(UserError, match=r"runs no backend; name the component \(-o NAME.strict=..."):
        parse_component_options(["strict=1"], registry, lambda: None)


def test_backend_and_judge_options_reach_their_components_end_to_end(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = run_cli(*ECHO, "-o", "suffix=_scripted", "--run-dir", str(run_dir), env=NO_ENTRY_POINTS)
    assert done.code == 0, done.stderr
    responses = [json.loads(line)["response"] for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert responses and all(response.endswith("_scripted") for response in responses)

    plain = run_cli(*ECHO, "--run-dir", str(tmp_path / "plain"), env=NO_ENTRY_POINTS)
    assert plain.code == 0, plain.stderr
    plain_responses = [json.loads(line)["response"] for line in (tmp_path / "plain" / "samples.jsonl").open()]
    assert not any(response.endswith("_scripted") for response in plain_responses)


def test_a_bad_option_stops_the_command_before_any_work(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    for item, said in (
        ("scripted.sufix=!", "backend scripted has no option sufix (its options: suffix)"),
        ("keyword.strict=perhaps", "judge keyword option strict: expected true or false"),
    ):
        done = run_cli(*ECHO, "-o", item, "--run-dir", str(run_dir), env=NO_ENTRY_POINTS)
        assert done.code == 2 and "Traceback" not in done.stderr, done.stderr
        assert said in done.stderr
        assert not run_dir.exists()


def test_a_study_passes_its_options_to_every_variant_and_checks_them_first(tmp_path: Path) -> None:
    study = tmp_path / "study.toml"
    text = (
        '[study]\nmodel = "scripted:echo"\ntasks = ["private/echo"]\noptions = ["suffix=!"]\n'
        '[[variants]]\nname = "dense"\n'
    )
    study.write_text(text)
    done = run_cli("--plugin-dir", str(PLUGIN_DIR), "study", "run", str(study), "--run-dir", str(tmp_path / "s"),
                   env=NO_ENTRY_POINTS)  # fmt: skip
    assert done.code == 0, done.stderr
    samples = (tmp_path / "s" / "runs" / "dense" / "samples.jsonl").read_text().splitlines()
    assert all(json.loads(line)["response"].endswith("!") for line in samples)

    study.write_text(text.replace("suffix=!", "sufix=!"))
    refused = run_cli("--plugin-dir", str(PLUGIN_DIR), "study", "run", str(study), "--run-dir", str(tmp_path / "t"),
                      env=NO_ENTRY_POINTS)  # fmt: skip
    assert refused.code == 2, refused.stderr
    assert f"{study}: study.options: -o sufix=!: backend scripted has no option sufix" in refused.stderr
    assert not (tmp_path / "t").exists()


def test_plugins_json_shows_each_components_options() -> None:
    listing = run_cli("--plugin-dir", str(PLUGIN_DIR), "plugins", "--json", env=NO_ENTRY_POINTS).json()
    options = {entry["name"]: entry["options"] for entry in listing}["scripted"]
    assert options["backend/scripted"]["options"] == {
        "suffix": {"help": "text appended to every answer (part of the fingerprint)", "type": "str"}
    }
    assert options["judge/keyword"]["options"]["strict"] == {
        "help": "judge only an answer that is exactly a label",
        "type": "bool",
        "default": False,
    }
    text = run_cli("--plugin-dir", str(PLUGIN_DIR), "plugins", env=NO_ENTRY_POINTS).stdout
    assert "backend/scripted: -o options: suffix (str)" in text
