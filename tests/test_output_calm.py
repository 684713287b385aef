"""Issue 14, items 1 and 5: standard output carries trust's own output only; what libraries print (logging,
warnings, progress bars, Python prints, C-level writes) goes to RUN_DIR/trust.log, named when a command fails;
a line says which model loads, and progress bars name the stage and the task."""

from __future__ import annotations

import importlib.util
import re
import textwrap
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR, Completed, read_results, trust_subprocess

NOISY_PLUGIN = textwrap.dedent(
    '''
    """A backend that behaves like a chatty third-party library: it prints at every level while loading and
    generating (model ``noisy:echo``), or explains a failure on stderr and fails to load (``noisy:fail``)."""

    import hashlib
    import logging
    import os
    import sys
    import warnings

    from tqdm.auto import tqdm

    from trust_core import hookimpl
    from trust_core.contracts import Backend, GenerationResult
    from trust_core.errors import UserError


    def chatter(tag):
        print(f"PY-STDOUT-{tag}")
        print(f"PY-STDERR-{tag}", file=sys.stderr)
        os.write(1, f"C-STDOUT-{tag}\\n".encode())
        os.write(2, f"C-STDERR-{tag}\\n".encode())
        logging.getLogger("noisylib").warning(f"LOGGING-{tag}")
        warnings.warn(f"WARNING-{tag}", UserWarning, stacklevel=1)
        for _ in tqdm(range(3), desc=f"LIBRARY-BAR-{tag}"):
            pass


    class NoisyBackend(Backend):
        name = "noisy"

        @classmethod
        def supports(cls, model):
            return 5 if model.startswith("noisy:") else 0

        def fingerprint(self):
            return hashlib.sha256(self.model.encode()).hexdigest()

        def render(self, messages):
            chatter("RENDER")
            return "".join(m["content"] for m in messages)

        def load(self):
            chatter("LOAD")
            if self.model == "noisy:fail":
                os.write(2, b"LIBRARY-EXPLANATION: the weights are truncated\\n")
                raise UserError("noisy backend: cannot load the model")

        def generate(self, requests):
            for request in requests:
                chatter("GENERATE")
                yield GenerationResult(request.key, "answer")


    @hookimpl
    def register_backends(register):
        register(NoisyBackend)
    '''
)

NOISE = re.compile(r"(PY|C)-STD(OUT|ERR)-|LOGGING-|WARNING-|LIBRARY-")


def _noisy(tmp_path: Path, *args: str, progress: bool = True) -> Completed:
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "noisy.py").write_text(NOISY_PLUGIN, encoding="utf-8")
    env = {"TRUST_PROGRESS": "1" if progress else "0"}
    return trust_subprocess("--plugin-dir", str(PLUGIN_DIR), "--plugin-dir", str(plugins), *args, env=env)


