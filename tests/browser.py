"""Headless Chromium (Debian's package) driven by Playwright: load a report, collect what went wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT_DIR = REPO_ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def open_in_chromium(report: Path, screenshot_name: str) -> dict:
    """Load ``report`` in headless Chromium; return what happened (errors, dialogs, counts)."""
    if not CHROMIUM.exists():
        pytest.fail("install Chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    found: dict = {"console_errors": [], "page_errors": [], "dialogs": [], "requests": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.add_init_script(
                "window.__cspViolations = [];"
                "document.addEventListener('securitypolicyviolation',"
                " function (e) { window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI); });")
            page.on("console", lambda m: m.type == "error" and found["console_errors"].append(m.text))
            page.on("pageerror", lambda e: found["page_errors"].append(str(e)))

            def on_dialog(dialog):
                found["dialogs"].append(dialog.message)
                dialog.dismiss()

            page.on("dialog", on_dialog)
            page.on("request", lambda r: found["requests"].append(r.url))
            page.goto(report.as_uri(), wait_until="load")
            n_figures = page.locator("div[data-figure]").count()
            found["n_figures"] = n_figures
            if n_figures:
                page.wait_for_function(
                    f"document.querySelectorAll('.js-plotly-plot').length >= {n_figures}", timeout=30_000)
            page.wait_for_timeout(300)  # let late errors or dialogs surface
            found["n_plots"] = page.locator(".js-plotly-plot").count()
            found["n_svg"] = page.locator("svg.main-svg").count()
            found["csp_violations"] = page.evaluate("window.__cspViolations")
            found["model_text"] = page.locator("#embedding-model .model").inner_text()
            found["model_visible"] = page.locator("#embedding-model .model").is_visible()
            found["tick_texts"] = page.locator("g.xtick text").all_text_contents()
            found["legend_texts"] = page.locator("g.legendtext, text.legendtext").all_text_contents()
            found["title"] = page.title()
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT_DIR / f"report-{screenshot_name}.png"), full_page=True)
        finally:
            browser.close()
    return found



def assert_clean_load(found: dict) -> None:
    assert not found["dialogs"], f"a dialog opened (XSS): {found['dialogs']}"
    assert not found["page_errors"], found["page_errors"]
    assert not found["console_errors"], found["console_errors"]
    assert not found["csp_violations"], found["csp_violations"]
    remote = [u for u in found["requests"] if not u.startswith(("file:", "data:", "about:", "blob:"))]
    assert not remote, f"the report fetched something: {remote}"
    assert found["n_figures"] > 0 and found["n_plots"] == found["n_figures"]
    assert found["n_svg"] > 0
