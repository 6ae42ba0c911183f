"""The built leaderboard in a real headless Chromium (Debian `chromium` + `chromedriver`, driven by selenium): the
table renders, clicking a header reorders the rows, a hostile model name stays text (no alert fires), no console
errors; a screenshot is saved as a test artifact (out/test-artifacts/, or $FINBENCH_ARTIFACTS).

scripts/test.sh installs chromium when it is missing. The test fails (it does not skip) when no browser is found,
unless FINBENCH_SKIP_BROWSER=1 is set deliberately."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from helpers import ROOT, cli, copy_run, hostile_results, hostile_sample

CHROMIUM = os.environ.get("FINBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FINBENCH_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
]


@pytest.fixture
def browser():
    if os.environ.get("FINBENCH_SKIP_BROWSER") == "1":
        pytest.skip("FINBENCH_SKIP_BROWSER=1")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: install Debian's chromium and chromium-driver "
            "(scripts/test.sh does) or set FINBENCH_SKIP_BROWSER=1 to skip this test deliberately"
        )
    os.environ["SE_OFFLINE"] = "true"  # selenium must never download a browser or a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="finbench-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def names(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [
        tr.find_element(By.CSS_SELECTOR, "td a").text for tr in driver.find_elements(By.CSS_SELECTOR, "#board tbody tr")
    ]


def header(driver, text: str):
    from selenium.webdriver.common.by import By

    return next(th for th in driver.find_elements(By.CSS_SELECTOR, "#board thead th") if th.text.startswith(text))


def severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


@pytest.mark.slow
def test_table_renders_sorts_and_stays_inert_in_chromium(tiny_runs, tmp_path, browser):
    xss = copy_run(tiny_runs["plain"], tmp_path / "xss", edit_results=hostile_results, edit_sample=hostile_sample)
    out = tmp_path / "site"
    proc = cli("leaderboard", "build", tiny_runs["plain"], tiny_runs["hint"], xss, "--out", out)
    assert proc.returncode == 0, proc.stderr

    browser.get((out / "index.html").as_uri())
    hint, plain, hostile = "SmolLM2-135M-Instruct (hint)", "SmolLM2-135M-Instruct (plain)", "<script>alert(1)</script>"
    # as built: by overall score (ties by name); the hostile name is shown as its literal text
    assert names(browser) == [hint, hostile, plain]
    assert len(browser.find_elements("css selector", "#board thead th")) == 5  # model, overall, 1 category, 2 tasks
    header(browser, "Model").click()
    assert names(browser) == [hostile, hint, plain]  # by name, ascending
    assert header(browser, "Model").get_attribute("aria-sort") == "ascending"
    header(browser, "Model").click()
    assert names(browser) == [plain, hint, hostile]  # reversed
    header(browser, "tiny_recall").click()  # numbers: best first
    assert names(browser)[0] == hint
    header(browser, "tiny_recall").click()
    assert names(browser)[-1] == hint
    artifacts = Path(os.environ.get("FINBENCH_ARTIFACTS", ROOT / "out" / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "leaderboard.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    assert severe(browser) == []

    # the hostile run's own page: sample outputs full of markup render as text, no script runs
    browser.find_element("link text", hostile).click()
    assert browser.find_element("tag name", "h1").text == hostile
    assert "<img src=x onerror=alert(2)>" in browser.find_element("tag name", "body").get_attribute("textContent")
    assert browser.find_elements("css selector", "img") == [] and len(browser.find_elements("css selector", "svg")) >= 1
    browser.save_screenshot(str(artifacts / "leaderboard-model.png"))
    assert severe(browser) == []
