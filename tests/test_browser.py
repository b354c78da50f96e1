"""The course in a real browser (headless Chromium, driven by Playwright): the site and the interactive notebook.

(a) the static site (``python -m daformer_edu.site build``) is served on localhost and every page — each
    notebook's, each Markdown page of ``daformer_edu/pages/``, the home page — is visited: it loads, each of its
    figures has decoded (``naturalWidth > 0``), and the browser logs no console error and no uncaught page error;
(b) ``jupyter lab`` is started on localhost on a copy of notebook 06; the notebook is opened, run with the menu
    Run → Run All Cells, the temperature slider is moved with the keyboard, and the figure must change.

Screenshots of every page and of the widget before / after go to the test's temporary folder (the path is
printed; pytest keeps the last three runs under ``/tmp/pytest-of-$USER/``).

Why Playwright: it drives the system browser (``executable_path=/usr/bin/chromium``; its own browser download
is impossible here), and it has the two things these tests need built in — console and page-error events, and
waiting for a condition in the page. Selenium + ``chromedriver`` would do as well, with hand-written waits.
The browser is Debian's ``chromium`` (``.ci/run`` installs it when missing). Without a browser or Playwright
the tests skip, except in CI (``$CI`` set), where they fail: there they must run.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser  # builds the course site, serves it, drives Chromium and JupyterLab

ROOT = Path(__file__).resolve().parents[1]
NB06 = ROOT / "notebooks" / "06_rare_class_sampling.ipynb"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
WHOLE_TEST_S = 180  # each test is bounded by this (the browser and the servers are always stopped)


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} — CI must run the browser tests (.ci/run installs chromium and the [dev] extra)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing('Playwright is not installed: pip install -e ".[dev]"')
    if not Path(CHROMIUM).is_file():
        _missing(f"no chromium at {CHROMIUM}: apt-get install -y chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# -- (a) the static site -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site_url(tmp_path_factory):
    pytest.importorskip("myst_nb", reason='the site needs the [site] extra: pip install -e ".[site]"')
    from daformer_edu import site

    out = site.build(tmp_path_factory.mktemp("site") / "html")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", out
    finally:
        server.shutdown()
        server.server_close()


def test_every_site_page_loads_with_its_figures_and_no_console_error(browser, site_url, tmp_path):
    base, out = site_url
    pages = sorted(p.name for p in out.glob("*.html"))
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    md_pages = sorted(p.stem for p in (ROOT / "daformer_edu" / "pages").glob("*.md"))  # the Markdown pages
    expected = {f"{n}.html" for n in notebooks + md_pages} | {"index.html"}
    assert expected <= set(pages), f"pages missing: {sorted(expected - set(pages))}"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    t0 = time.time()
    figures = {}
    try:
        for name in pages:
            before = len(errors)
            response = page.goto(f"{base}/{name}", wait_until="load")
            assert response is not None and response.ok, f"{name}: {response and response.status}"
            imgs = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
            broken = [src for src, width in imgs if not width]
            assert not broken, f"{name}: figures that did not load: {broken}"
            figures[name] = len(imgs)
            page.screenshot(path=str(tmp_path / f"site_{Path(name).stem}.png"))  # the first screen
            assert len(errors) == before, f"{name}: {errors[before:]}"
            assert time.time() - t0 < WHOLE_TEST_S, f"visiting the site took over {WHOLE_TEST_S} s"
    finally:
        page.close()
    print(f"screenshots of {len(pages)} pages in {tmp_path}")
    assert sum(figures[f"{n}.html"] for n in notebooks) >= len(notebooks), f"too few figures: {figures}"
    # the home page is the notebook map and links every notebook and its student edition
    home = (out / "index.html").read_text(encoding="utf-8")
    for n in notebooks:
        assert f'href="{n}.html"' in home, f"the home page does not link {n}"
        assert f"{n}.ipynb" in home, f"the home page does not offer {n}'s student edition"
    for n in md_pages:
        assert f'href="{n}.html"' in home, f"the home page does not link the page {n}"


# -- (b) JupyterLab: notebook 06's temperature slider -----------------------------------------------------------


@pytest.fixture
def jupyter_lab(tmp_path):
    """``jupyter lab`` on a copy of notebook 06, on a free localhost port with a random token; always stopped."""
    if shutil.which("jupyter") is None and not (Path(sys.executable).parent / "jupyter").exists():
        _missing("jupyter is not installed")
    from daformer_edu import course

    work = tmp_path / "notebooks"
    work.mkdir()
    nb = course.read_notebook(NB06)  # the instructor's notebook (its exercises solved), as if never run
    course.write_notebook(course.without_outputs(nb, nb["cells"]), work / NB06.name)
    port, token = _free_port(), secrets.token_hex(16)
    settings = tmp_path / "lab_settings"
    for name, value in [
        ("notebook-extension/tracker", {"windowingMode": "none"}),  # every cell in the page
        ("apputils-extension/notification", {"fetchNews": "false"}),
    ]:
        f = settings / f"@jupyterlab/{name}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))
    jupyter_path = [os.environ.get("JUPYTER_PATH", "")]
    if sys.prefix != sys.base_prefix:  # a venv with --system-site-packages: the widgets' lab extension is outside it
        jupyter_path.append(str(Path(sys.base_prefix) / "share" / "jupyter"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTER_PATH": os.pathsep.join(p for p in jupyter_path if p),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
    }
    log = open(tmp_path / "jupyter_lab.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            "--allow-root",
            f"--ServerApp.root_dir={work}",
            "--ServerApp.port_retries=0",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                log.flush()
                raise RuntimeError(f"jupyter lab did not start: {(tmp_path / 'jupyter_lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield base, token
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=15)
        log.close()


def test_jupyterlab_runs_notebook_06_and_the_temperature_slider_changes_the_figure(browser, jupyter_lab, tmp_path):
    base, token = jupyter_lab
    t0 = time.time()

    def left_ms() -> float:
        left = WHOLE_TEST_S - (time.time() - t0)
        assert left > 0, f"the JupyterLab test ran past {WHOLE_TEST_S} s"
        return left * 1000

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    done = False
    try:
        page.goto(f"{base}/lab/tree/{NB06.name}?token={token}", wait_until="domcontentloaded", timeout=left_ms())
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=left_ms())
        # ready when every cell is in the page and the status bar reads "Python 3 (ipykernel) | Idle"
        page.wait_for_function(
            "() => document.querySelectorAll('.jp-Notebook .jp-Cell').length > 10", timeout=left_ms(), polling=500
        )
        page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).first.wait_for(timeout=left_ms())
        page.get_by_role("menuitem", name="Run", exact=True).click(timeout=left_ms())
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click(timeout=left_ms())
        # Run All queues every cell ([*]); done when every code cell has its execution count [n], or stopped
        # early by an error (JupyterLab shows tracebacks and stderr with the stderr MIME type)
        page.wait_for_function(
            """() => {
                const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                const stderr = document.querySelector("[data-mime-type='application/vnd.jupyter.stderr']");
                return stderr || (prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)));
            }""",
            timeout=left_ms(),
            polling=500,
        )
        stderr = page.locator("[data-mime-type='application/vnd.jupyter.stderr']")
        assert stderr.count() == 0, f"notebook 06 wrote to stderr or raised: {stderr.first.inner_text()[:2000]}"
        interact = page.locator(".widget-interact").first
        interact.scroll_into_view_if_needed(timeout=left_ms())
        figure = interact.locator("img").first
        figure.wait_for(timeout=left_ms())
        slider = interact.locator(".widget-slider").first
        readout = interact.locator(".widget-readout").first
        before_src, before_value = figure.get_attribute("src"), readout.inner_text()
        interact.screenshot(path=str(tmp_path / "slider_before.png"))
        handle = slider.locator(".noUi-handle").first
        handle.focus()
        page.keyboard.press("ArrowRight")  # one step of 0.25 in log10 T: T from 0.01 to 0.0178
        page.wait_for_function(  # the output widget redraws: a new <img> with another picture, decoded
            """src => {
                const img = document.querySelector('.widget-interact img');
                return img && img.getAttribute('src') !== src && img.complete && img.naturalWidth > 0;
            }""",
            arg=before_src,
            timeout=left_ms(),
            polling=250,
        )
        after_src, after_value = interact.locator("img").first.get_attribute("src"), readout.inner_text()
        interact.screenshot(path=str(tmp_path / "slider_after.png"))
        page.screenshot(path=str(tmp_path / "jupyterlab.png"))
        print(f"slider {before_value} → {after_value}; screenshots in {tmp_path}")
        assert after_value != before_value, f"the slider did not move (readout {before_value} → {after_value})"
        assert after_src != before_src
        done = True
    finally:
        if not done:
            page.screenshot(path=str(tmp_path / "jupyterlab_failed.png"))
            print(f"failed: screenshot {tmp_path / 'jupyterlab_failed.png'}, log {tmp_path / 'jupyter_lab.log'}")
        page.close()
