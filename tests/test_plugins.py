"""Plugin discovery: entry points, the allow-list, --plugin-dir, validation, and the hook meta-tests."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from conftest import PLUGIN_DIR, REPO
from trust_core import hookspecs


def test_plugin_dir_registers_every_kind(scripted):
    result = scripted("plugins", "--json", env={"TRUST_LOAD_PLUGINS": ""})
    assert result.code == 0, result.stderr
    listing = {entry["name"]: entry for entry in result.json()}
    assert set(listing) == {"scripted"}
    assert listing["scripted"]["components"] == {
        "calibration_set": ["scripted-sorry-set"],
        "backend": ["scripted"],
        "quantizer": ["copy"],
        "pruner": ["copy"],
        "task": ["private/echo", "private/echo_toxicity"],
        "judge": ["keyword", "sorry-detector", "shouting"],
        "embedder": ["hashing"],
        "chat_template": ["bracket"],
        "model": ["scripted-echo"],
    }


def test_empty_allow_list_loads_no_entry_point_plugin(trust):
    result = trust("plugins", "--json", env={"TRUST_LOAD_PLUGINS": ""})
    assert result.code == 0
    assert result.json() == []


def test_allow_list_loads_only_named_plugins(trust):
    result = trust("plugins", "--json", env={"TRUST_LOAD_PLUGINS": "hf"})
    assert result.code == 0, result.stderr
    assert [entry["name"] for entry in result.json()] == ["hf"]


def test_allow_list_with_unknown_plugin_is_an_error(trust):
    result = trust("plugins", env={"TRUST_LOAD_PLUGINS": "hf,no-such-plugin"})
    assert result.code == 2
    assert "no-such-plugin" in result.stderr
    assert "Traceback" not in result.stderr


def test_misspelled_hook_is_an_error(trust, tmp_path: Path):
    (tmp_path / "typo.py").write_text(
        "from trust_core import hookimpl\n\n@hookimpl\ndef register_taks(register):\n    pass\n"
    )
    result = trust("--plugin-dir", str(tmp_path), "plugins", env={"TRUST_LOAD_PLUGINS": ""})
    assert result.code == 2
    assert "register_taks" in result.stderr
    assert "Traceback" not in result.stderr


def test_registering_a_non_component_is_an_error(trust, tmp_path: Path):
    (tmp_path / "bad.py").write_text(
        "from trust_core import hookimpl\n\n@hookimpl\ndef register_tasks(register):\n    register(object)\n"
    )
    result = trust("--plugin-dir", str(tmp_path), "plugins", env={"TRUST_LOAD_PLUGINS": ""})
    assert result.code == 2
    assert "plugin 'bad'" in result.stderr and "not a Task subclass" in result.stderr


def test_duplicate_component_names_are_an_error(trust, tmp_path: Path):
    source = (PLUGIN_DIR / "scripted.py").read_text()
    (tmp_path / "again.py").write_text(source.replace('name = "keyword"', 'name = "keyword2"'))
    result = trust(
        "--plugin-dir", str(PLUGIN_DIR), "--plugin-dir", str(tmp_path), "plugins", env={"TRUST_LOAD_PLUGINS": ""}
    )
    assert result.code == 2
    assert "registered twice" in result.stderr


def test_register_commands_adds_a_command(scripted):
    result = scripted("scripted-hello", env={"TRUST_LOAD_PLUGINS": ""})
    assert result.code == 0
    assert result.stdout.strip() == "hello from the scripted plugin"


def test_every_hook_has_a_docstring_and_is_documented():
    guide = (REPO / "docs" / "plugins.md").read_text()
    for name in hookspecs.HOOK_NAMES:
        function = getattr(hookspecs, name)
        assert inspect.getdoc(function), f"{name} has no docstring"
        assert re.search(rf"^#+ .*`{name}", guide, re.MULTILINE), f"{name} has no section in docs/plugins.md"


def test_every_hook_is_exercised_by_the_test_plugin():
    source = (PLUGIN_DIR / "scripted.py").read_text()
    defined = set(re.findall(r"@hookimpl\ndef (\w+)\(", source))
    assert defined == set(hookspecs.HOOK_NAMES)
    functions = inspect.getmembers(hookspecs, inspect.isfunction)
    hooks_in_module = {name for name, _ in functions if name.startswith("register_")}
    assert hooks_in_module == set(hookspecs.HOOK_NAMES)


def test_help_is_instant_and_imports_nothing_heavy(trust):
    result = trust("--help")
    assert result.code == 0
    assert "run" in result.stdout and "plugins" in result.stdout
    import subprocess
    import sys

    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from trust_core.cli import main\n"
            "try:\n    main(['plugins'])\nexcept SystemExit:\n    pass\n"
            "heavy = ('torch', 'transformers', 'llama_cpp', 'sentence_transformers')\n"
            "print(sorted(m for m in heavy if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip().splitlines()[-1] == "[]", probe.stdout + probe.stderr
