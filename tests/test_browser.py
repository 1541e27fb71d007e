"""The real client: JupyterLab under headless Chromium, as a learner sees a lesson.

Starts JupyterLab from this environment on 127.0.0.1 (with a token) over a temporary
folder holding the student and the instructor copy of lesson 01, drives Debian's
``chromium`` through ``chromedriver`` with Selenium, runs all cells through the menu
(Run > Run All Cells), saves through the menu, and checks what a learner sees:

* the notebook is not marked modified when it opens (the kernel rewrites no metadata);
* LaTeX is typeset (MathJax) and plots are drawn;
* student copy: the first exercise's check prints FAIL with a hint, not a traceback;
* instructor copy: no error output at all;
* neither writes anything to stderr (TensorFlow/CUDA start-up lines, deprecation warnings).

Screenshots are kept in ``test-artifacts/browser/`` (gitignored) for a human to look at.
`.ci/run` installs chromium and sets ``MEDLEARN_BROWSER_TEST=required``, so in CI a missing
browser fails the test instead of skipping it.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "01_neurons_and_losses.ipynb"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1000")
LAB_SETTINGS = {
    # Every cell in the DOM (no virtual scrolling), so outputs can be read and screenshotted.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # No "news / check for updates" pop-up (and no network).
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}

pytestmark = pytest.mark.slow


def _browser() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        try:
            import selenium  # noqa: F401
        except ImportError:
            pytest.fail("selenium is missing from the environment: `pip install -r requirements-dev.txt`.")
        return chromium, driver
    fix = "Fix: `sudo apt-get install chromium chromium-driver` (Debian/Ubuntu); .ci/run does it."
    if os.environ.get("MEDLEARN_BROWSER_TEST") == "required":
        pytest.fail(f"chromium and chromedriver are needed for the browser test. {fix}")
    pytest.skip(f"no chromium/chromedriver on this machine. {fix}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over {student,instructor}/01_*.ipynb; yields (url, token, root)."""
    chromium, driver = _browser()
    from medlearn.grading.copies import copy_lessons

    root = tmp_path_factory.mktemp("lab")
    copy_lessons(root / "student", student=True, lessons=[LESSON])
    copy_lessons(root / "instructor", student=False, lessons=[LESSON])
    settings = root / "_settings"
    for name, value in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    token, port = secrets.token_hex(16), _free_port()
    env = dict(os.environ, MEDLEARN_FAST="1", MEDLEARN_OFFLINE="1", JUPYTER_CONFIG_DIR=str(root / "_config"),
               JUPYTER_RUNTIME_DIR=str(root / "_runtime"), JUPYTER_PLATFORM_DIRS="1")
    env.pop("MPLBACKEND", None)  # the kernel's inline backend, as a learner has it
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={root / '_workspaces'}",
           "--ServerApp.open_browser=False", "--LabApp.news_url=", "--ServerApp.quit_button=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("JupyterLab did not start:\n" + (root / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.3)
        yield {"url": url, "token": token, "root": root, "chromium": chromium, "driver": driver}
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers online
    opts = webdriver.ChromeOptions()
    opts.binary_location = lab["chromium"]
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={lab['root'] / '_chromium-profile'}")
    drv = webdriver.Chrome(service=Service(lab["driver"]), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # the DOM changes under us while JupyterLab renders
            value = None
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def _menu(drv, top: str, item: str):
    from selenium.webdriver.common.by import By

    for el in drv.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel"):
        if el.text.strip() == top:
            el.click()
            break
    else:
        pytest.fail(f"no {top!r} menu in JupyterLab's menu bar")
    entry = _wait(lambda: [e for e in drv.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel")
                           if e.text.strip() == item], 10, f"menu item {top} > {item}")
    entry[0].click()


def _kernel_idle(drv) -> bool:
    from selenium.webdriver.common.by import By

    # The status bar says "Python 3 (ipykernel) | Idle" once the kernel has started and connected
    # (the toolbar's indicator already says idle while it is still initialising).
    bar = drv.find_elements(By.CSS_SELECTOR, ".jp-StatusBar-Widget")
    return bool(bar) and "| Idle" in bar[0].text


def _prompts(drv) -> list[str]:
    from selenium.webdriver.common.by import By

    return [p.text.strip() for p in drv.find_elements(
        By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt")]


def _shot(drv, name: str, element=None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if element is not None:
        drv.execute_script("arguments[0].scrollIntoView({block: 'start'});", element)
        time.sleep(0.3)
    path = ARTIFACTS / f"{name}.png"
    drv.save_screenshot(str(path))
    return path


def _open_and_run_all(drv, lab, rel: str, tag: str) -> dict:
    """Open rel, check it opens clean, Run All through the menu, save; return what was seen."""
    from selenium.webdriver.common.by import By

    drv.get(f"{lab['url']}/lab/tree/{rel}?token={lab['token']}")
    _wait(lambda: drv.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell"), 60, f"{rel} to open")
    _wait(lambda: _kernel_idle(drv), 60, "the kernel to start")
    time.sleep(2.0)  # give the kernel's metadata a chance to land in the model (it used to mark the file dirty)
    dirty_on_open = bool(drv.find_elements(By.CSS_SELECTOR, ".lm-TabBar-tab.jp-mod-current.jp-mod-dirty"))
    _shot(drv, f"{tag}-1-opened")
    _menu(drv, "Run", "Run All Cells")
    _wait(lambda: any(p not in ("[ ]:", "") for p in _prompts(drv)), 30, "the first cell to run")
    _wait(lambda: _kernel_idle(drv) and "[*]:" not in _prompts(drv), 120, "Run All to finish")
    time.sleep(1.0)
    seen = {
        "dirty_on_open": dirty_on_open,
        "mathjax": len(drv.find_elements(By.CSS_SELECTOR, ".jp-MarkdownOutput mjx-container")),
        "latex_source_left": [e.text[:80] for e in drv.find_elements(By.CSS_SELECTOR, ".jp-MarkdownOutput")
                              if "$$" in e.text],
        "images": len(drv.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")),
        "dom_errors": [e.text[:300] for e in drv.find_elements(By.CSS_SELECTOR,
                                                               ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")],
        "prompts": _prompts(drv),
    }
    fails = [e for e in drv.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")
             if e.text.startswith("FAIL ")]
    seen["fail_texts"] = [e.text for e in fails]
    if fails:
        _shot(drv, f"{tag}-2-first-check", fails[0].find_element(By.XPATH, "./ancestor::div[contains(@class,'jp-CodeCell')]"))
    images = drv.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")
    if images:
        _shot(drv, f"{tag}-3-first-plot", images[0])
    _menu(drv, "File", "Save Notebook")
    _wait(lambda: not drv.find_elements(By.CSS_SELECTOR, ".lm-TabBar-tab.jp-mod-current.jp-mod-dirty"), 20,
          "the notebook to be saved")
    ran = [c for c in drv.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell")
           if c.find_element(By.CSS_SELECTOR, ".jp-InputArea-prompt").text.strip() not in ("[ ]:", "")]
    _shot(drv, f"{tag}-4-last-cell-run", ran[-1] if ran else None)
    seen["saved"] = nbformat.read(lab["root"] / rel, as_version=4)
    return seen


def _outputs(nb, kind):
    return [(c.get("id"), o) for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == kind or (kind == "stderr" and o.get("name") == "stderr")]


def test_student_copy_in_a_real_browser(lab, browser):
    seen = _open_and_run_all(browser, lab, "student/01_neurons_and_losses.ipynb", "student")
    assert not seen["dirty_on_open"], "the notebook was marked modified as soon as it opened"
    assert seen["mathjax"] > 0 and not seen["latex_source_left"], seen["latex_source_left"]
    assert seen["images"] > 0, "no plot was drawn"
    assert seen["fail_texts"], f"no FAIL shown; prompts: {seen['prompts']}"
    first = seen["fail_texts"][0]
    assert "hint:" in first and "Traceback" not in first, first
    nb = seen["saved"]
    # The student sees FAIL with a hint from the first check, before any traceback.
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stdout" and "FAIL " in out.text:
                texts.append("fail")
            elif out.output_type == "error":
                texts.append("error")
    assert texts and texts[0] == "fail", texts
    errors = _outputs(nb, "error")
    assert all(o.ename == "NotImplementedError" for _, o in errors), [(i, o.ename) for i, o in errors]
    assert not _outputs(nb, "stderr"), _outputs(nb, "stderr")
    assert nb.cells[0].source.count("**Student copy**") == 1


def test_instructor_copy_in_a_real_browser(lab, browser):
    seen = _open_and_run_all(browser, lab, "instructor/01_neurons_and_losses.ipynb", "instructor")
    assert not seen["dirty_on_open"], "the notebook was marked modified as soon as it opened"
    nb = seen["saved"]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "Run All stopped before the end"
    assert not _outputs(nb, "error"), _outputs(nb, "error")
    assert not _outputs(nb, "stderr"), _outputs(nb, "stderr")
    assert seen["mathjax"] > 0 and seen["images"] > 0
    assert not seen["fail_texts"], seen["fail_texts"]
