"""A real browser reads every page of both sites, served from this machine.

Headless Debian Chromium, driven over the DevTools protocol (websocket-client),
opens each page from a local HTTP server on 127.0.0.1 and checks what a reader
would see: the maths typeset by MathJax with no raw TeX left, every image and
animation loaded, a language switch that leads to the twin page, no error in the
console, and no request to any other host.

.ci/run installs Chromium (apt-get install chromium); where /usr/bin/chromium is
absent these tests are skipped. To run them locally:
    apt-get install chromium && .venv/bin/python -m pytest tests/test_site_browser.py
"""
import functools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import websocket

from book_site import LANGUAGES, assignment_ids, lecture_chapters, require_site, toc_pages

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PAGE_TIMEOUT = 60  # seconds for one page to load and typeset

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (/usr/bin/chromium); `apt-get install chromium` "
           "(.ci/run does) to run the browser checks",
)

# Runs in the page once it has loaded: waits for MathJax's typesetting and for every
# image, then reports what the checks need.
INSPECT = r"""
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  await document.fonts.ready;
  const broken = [];
  await Promise.all([...document.images].map(async (img) => {
    img.loading = "eager";  // a lazy image below the fold would never load otherwise
    try { await img.decode(); } catch (e) {}
    if (!(img.complete && img.naturalWidth > 0)) broken.push(img.currentSrc || img.src);
  }));
  const mathNodes = [...document.querySelectorAll("span.math, div.math")];
  const untypeset = mathNodes.filter((n) => !n.querySelector("mjx-container"))
                             .map((n) => n.textContent.trim().slice(0, 80));
  // MathJax shows a formula it cannot parse as an error box.
  const texErrors = [...document.querySelectorAll("mjx-merror")]
    .map((e) => e.getAttribute("data-mjx-error") || e.textContent);
  // TeX delimiters left in the visible text (code is allowed to contain anything).
  const rawTex = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => n.parentElement.closest(
      "pre, code, script, style, textarea, mjx-container, .highlight"
    ) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const t = n.textContent;
    if (/\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\$[^$\n]*[\\^_][^$\n]*\$/.test(t)) {
      rawTex.push(t.trim().slice(0, 80));
    }
  }
  // matplotlib's JavaScript animations: the player object exists and its frames decoded.
  const animations = await Promise.all([...document.querySelectorAll("div.animation")].map(
    async (div) => {
      const img = div.querySelector("img[id^=_anim_img]");
      const id = img ? img.id.replace("_anim_img", "") : null;
      const player = id === null ? undefined : window["anim" + id];
      const frames = player && player.frames ? player.frames : [];
      const decoded = await Promise.all(frames.map((f) => f.decode().then(() => true, () => false)));
      return {id, player: typeof Animation === "function" && player instanceof Animation,
              frames: frames.length, loaded: decoded.filter(Boolean).length};
    }));
  return {
    lang: document.documentElement.lang,
    mathjax: Boolean(window.MathJax && MathJax.startup),
    math: mathNodes.length,
    typeset: document.querySelectorAll("mjx-container").length,
    untypeset, texErrors, rawTex, images: document.images.length, broken, animations,
    switches: [...document.querySelectorAll("a.lang-switch")].map((a) => a.href),
  };
})()
"""


class DevTools:
    """A minimal Chrome DevTools Protocol client over one websocket, in flat-session mode."""

    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=PAGE_TIMEOUT, suppress_origin=True)
        self.next_id = 0
        self.events = []

    def call(self, method, session=None, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method, session, timeout=PAGE_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            for k, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(k)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(json.loads(self.ws.recv()))


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    return require_site()


@pytest.fixture(scope="module")
def server(site):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    profile = Path(tempfile.mkdtemp(prefix="adcourse-chromium-"))
    proc = subprocess.Popen(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", "--window-size=1280,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(profile)},  # Chromium's own temporary files stay in our folder
    )
    try:
        port_file = profile / "DevToolsActivePort"  # Chromium writes its port and path here
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start (exit code {proc.poll()})")
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        devtools = DevTools(f"ws://127.0.0.1:{port}{path}")
        target = devtools.call("Target.createTarget", url="about:blank")["targetId"]
        session = devtools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            devtools.call(f"{domain}.enable", session)
        yield devtools, session
        try:  # a browser asked to close removes its lock folder from /tmp; a terminated one does not
            devtools.call("Browser.close")
        except Exception:
            pass
        devtools.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def page_paths(site):
    """Every HTML page of both sites (the files under _static/ are theme templates)."""
    return [p.relative_to(site).as_posix() for lang in LANGUAGES
            for p in sorted((site / lang).rglob("*.html"))
            if not any(part.startswith("_") for part in p.relative_to(site / lang).parts)]


