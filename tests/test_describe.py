"""``describe()`` on every contract (issue #10, item 3): each kind of component says what it is, without secrets,
and results record what the judges say of themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR
from trust_core import contracts
from trust_core.contracts import BackendOptions
from trust_core.registry import ComponentContext, Registry
from trust_core.testing import run_cli

CONTRACTS = (
    contracts.Backend,
    contracts.ChatTemplate,
    contracts.Quantizer,
    contracts.Pruner,
    contracts.CalibrationSet,
    contracts.Judge,
    contracts.Embedder,
    contracts.Task,
)


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda cls: cls.__name__)
def test_every_contract_has_describe(contract: type) -> None:
    assert callable(getattr(contract, "describe", None))
    assert (contract.describe.__doc__ or "").strip()


@pytest.fixture(scope="module")
def registry() -> Registry:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRUST_LOAD_PLUGINS", "")
        return Registry([PLUGIN_DIR])


def test_each_scripted_component_describes_itself(registry: Registry) -> None:
    context = ComponentContext(registry=registry, backend_options=BackendOptions())
    assert registry.make_judge("keyword", context).describe() == {"judge": "keyword", "judge_version": "1"}
    embedder = registry.make_embedder("hashing:16", context)
    assert embedder.describe() == {"embedder": "hashing", "embedder_version": "1", "identity": "hashing/16"}
    quantizer = registry.compressor("quantizer", "copy")
    assert quantizer.describe()["method"] == "copy" and "method_version" in quantizer.describe()
    task = registry.components["task"]["private/echo"]()
    assert task.describe() == {"task": "private/echo", "task_version": task.version}
    template = registry.components["chat_template"]["bracket"](None)
    assert template.describe() == {"chat_template": "bracket", "identity": template.identity()}


def test_results_record_what_each_judge_says_of_itself(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = run_cli("--plugin-dir", str(PLUGIN_DIR), "run", "--model", "scripted:echo", "--tasks",
                   "private/echo_toxicity", "--run-dir", str(run_dir), env={"TRUST_LOAD_PLUGINS": ""})  # fmt: skip
    assert done.code == 0, done.stderr
    run = json.loads((run_dir / "results.json").read_text())["run"]
    recorded = run["refusal_judge"]
    assert {key: recorded[key] for key in ("judge", "judge_version", "identity")} == {
        "judge": "sorry-detector",
        "judge_version": "1",
        "identity": "sorry-detector/1",
    }
