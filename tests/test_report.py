"""`trust report` (issue #11, item 4): one self-contained HTML file, opened in a real headless Chromium — no
console error, no network request, every chart rendered — with a screenshot kept as a test artefact; and
`--figures` writes each chart as SVG and PNG. On a study of the scripted plugin (no model)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR, REPO, run_scripted_study, trust_subprocess

NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}
ARTEFACTS = Path(os.environ.get("TRUST_TEST_ARTEFACTS", REPO / ".test-artefacts"))
"""Where the report's screenshot is kept (``$TRUST_TEST_ARTEFACTS``, default ``.test-artefacts/``)."""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    study_dir = run_scripted_study(tmp_path_factory.mktemp("report"))
    out, figures = study_dir.parent / "report.html", study_dir.parent / "figures"
    args = ("report", str(study_dir), "--out", str(out), "--figures", str(figures))
    made = trust_subprocess("--plugin-dir", str(PLUGIN_DIR), *args, env=NO_ENTRY_POINTS)
    assert made.code == 0, made.stderr
    return out


def test_the_report_is_one_self_contained_file_with_every_section(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert "<script src=" not in text and "<link " not in text and "https://cdn" not in text
    for section in ('id="dim-private"', 'id="efficiency"', 'id="deltas"', 'id="provenance"', 'id="flips"'):
        assert section in text, section
    assert "refusing vs dense" in text and "private/echo accuracy [alpha]: 4 lost, 0 gained" in text
    assert "Say the alpha word number 0." in text  # a flipped item's prompt, with both responses
    figures = sorted(path.name for path in (report.parent / "figures").iterdir())
    assert figures == [
        "efficiency-0.png",
        "efficiency-0.svg",
        "efficiency-1.png",
        "efficiency-1.svg",
        "private-0.png",
        "private-0.svg",
    ]


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
    assert expected == 3 and rendered == expected and all(count >= 1 for count in svgs) and len(svgs) == expected
    assert (ARTEFACTS / "report.png").stat().st_size > 10_000
