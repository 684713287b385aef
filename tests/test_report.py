"""`trust report` (issue #11, item 4): one self-contained HTML file with charts for all six dimensions, the
efficiency view and the flipped-item drill-down, opened in a real headless Chromium — no console error, no network
request, every chart rendered — with a screenshot kept as a test artefact; and `--figures` writes each chart as
SVG and PNG. On a study of every task, answered by the scripted plugin (no model)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR, REPO, trust_subprocess

ARTEFACTS = Path(os.environ.get("TRUST_TEST_ARTEFACTS", REPO / ".test-artefacts"))
"""Where the report's screenshot is kept (``$TRUST_TEST_ARTEFACTS``, default ``.test-artefacts/``)."""


SIX_DIMENSIONS = ("truthfulness", "safety", "fairness", "robustness", "privacy", "ethics")
STUDY = f"""
[study]
name = "six-dimensions"
model = "scripted:echo"
dimensions = {list(SIX_DIMENSIONS)}
limit = 1
judge = "keyword"
embedder = "hashing"
[[variants]]
name = "dense"
[[variants]]
name = "refusing"
model = "scripted:refuse"
[[sweeps]]
quantize = "copy"
recipe = {{ bits = [4, 8] }}
""".replace("'", '"')
"""Every task of the six dimensions, answered by the scripted models and scored with the scripted judge and
embedder and the refusal plugin's detector: seconds, no model."""

PLUGINS = {"TRUST_LOAD_PLUGINS": ",".join((*SIX_DIMENSIONS, "refusal"))}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    (folder / "study.toml").write_text(STUDY)
    plugin = ("--plugin-dir", str(PLUGIN_DIR))
    ran = trust_subprocess(
        *plugin, "study", "run", str(folder / "study.toml"), "--run-dir", str(folder / "s"), env=PLUGINS
    )
    assert ran.code == 0, ran.stderr
    args = ("report", str(folder / "s"), "--out", str(folder / "report.html"), "--figures", str(folder / "figures"))
    made = trust_subprocess(*plugin, *args, env=PLUGINS)
    assert made.code == 0, made.stderr
    return folder / "report.html"


def test_the_report_is_one_self_contained_file_with_every_section(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert "<script src=" not in text and "<link " not in text and "https://cdn" not in text
    sections = [f'id="dim-{name}"' for name in SIX_DIMENSIONS]
    for section in (*sections, 'id="efficiency"', 'id="deltas"', 'id="provenance"', 'id="flips"'):
        assert section in text, section
    assert "refusing vs dense" in text and " lost, " in text and "<pre>" in text  # flipped items, prompts, answers
    figures = {path.name for path in (report.parent / "figures").iterdir()}
    assert {"efficiency-0.svg", "efficiency-0.png", "efficiency-1.svg", "efficiency-1.png"} <= figures
    assert len([name for name in figures if name.startswith("truthfulness-")]) >= 8  # SVG + PNG per chart


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")


def test_the_report_renders_every_chart_offline_in_headless_chromium(report: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report.as_uri())
        page.wait_for_function("document.body.dataset.chartsRendered !== undefined", timeout=60_000)
        expected = int(page.evaluate("document.body.dataset.chartsExpected"))
        rendered = int(page.evaluate("document.body.dataset.chartsRendered"))
        svgs = page.evaluate(
            "Array.from(document.querySelectorAll('.chart')).map(c => c.querySelectorAll('svg').length)"
        )
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / "report.png"), full_page=True)
        browser.close()
    assert not errors, errors
    assert [url for url in requests if not url.startswith(("file:", "data:", "blob:"))] == []
    assert expected >= 50 and rendered == expected and len(svgs) == expected and all(count >= 1 for count in svgs)
    assert (ARTEFACTS / "report.png").stat().st_size > 10_000