def visit(browser, url):
    """Open url, let it load and typeset; return the page's report and what happened meanwhile."""
    devtools, session = browser
    devtools.events.clear()
    devtools.call("Page.navigate", session, url=url)
    devtools.wait_for("Page.loadEventFired", session)
    result = devtools.call("Runtime.evaluate", session, expression=INSPECT,
                           awaitPromise=True, returnByValue=True)
    if "exceptionDetails" in result:
        raise AssertionError(f"{url}: the inspection script failed: {result['exceptionDetails']}")
    time.sleep(0.3)  # requests started by the last rendering step
    devtools.call("Runtime.evaluate", session, expression="0")  # collects the events sent so far
    return result["result"]["value"], list(devtools.events)


def short(text, limit=160):
    """Long data: URLs and messages cut to a readable length."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "…"


def problems_in(events, base):
    """Requests to other hosts, failed or 4xx/5xx responses, console errors, uncaught exceptions."""
    host = urlsplit(base).netloc
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            parts = urlsplit(url)
            if parts.scheme not in ("data", "blob", "about") and parts.netloc != host:
                found.append(f"request to another host: {short(url)}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            found.append(f"HTTP {params['response']['status']}: {short(params['response']['url'])}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            found.append(f"failed to load ({params.get('errorText')}): request {params.get('requestId')}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            exception = details.get("exception", {}).get("description") or details.get("text")
            found.append(f"uncaught exception: {short(exception, 400)}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            found.append(f"console.{params['type']}: {short(text, 400)}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            found.append(f"browser log error: {short(entry['text'], 300)} {short(entry.get('url', ''))}")
    return found


def test_every_page_of_both_sites_renders_offline(site, server, browser):
    paths = page_paths(site)
    assert {f"{lang}/index.html" for lang in LANGUAGES} <= set(paths)
    failures = {}
    for path in ["index.html", *paths]:
        report, events = visit(browser, f"{server}/{path}")
        problems = problems_in(events, server)
        lang = path.split("/")[0] if "/" in path else None
        if lang:
            if report["lang"] != lang:
                problems.append(f"<html lang={report['lang']!r}>, expected {lang!r}")
            other = next(code for code in LANGUAGES if code != lang)
            twin = f"{server}/{other}/{path.split('/', 1)[1]}"
            if report["switches"] != [twin]:
                problems.append(f"language switch leads to {report['switches']}, expected [{twin}]")
            elif not (site / other / path.split("/", 1)[1]).is_file():
                problems.append(f"the twin page {twin} does not exist")
        if report["math"] and not report["mathjax"]:
            problems.append(f"{report['math']} formulas but MathJax did not start")
        if report["untypeset"]:
            problems.append(f"formulas MathJax did not typeset: {report['untypeset'][:5]}")
        if report["texErrors"]:
            problems.append(f"TeX errors: {report['texErrors'][:5]}")
        if report["rawTex"]:
            problems.append(f"raw TeX left in the text: {report['rawTex'][:5]}")
        if report["broken"]:
            problems.append(f"images that did not load: {[short(u) for u in report['broken'][:5]]}")
        for anim in report["animations"]:
            if not anim["player"] or anim["frames"] < 2 or anim["loaded"] != anim["frames"]:
                problems.append(f"animation {anim['id']}: player {anim['player']}, "
                                f"{anim['loaded']}/{anim['frames']} frames loaded")
        if problems:
            failures[path] = problems
    assert not failures, "\n".join(f"{path}:\n  " + "\n  ".join(p) for path, p in failures.items())


def test_the_checks_see_math_and_images(site, server, browser):
    """The library tour has formulas and a figure: the browser must find them typeset and loaded,
    or the test above would pass on pages it cannot actually read."""
    for lang in LANGUAGES:
        report, _ = visit(browser, f"{server}/{lang}/library.html")
        assert report["math"] > 10 and report["typeset"] >= report["math"], report
        assert report["images"] >= 1 and not report["broken"], report


# --- Downloads, followed as a reader would ----------------------------------------------------

# Opens the page's download menu, then fetches every notebook the page offers (the menu's
# .ipynb, the assignments' student versions) and reads each as a notebook.
DOWNLOADS = r"""
(async () => {
  const menu = document.querySelector(".dropdown-download-buttons button");
  if (menu) menu.click();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const item = document.querySelector("a.btn-download-notebook-button");
  const links = [...document.querySelectorAll("a.btn-download-notebook-button, a[download]")];
  const fetched = await Promise.all(links.map(async (a) => {
    try {
      const response = await fetch(a.href);
      const notebook = JSON.parse(await response.text());
      return {href: a.href, status: response.status, nbformat: notebook.nbformat,
              cells: (notebook.cells || []).length,
              outputs: (notebook.cells || []).some((c) => (c.outputs || []).length > 0),
              kind: a.matches("a.btn-download-notebook-button") ? "chapter" : "assignment"};
    } catch (e) {
      return {href: a.href, error: String(e)};
    }
  }));
  return {menuShown: Boolean(item && item.offsetParent !== null), fetched};
})()
"""


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_students_page_and_a_chapter_offer_working_downloads(site, server, browser, lang):
    devtools, session = browser
    expected = assignment_ids()
    visit(browser, f"{server}/{lang}/students.html")
    report = devtools.call("Runtime.evaluate", session, expression=DOWNLOADS, awaitPromise=True,
                           returnByValue=True)["result"]["value"]
    assignments = [f for f in report["fetched"] if f.get("kind") == "assignment"]
    assert sorted(f["href"].rsplit("/", 1)[-1] for f in assignments) == [f"{a}.ipynb" for a in expected], report
    for download in report["fetched"]:
        assert download.get("status") == 200 and download.get("nbformat") == 4 and download["cells"] > 5, download
        if download["kind"] == "assignment":
            assert not download["outputs"], f"a student version with outputs: {download}"

    chapter = lecture_chapters(lang)[2]
    visit(browser, f"{server}/{lang}/{chapter}.html")
    report = devtools.call("Runtime.evaluate", session, expression=DOWNLOADS, awaitPromise=True,
                           returnByValue=True)["result"]["value"]
    assert report["menuShown"], f"{chapter}: the download menu shows no .ipynb"
    notebooks = [f for f in report["fetched"] if f.get("kind") == "chapter"]
    assert len(notebooks) == 1 and notebooks[0]["href"].endswith(f"/{lang}/_sources/{chapter}.ipynb"), report
    for download in report["fetched"]:
        assert download.get("status") == 200 and download.get("nbformat") == 4, download
    assert notebooks[0]["outputs"], "the chapter's notebook has no outputs: it was not executed"


# --- Layout: a page never scrolls sideways, and code fits its column --------------------------

# With every collapsed block opened (set-up cells, solutions, answers), the code blocks whose
# lines are wider than their box, and how wide the document is against the window.
LAYOUT = r"""
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;
  const closed = [...document.querySelectorAll("details:not([open])")];
  for (const d of closed) d.open = true;
  const wide = [...document.querySelectorAll("div.highlight pre, div.cell_output pre, div.output pre")]
    .filter((pre) => pre.scrollWidth > pre.clientWidth + 1)
    .map((pre) => {
      const lines = pre.textContent.split("\n");
      const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), "");
      return `${longest.length} characters: ${longest.trim().slice(0, 70)}`;
    });
  const blocks = document.querySelectorAll("div.highlight pre").length;
  const documentWidth = document.documentElement.scrollWidth;
  const overflowing = documentWidth <= innerWidth ? [] : [...document.querySelectorAll("article *")]
    .filter((el) => el.getBoundingClientRect().right > innerWidth + 1
                 && el.parentElement.getBoundingClientRect().right <= innerWidth + 1)
    .map((el) => `<${el.tagName.toLowerCase()} class="${el.className}">`).slice(0, 5);
  for (const d of closed) d.open = false;
  return {blocks, wide, documentWidth, window: innerWidth, overflowing};
})()
"""


def layouts(browser, server, width, height, mobile, pages):
    """{lang/page.html: the LAYOUT report} for every page of `pages` (a function of the
    language), seen `width` px wide."""
    devtools, session = browser
    devtools.call("Emulation.setDeviceMetricsOverride", session, width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)
    try:
        reports = {}
        for lang in LANGUAGES:
            for page in pages(lang):
                path = f"{lang}/{page}.html"
                visit(browser, f"{server}/{path}")
                reports[path] = devtools.call("Runtime.evaluate", session, expression=LAYOUT, awaitPromise=True,
                                              returnByValue=True)["result"]["value"]
        return reports
    finally:
        devtools.call("Emulation.clearDeviceMetricsOverride", session)


def test_no_page_scrolls_sideways_on_a_phone(site, server, browser):
    """390 px, a phone held upright, on every page: figures scale, long words wrap, tables,
    formulas and code scroll in their own box."""
    reports = layouts(browser, server, 390, 844, mobile=True, pages=toc_pages)
    wider = {path: r for path, r in reports.items() if r["documentWidth"] > r["window"]}
    assert not wider, "pages wider than a 390 px window:\n" + "\n".join(
        f"{path}: {r['documentWidth']} px; {r['overflowing']}" for path, r in wider.items())


def test_no_code_block_scrolls_sideways_at_1280_px(site, server, browser):
    """1280 px, a laptop: every code block and printed output fits the column (issue 16)."""
    reports = layouts(browser, server, 1280, 900, mobile=False, pages=lecture_chapters)
    assert sum(r["blocks"] for r in reports.values()) > 50, "the check found hardly any code block"
    wide = {path: r["wide"] for path, r in reports.items() if r["wide"]}
    total = sum(len(w) for w in wide.values())
    assert not wide, f"{total} code blocks wider than their box at 1280 px:\n" + "\n".join(
        f"{path}: {len(w)} ({'; '.join(w[:2])})" for path, w in wide.items())