def test_library_output_goes_to_the_run_log_and_the_terminal_keeps_trusts_own(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _noisy(tmp_path, "run", "--model", "noisy:echo", "--tasks", "private/echo", "--run-dir", str(run_dir))
    assert result.code == 0, result.stderr
    assert not NOISE.search(result.stdout), result.stdout
    assert not NOISE.search(result.stderr), result.stderr
    assert "private/echo" in result.stdout and f"results: {run_dir / 'results.json'}" in result.stdout
    log = (run_dir / "trust.log").read_text(encoding="utf-8")
    for stage in ("RENDER", "LOAD", "GENERATE"):
        for stream in ("PY-STDOUT", "PY-STDERR", "C-STDOUT", "C-STDERR", "LOGGING", "WARNING"):
            assert f"{stream}-{stage}" in log, (stream, stage)
    assert "LIBRARY-BAR-GENERATE" in log  # a library's own progress bar is in the log, not on the screen
    assert "not needed by trust" in log and "==== trust run" in log


def test_the_model_load_is_announced_and_bars_name_stage_and_task(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _noisy(
        tmp_path,
        "run",
        "--model",
        "noisy:echo",
        "--tasks",
        "private/echo,private/echo_toxicity",
        "--run-dir",
        str(run_dir),
    )
    assert result.code == 0, result.stderr
    assert re.search(r"^loading model noisy:echo \(backend noisy\)\.\.\. done in [0-9.]+ s$", result.stderr, re.M)
    assert result.stderr.index("loading model") < result.stderr.index(": generating")
    screen = result.stderr.replace("\r", "\n")
    assert re.search(r"^private/echo: generating: +100%", screen, re.M), screen  # the task whose prompts they are
    assert re.search(r"^private/echo_toxicity: refusal verdicts: +100%", screen, re.M), screen


def test_a_backend_without_load_is_not_announced(tmp_path: Path) -> None:
    result = trust_subprocess(
        "--plugin-dir", str(PLUGIN_DIR), "run", "--model", "scripted:echo", "--tasks", "private/echo",
        "--run-dir", str(tmp_path / "run"),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "loading model" not in result.stderr
    assert not (tmp_path / "run" / "trust.log").exists()  # nothing printed by libraries: no log


def test_a_failure_names_the_log_that_holds_the_librarys_explanation(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _noisy(tmp_path, "run", "--model", "noisy:fail", "--tasks", "private/echo", "--run-dir", str(run_dir))
    assert result.code == 2
    assert "Error: noisy backend: cannot load the model" in result.stderr
    assert f"messages of third-party libraries during this command: {run_dir / 'trust.log'}" in result.stderr
    assert "loading model noisy:fail (backend noisy)... failed" in result.stderr
    assert "Traceback" not in result.stderr and not NOISE.search(result.stderr)
    assert "LIBRARY-EXPLANATION: the weights are truncated" in (run_dir / "trust.log").read_text(encoding="utf-8")


def test_the_log_is_appended_by_each_command(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    common = ("--model", "noisy:echo", "--tasks", "private/echo", "--run-dir", str(run_dir))
    assert _noisy(tmp_path, "generate", *common, progress=False).code == 0
    assert _noisy(tmp_path, "evaluate", *common, progress=False).code == 0
    log = (run_dir / "trust.log").read_text(encoding="utf-8")
    assert log.count("==== trust generate") == 1 and log.count("==== trust evaluate") == 1
    assert log.index("==== trust generate") < log.index("==== trust evaluate")


# --------------------------------------------------------------------------- the real libraries

LIBRARY_NOISE = (
    "Loading weights",
    "de-quantizing",
    "it/s]",  # a library's tqdm bar (trust's bars count responses, verdicts, texts)
    "Warning",
    "warn(",
    "torchao",
    "_pytree",
    "pip install",
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", [(), ("--backend", "hf")], ids=["default backend", "hf"])
def test_the_default_run_shows_only_trusts_own_messages(tmp_path: Path, backend: tuple[str, ...]) -> None:
    """Also the end-to-end run of the default model on the hf backend (transformers de-quantizing the GGUF file):
    one item of each source of a task, scored."""
    run_dir = tmp_path / "run"
    task = "truthfulness/use_external_knowledge"
    result = trust_subprocess(
        "run", "--tasks", task, "--limit", "4", "--max-new-tokens", "12",
        "--run-dir", str(run_dir), *backend, env={"TRUST_PROGRESS": "1"},
    )  # fmt: skip
    assert result.code == 0, result.stderr
    for noise in LIBRARY_NOISE:
        assert noise not in result.stderr, (noise, result.stderr)
        assert noise not in result.stdout, (noise, result.stdout)
    assert re.search(r"^loading model \S+ \(backend \w+\)\.\.\. done in", result.stderr, re.M)
    assert f"{task}: generating" in result.stderr
    results, metrics = read_results(run_dir / "results.json")
    assert metrics[(task, None, "mean_macro_f1")]["n"] == 4
    if backend:
        assert results["run"]["model"]["backend"] == backend[1]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("gptqmodel") is None, reason="gptqmodel is not installed")
def test_a_gptq_run_prints_under_100_lines_to_stdout(tmp_path: Path, smollm2_first_blocks: Path) -> None:
    """GPTQModel reports every layer it quantizes (SmolLM2's first blocks here: the same output per layer as the whole
    model, in a fraction of the time); all of it goes to the run log."""
    run_dir = tmp_path / "run"
    result = trust_subprocess(
        "run", "--model", str(smollm2_first_blocks), "--quantize", "gptq", "--calibration-samples", "4",
        "--tasks", "hallucination", "--limit", "1", "--max-new-tokens", "32", "--run-dir", str(run_dir),
    )  # fmt: skip
    assert result.code == 0, result.stderr[-5000:]
    assert len(result.stdout.splitlines()) < 100, result.stdout[:5000]
    assert "results:" in result.stdout
    for noise in LIBRARY_NOISE:
        assert noise not in result.stderr, (noise, result.stderr[-5000:])
        assert noise not in result.stdout, (noise, result.stdout[:5000])
    library_lines = (run_dir / "trust.log").read_text(encoding="utf-8").splitlines()
    assert len(library_lines) >= 100  # what the libraries printed, even for two blocks, would have passed the limit
    results, _ = read_results(run_dir / "results.json")
    details = results["run"]["variant"]["details"]
    assert (details["method"], details["base_source"]) == ("gptq", "gguf")  # de-quantized for GPTQModel first
