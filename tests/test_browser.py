"""A student's first minutes, in a real browser: JupyterLab opens chapter 2 and runs its first cells.

Headless Chromium, driven by Selenium through the system's chromedriver (Debian's ``chromium`` and
``chromium-driver``, which ``make data`` installs where it can), talks to a JupyterLab started on a
free localhost port with a random token and ``CV_TEXTBOOK_SMOKE=1``. Nothing goes beyond localhost.
The notebook is a copy in the test's folder, so that JupyterLab's autosave cannot touch notebooks/.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.error import URLError
from urllib.parse import quote, unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "02_lenet5.ipynb"
CODE_CELLS_TO_RUN = 3  # the bootstrap, the imports and the data; Shift+Enter also steps over markdown
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1000"]


def _chromium() -> tuple[str, str]:
    """Paths of Chromium and chromedriver, or a skip that says what is missing."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -r requirements.txt)")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = " and ".join(name for name, path in [("chromium", browser), ("chromedriver", driver)]
                               if not path)
        reason = f"{missing} not found (`make data` installs Debian's chromium and chromium-driver)"
        print(f"test_browser skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)
    return browser, driver


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path, request):
    """A JupyterLab serving a copy of notebooks/NOTEBOOK; yields (base URL, token)."""
    served = tmp_path / "served" / "notebooks"
    served.mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, served / NOTEBOOK)
    # No "get notified about Jupyter news?" toast over the notebook (it would fetch from the internet).
    notification = tmp_path / "settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false"}))
    port, token = _free_port(), secrets.token_hex(24)
    env = dict(os.environ, CV_TEXTBOOK_SMOKE="1", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={served.parent}", f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
               f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly"]
    if os.geteuid() == 0:  # containers and CI runners often run as root; Jupyter refuses that unless told
        command.append("--allow-root")
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop():
        if server.poll() is None:
            server.terminate()  # the server shuts its kernels down on SIGTERM
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)  # the server's own session: it and its kernels
                server.wait()
        log.close()

    request.addfinalizer(stop)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                break
        except (URLError, ConnectionError):
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"JupyterLab did not start:\n{(tmp_path / 'jupyterlab.log').read_text()[-3000:]}")
        time.sleep(0.5)
    return base, token


@pytest.fixture
def browser(tmp_path, request):
    chromium, chromedriver = _chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    request.addfinalizer(driver.quit)
    return driver


def _wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _kernel_idle(base, token) -> bool:
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=5) as answer:
        sessions = json.load(answer)
    return any(s["path"].endswith(NOTEBOOK) and s["kernel"]["execution_state"] == "idle" for s in sessions)


CELLS_JS = """
return Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell')).map(cell => ({
  code: cell.classList.contains('jp-CodeCell'),
  prompt: (cell.querySelector('.jp-InputPrompt') || {}).textContent || '',
  text: (cell.querySelector('.jp-OutputArea') || {}).innerText || '',
  stderr: cell.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').length,
}));
"""
TOC_TARGETS_JS = """
return Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell')[0].querySelectorAll('a[href^="#"]'))
  .map(a => a.getAttribute('href'));
"""


def test_jupyterlab_runs_the_first_cells_of_chapter_2_without_errors(browser, jupyterlab, tmp_path):
    # browser first: without Chromium the test is skipped before a server starts
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base, token = jupyterlab
    browser.get(f"{base}/lab/tree/notebooks/{quote(NOTEBOOK)}?reset&token={token}")
    _wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell"), 60, "the notebook")
    _wait_for(lambda: _kernel_idle(base, token), 60, "the kernel to start")

    cells = browser.execute_script(CELLS_JS)
    run = [i for i, cell in enumerate(cells) if cell["code"]][:CODE_CELLS_TO_RUN]
    first = browser.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")[run[0]]
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", first)
    first.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").click()  # select it, in command mode
    for _ in range(run[0], run[-1] + 1):  # Shift+Enter: run the cell (render a markdown one), go on
        ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
        time.sleep(0.3)

    def finished():
        cells = browser.execute_script(CELLS_JS)
        prompts = [cells[i]["prompt"].strip() for i in run]
        return cells if all(p[1:-2].isdigit() for p in prompts) else None  # "[3]:" rather than "[*]:"

    cells = _wait_for(finished, 100, f"code cells {run} to finish")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", first)
    time.sleep(1)
    browser.save_screenshot(str(tmp_path / "02_lenet5_first_cells.png"))
    title = browser.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", title)
    time.sleep(1)
    browser.save_screenshot(str(tmp_path / "02_lenet5_title.png"))

    for i in run:
        assert cells[i]["stderr"] == 0, f"cell {i} wrote to stderr or raised:\n{cells[i]['text']}"
    report = cells[run[0]]["text"]
    assert "Chapter 2 — LeNet-5" in report and "Budget: smoke" in report, report
    assert "classroom budget" not in cells[run[1]]["text"] and "smoke" in cells[run[1]]["text"]
    # Every table-of-contents link of the title cell finds its heading in the rendered notebook
    # (JupyterLab's sanitizer keeps a heading's id as data-jupyter-id).
    targets = browser.execute_script(TOC_TARGETS_JS)
    assert targets, "the title cell has no table of contents"
    for href in targets:
        target = unquote(href[1:])
        found = browser.execute_script(
            "return document.querySelectorAll(`[id='${CSS.escape(arguments[0])}'], "
            "[data-jupyter-id='${CSS.escape(arguments[0])}']`).length;", target)
        assert found, f"no heading with the id {target!r} for the contents link {href}"
