"""report.html in a real headless Chromium (Debian's package): it loads with no console errors
and asks for nothing but itself and its inline data: URIs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxml.report import SECTIONS, render_report
from tests.unit.test_report import sample_context, sample_scored

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} not found: install the OS package (apt-get install -y chromium);"
        " .ci/run does this when it runs as root",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scored = sample_scored()
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(scored, sample_context(scored)), encoding="utf-8")
    return path


def test_report_loads_with_no_console_errors_and_no_network(report_file: Path) -> None:
    url = report_file.as_uri()
    problems: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page()

            def on_console(message: sync_api.ConsoleMessage) -> None:
                if message.type in {"error", "warning"}:
                    problems.append(f"{message.type}: {message.text}")

            page.on("console", on_console)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            page.wait_for_load_state("networkidle")
            ids = page.eval_on_selector_all("section", "els => els.map(e => e.id)")
            images_ok = page.evaluate(
                "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
            )
            n_images = page.evaluate("document.images.length")
        finally:
            browser.close()
    assert problems == []
    others = [u for u in requests if u != url and not u.startswith("data:")]
    assert others == [], f"the report fetched {others}"
    assert url in requests
    assert ids == [ident for ident, _title, _build in SECTIONS]
    assert n_images == 6 and images_ok  # nps, risk, actions, survival, policy, touchpoints
