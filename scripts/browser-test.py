#!/usr/bin/env python3
"""Drives the Rollcall dashboard in headless Chromium (Selenium), as each role would use it.

Sets everything up in a temporary directory: a controller config on 127.0.0.1 (plain HTTP, port 0), one local user per
role, three incidents and the licence register (Tests/Fixtures/licences/register.csv) through the CLI; starts
`rollcall serve`, reads its port from the "rollcall listening on http://127.0.0.1:PORT" line, and then checks in the
browser:

  - sign-in: a wrong password shows the error; each role lands on its home page;
  - per role: the section links in the header, every page it may see (200, a heading, the sign-out form), every page
    it may not see (403 "Not available", "The <role> role cannot see <path>."), exports included;
  - the incidents table sorts by a column ascending then descending (rows, aria-sort, arrow); the licences table
    sorts seats as numbers;
  - the filter form (q) narrows a table; the CSV export link downloads rollcall-NAME-YYYY-MM-DD.csv whose header is the
    table's column keys and whose rows are the table's rows; the JSON export has the same count;
  - the incident form as technician and as e-safety officer (CSRF token from the page) records the incident and shows
    it; the update form closes it; a forged or missing CSRF token is refused with 403 and records nothing; a read-only
    user has no form and a hand-made post is refused;
  - sign-out: the next page visit goes to /login.

Every document response is checked for 5xx and every subresource for errors; the browser console must stay clean.
Screenshots (PNG, whole page) go to BROWSER_TEST_SCREENSHOTS (default .build/browser/screenshots). Only 127.0.0.1 is
contacted: Chromium's background services are off and every host name resolves to nothing.

Usage: scripts/browser-test.sh (makes the venv with Selenium), or this file with a Python that has Selenium.
Environment: ROLLCALL_BIN (default .build/debug/rollcall), BROWSER_TEST_SCREENSHOTS, CHROMIUM (default
/usr/bin/chromium), CHROMEDRIVER (default /usr/bin/chromedriver), BROWSER_TEST_KEEP=1 keeps the temporary directory
(it is kept anyway when a check fails). Exit status: 0 when every check passed, 1 when any failed, 2 on a setup error.
"""

import base64
import csv
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager is never run (driver path given); belt and braces
os.environ.setdefault("SE_OFFLINE", "true")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
ROLLCALL_BIN = os.path.abspath(os.path.join(REPO, os.environ.get("ROLLCALL_BIN", ".build/debug/rollcall")))
SCREENSHOTS = os.path.abspath(
    os.path.join(REPO, os.environ.get("BROWSER_TEST_SCREENSHOTS", ".build/browser/screenshots")))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
LICENCE_FIXTURE = "Tests/Fixtures/licences/register.csv"
WAIT = 20  # seconds for any page load, download or server start

ALL_PAGES = ["/", "/devices", "/usb", "/accounts", "/offboarding", "/equipment", "/licences", "/incidents", "/audit",
             "/governors", "/report"]
TABLE_PAGES = {"/devices", "/usb", "/accounts", "/offboarding", "/equipment", "/licences", "/incidents", "/audit"}

# name, role, password, role label in refusals, home page, pages it may see, may record incidents
USERS = [
    ("tech", "technician", "Tech-pass-2026", "technician", "/", ALL_PAGES, True),
    ("esafe", "e-safety-officer", "Esafe-pass-2026", "e-safety officer", "/",
     ["/", "/incidents", "/governors", "/report"], True),
    ("gov", "governor", "Gov-pass-2026x", "governor", "/governors", ["/governors"], False),
    ("viewer", "read-only", "Read-pass-2026", "read-only", "/", ALL_PAGES, False),
]
ROLE = {u[1]: u for u in USERS}

SEED_INCIDENTS = [
    dict(category="cyberbullying", when="2026-01-10T09:00", description="Unkind messages in a class group chat",
         reported_by="Ms Adams", where="Online (class chat)", who="Year 8 pupils"),
    dict(category="data-protection", when="2025-11-03", description="Staff laptop left unlocked in the staff room",
         reported_by="Mr Brown", where="Staff room", who="A member of staff"),
    dict(category="inappropriate-content", when="2026-03-05T14:30", description="Blocked site reached through a proxy",
         reported_by="Mr Clark", where="IT suite 2", who="Year 10 pupil", action=["it"], outcome="Filter updated"),
]


# --------------------------------------------------------------------------------------------------------------- checks

class Checks:
    def __init__(self):
        self.passed = []
        self.failed = []
        self.section = ""

    def check(self, ok, name, expected="", seen=""):
        label = f"[{self.section}] {name}" if self.section else name
        if ok:
            self.passed.append(label)
            print(f"  ok    {name}", flush=True)
        else:
            detail = f"{label}\n          expected: {expected}\n          seen:     {seen}"
            self.failed.append(detail)
            print(f"  FAIL  {name}\n          expected: {expected}\n          seen:     {seen}", flush=True)
        return ok

    def equal(self, seen, expected, name):
        return self.check(seen == expected, name, repr(expected), repr(seen))


CHECKS = Checks()


def short(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


# ---------------------------------------------------------------------------------------------------------- the server

class Setup:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="rollcall-browser-")
        self.config = os.path.join(self.tmp, "controller.toml")
        self.downloads = os.path.join(self.tmp, "downloads")
        os.makedirs(self.downloads)
        self.server = None
        self.server_out = os.path.join(self.tmp, "serve.stdout")
        self.server_err = os.path.join(self.tmp, "serve.stderr")
        self.base = None

    def cli(self, args, stdin=None, cwd=None):
        cmd = [ROLLCALL_BIN] + args + ["--config", self.config]
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=cwd or self.tmp, timeout=60)
        if r.returncode != 0:
            raise SetupError(f"`{' '.join(cmd)}` exited {r.returncode}:\n{r.stdout}{r.stderr}")
        return r.stdout

    def prepare(self):
        with open(self.config, "w") as f:
            f.write('[server]\nhost = "127.0.0.1"\nport = 0\n'
                    '[store]\npath = "store.sqlite"\n'
                    '[tls]\nplain_http = true\n')
        for name, role, password, *_ in USERS:
            self.cli(["users", "add", name, "--role", role], stdin=password + "\n")
        for inc in SEED_INCIDENTS:
            args = ["incidents", "add", "--category", inc["category"], "--description", inc["description"],
                    "--reported-by", inc["reported_by"], "--where", inc["where"], "--who", inc["who"],
                    "--when", inc["when"]]
            for a in inc.get("action", []):
                args += ["--action", a]
            if inc.get("outcome"):
                args += ["--outcome", inc["outcome"]]
            self.cli(args)
        self.cli(["licences", "import", LICENCE_FIXTURE], cwd=REPO)

    def start(self):
        out, err = open(self.server_out, "w"), open(self.server_err, "w")
        self.server = subprocess.Popen([ROLLCALL_BIN, "serve", "--config", self.config], stdout=out, stderr=err,
                                       stdin=subprocess.DEVNULL, cwd=self.tmp)
        out.close()
        err.close()
        deadline = time.time() + WAIT
        while time.time() < deadline:
            with open(self.server_out) as f:
                m = re.search(r"rollcall listening on (http://127\.0\.0\.1:(\d+))", f.read())
            if m:
                self.base = m.group(1)
                return
            if self.server.poll() is not None:
                raise SetupError(f"rollcall serve exited {self.server.returncode} before listening:\n"
                                 + self.tail(self.server_err))
            time.sleep(0.1)
        raise SetupError(f"no 'rollcall listening on http://127.0.0.1:PORT' line within {WAIT}s; stdout:\n"
                         + self.tail(self.server_out) + "\nstderr:\n" + self.tail(self.server_err))

    def stop(self):
        if self.server and self.server.poll() is None:
            self.server.terminate()  # SIGTERM: graceful
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(5)

    @staticmethod
    def tail(path, lines=30):
        try:
            with open(path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


class SetupError(Exception):
    pass


# --------------------------------------------------------------------------------------------------------- the browser

class Browser:
    def __init__(self, setup):
        self.setup = setup
        self.base = setup.base
        self.console_errors = []
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1366,900",
                    "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                    # Nothing but 127.0.0.1: background services off, and any host name resolves to nothing.
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-default-apps", "--disable-domain-reliability", "--disable-breakpad",
                    "--disable-client-side-phishing-detection", "--no-pings", "--metrics-recording-only",
                    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    f"--user-data-dir={os.path.join(setup.tmp, 'chromium-profile')}"]:
            opts.add_argument(arg)
        opts.add_experimental_option("prefs", {
            "download.default_directory": setup.downloads,
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
            "safebrowsing.enabled": False,
            "credentials_enable_service": False,
            "profile.password_manager_enabled": False,
        })
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        service = Service(CHROMEDRIVER, log_output=os.path.join(setup.tmp, "chromedriver.log"))
        self.d = webdriver.Chrome(service=service, options=opts)
        self.d.set_page_load_timeout(WAIT)

    def quit(self):
        try:
            self.d.quit()
        except Exception:
            pass

    # Network: the document chain of the last navigation (redirects included), and any subresource or server error.
    def _drain(self, expect_error=False):
        """Reads the performance and console logs; expect_error: the last navigation was meant to answer 4xx."""
        docs = []
        for entry in self.d.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            method, p = msg.get("method"), msg.get("params", {})
            if method == "Network.requestWillBeSent" and p.get("type") == "Document" and p.get("redirectResponse"):
                rr = p["redirectResponse"]
                docs.append((rr["url"], rr["status"]))
            elif method == "Network.responseReceived":
                r = p.get("response", {})
                url, status = r.get("url", ""), r.get("status", 0)
                if p.get("type") == "Document":
                    docs.append((url, status))
                elif url.startswith(self.base) and not url.endswith("/favicon.ico") and status >= 400:
                    CHECKS.check(False, f"subresource {self.path_of(url)} loads", "a 2xx/3xx status",
                                 f"HTTP {status}")
        for url, status in docs:
            if status >= 500:
                CHECKS.check(False, f"no server error at {self.path_of(url)}", "a status below 500",
                             f"HTTP {status}")
        self._drain_console(expect_error)
        return docs

    def _drain_console(self, expect_error=False):
        for entry in self.d.get_log("browser"):
            if entry.get("level") != "SEVERE":
                continue
            text = entry.get("message", "")
            if "favicon.ico" in text:
                continue
            if expect_error and re.search(r"status of 4\d\d", text):
                continue
            self.console_errors.append(f"{self.path_of(self.d.current_url)}: {text}")

    def path_of(self, url):
        u = urllib.parse.urlsplit(url)
        return u.path + (("?" + u.query) if u.query else "")

    @property
    def path(self):
        return urllib.parse.urlsplit(self.d.current_url).path

    @property
    def query(self):
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.d.current_url).query)

    def get(self, path, expect_error=False):
        """Opens base+path; returns [(url, status)] for the document chain, the last one being what is shown."""
        self._drain()
        self.d.get(self.base + path)
        return self._drain(expect_error)

    def click_and_wait(self, element, expect_error=False):
        self._drain()
        self._mark_page()
        element.click()
        self._wait_new_page()
        return self._drain(expect_error)

    def run_and_wait(self, script, *args, expect_error=False):
        self._drain()
        self._mark_page()
        self.d.execute_script(script, *args)
        self._wait_new_page()
        return self._drain(expect_error)

    def _mark_page(self):
        self.d.execute_script("window.__rollcallOldPage = true")

    def _wait_new_page(self):
        """Waits until the marked document has been replaced and the new one has loaded."""
        WebDriverWait(self.d, WAIT, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script("return !window.__rollcallOldPage && document.readyState === 'complete'"))

    def all(self, css, within=None):
        return (within or self.d).find_elements(By.CSS_SELECTOR, css)

    def one(self, css, within=None):
        found = self.all(css, within)
        return found[0] if found else None

    def text(self, css, within=None):
        el = self.one(css, within)
        return " ".join(el.get_attribute("textContent").split()) if el else None

    def screenshot(self, name):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        path = os.path.join(SCREENSHOTS, name + ".png")
        try:
            m = self.d.execute_cdp_cmd("Page.getLayoutMetrics", {})
            size = m.get("cssContentSize") or m["contentSize"]
            width, height = max(1366, int(size["width"])), min(8000, max(900, int(size["height"])))
            png = self.d.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
            with open(path, "wb") as f:
                f.write(base64.b64decode(png["data"]))
        except WebDriverException:
            self.d.save_screenshot(path)
        return path


# ------------------------------------------------------------------------------------------------------------ helpers

def status_of(chain):
    return chain[-1][1] if chain else None


def describe(chain, b):
    return " -> ".join(f"{b.path_of(u)} {s}" for u, s in chain) or "no document response seen"


def table_rows(b, table_id):
    """The data rows of table#table_id (the 'no row matches' row excluded), each a list of cell texts."""
    rows = []
    for tr in b.all(f"table#{table_id} tbody tr"):
        cells = b.all("td", tr)
        if len(cells) == 1 and "empty" in (cells[0].get_attribute("class") or ""):
            continue
        rows.append([" ".join(c.get_attribute("textContent").split()) for c in cells])
    return rows


def header_keys(b, table_id):
    keys = []
    for a in b.all(f"table#{table_id} thead th a"):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(a.get_attribute("href")).query)
        keys.append(q.get("sort", ["?"])[0])
    return keys


def column_index(b, table_id, label):
    for i, th in enumerate(b.all(f"table#{table_id} thead th")):
        if " ".join(th.get_attribute("textContent").split()).startswith(label):
            return i
    raise AssertionError(f"table#{table_id} has no column headed {label!r}")


def count_text(b):
    return b.text("p.count") or ""


def count_numbers(b):
    """(shown, matching) from 'N of M row(s) matching …'."""
    m = re.match(r"(\d+) of (\d+) row", count_text(b))
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def nav_links(b):
    return [urllib.parse.urlsplit(a.get_attribute("href")).path
            for a in b.all('header.top nav[aria-label="Sections"] a')]


def signout_button(b):
    for btn in b.all('header.top form[action="/logout"] button'):
        if btn.text.strip() == "Sign out":
            return btn
    return None


def login(b, user, password, expect_path):
    b.d.delete_all_cookies()
    b.get("/login")
    b.one('input[name="username"]').send_keys(user)
    b.one('input[name="password"]').send_keys(password)
    chain = b.click_and_wait(b.one('form[action="/login"] button[type="submit"]'))
    first = chain[0] if chain else (None, None)
    CHECKS.check(len(chain) >= 2 and first[1] == 303 and b.path_of(first[0]) == "/login",
                 f"sign-in as {user} answers 303", "POST /login 303 then the home page", describe(chain, b))
    CHECKS.equal(b.path, expect_path, f"sign-in as {user} lands on the role's home page")
    return chain


def logout(b, who):
    btn = signout_button(b)
    if not CHECKS.check(btn is not None, f"{who}: sign-out button present", 'a "Sign out" button in '
                        'header.top form[action=/logout]', "none"):
        return
    chain = b.click_and_wait(btn)
    CHECKS.equal(b.path, "/login", f"{who}: signing out shows /login")
    chain = b.get("/incidents")
    CHECKS.check(b.path == "/login" and any(s in (302, 303) for _, s in chain),
                 f"{who}: after sign-out, /incidents redirects to /login",
                 "a redirect to /login", f"{describe(chain, b)}; now at {b.path}")
    CHECKS.check(signout_button(b) is None, f"{who}: after sign-out no sign-out button", "none", "one")


def incident_id_from_url(b):
    m = re.fullmatch(r"/incidents/(\d+)", b.path)
    return int(m.group(1)) if m else None


def fill_incident_form(b, category, when, reported_by, where, who, description, actions, outcome):
    form = b.one("form#incident-form")
    Select(b.one('select[name="category"]', form)).select_by_value(category)
    b.d.execute_script("arguments[0].value = arguments[1]", b.one('input[name="when"]', form), when)
    rb = b.one('input[name="reported_by"]', form)
    rb.clear()
    rb.send_keys(reported_by)
    b.one('input[name="where"]', form).send_keys(where)
    b.one('input[name="who"]', form).send_keys(who)
    b.one('textarea[name="description"]', form).send_keys(description)
    for value in actions:
        box = b.one(f'input[name="action"][value="{value}"]', form)
        if not box.is_selected():
            box.click()
    b.one('input[name="outcome"]', form).send_keys(outcome)
    for btn in b.all("button", form):
        if btn.text.strip() == "Record incident":
            return btn
    raise AssertionError('form#incident-form has no "Record incident" button')


def rows_matching(b, marker):
    b.get("/incidents?q=" + urllib.parse.quote(marker))
    return table_rows(b, "incidents-table")


def clear_downloads(setup):
    for name in os.listdir(setup.downloads):
        os.remove(os.path.join(setup.downloads, name))


def wait_download(setup):
    deadline = time.time() + WAIT
    while time.time() < deadline:
        names = [n for n in os.listdir(setup.downloads) if not n.endswith((".crdownload", ".tmp"))
                 and not n.startswith(".")]
        partial = [n for n in os.listdir(setup.downloads) if n.endswith(".crdownload")]
        if names and not partial:
            return os.path.join(setup.downloads, names[0])
        time.sleep(0.1)
    return None


def today_dates():
    return {dt.datetime.now(dt.timezone.utc).date().isoformat(), dt.date.today().isoformat()}


# ----------------------------------------------------------------------------------------------------------- sections

def section_sign_in_page(b, setup):
    chain = b.get("/login")
    CHECKS.equal(status_of(chain), 200, "GET /login answers 200")
    for css in ['input[name="username"]', 'input[name="password"][type="password"]',
                'input[type="hidden"][name="csrf"]',
                'input[type="hidden"][name="next"]', 'form[action="/login"] button[type="submit"]']:
        CHECKS.check(b.one(css) is not None, f"sign-in form has {css}", "present", "missing")
    CHECKS.check(b.one("header.top form[action='/logout']") is None, "no sign-out form before signing in",
                 "none", "present")
    b.screenshot("01-login")

    b.one('input[name="username"]').send_keys("tech")
    b.one('input[name="password"]').send_keys("Wrong-pass-2026")
    chain = b.click_and_wait(b.one('form[action="/login"] button[type="submit"]'), expect_error=True)
    CHECKS.equal(b.path, "/login", "wrong password stays on /login")
    CHECKS.check(status_of(chain) in (200, 401), "wrong password re-renders the form", "200 or 401",
                 describe(chain, b))
    err = b.one('p.error[role="alert"]')
    CHECKS.equal(err.text.strip() if err else None, "Wrong user name or password.", "wrong password shows the error")
    CHECKS.check(b.one('header.top form[action="/logout"]') is None, "wrong password does not sign in",
                 "no sign-out form", "a sign-out form")
    b.screenshot("02-login-wrong-password")
    chain = b.get("/")
    CHECKS.check(b.path == "/login", "after a wrong password, / still redirects to /login", "/login",
                 f"{describe(chain, b)}")


def section_role_pages(b, setup, role, shots=False):
    name, _, password, label, home, allowed, can_record = ROLE[role]
    login(b, name, password, home)
    CHECKS.equal(sorted(nav_links(b)), sorted(allowed), f"{role}: header links are exactly the pages it may see")
    for page in ALL_PAGES:
        if page in allowed:
            chain = b.get(page)
            CHECKS.check(status_of(chain) == 200 and b.path == page, f"{role}: {page} answers 200",
                         f"200 at {page}", describe(chain, b))
            h1 = b.text("h1")
            CHECKS.check(bool(h1) and h1 != "Not available", f"{role}: {page} has its heading",
                         "an h1 other than 'Not available'", repr(h1))
            if page == "/report":  # the printable document: every section, no dashboard header
                CHECKS.check(b.one("body.document") is not None and h1 == "Rollcall compliance report",
                             f"{role}: /report is the printable compliance report",
                             "body.document with h1 'Rollcall compliance report'", repr(h1))
                if shots:
                    b.screenshot(f"04-{role}-report")
                continue
            CHECKS.check(signout_button(b) is not None, f"{role}: {page} has the sign-out form",
                         'header.top form[action="/logout"] with a "Sign out" button', "missing")
            CHECKS.check(b.one('header.top nav[aria-label="Sections"] a[aria-current="page"]') is not None,
                         f"{role}: {page} marks its own link as current", 'a nav link with aria-current="page"',
                         "none")
            css_ok = b.d.execute_script(
                "try { return Array.from(document.styleSheets).some(s => s.cssRules.length > 0) }"
                " catch (e) { return false }")
            CHECKS.check(css_ok, f"{role}: {page} has its stylesheet", "/static/rollcall.css applied", "no CSS rules")
            if page in TABLE_PAGES:
                table_id = page.strip("/") + "-table"
                CHECKS.check(b.one(f"table.data#{table_id}") is not None, f"{role}: {page} has table#{table_id}",
                             "present", "missing")
                CHECKS.check(b.one("form.filter input[name='q']") is not None and b.one("a#export-csv") is not None
                             and b.one("a#export-json") is not None and b.one("p.count") is not None,
                             f"{role}: {page} has filter, exports and count", "form.filter, a#export-csv, "
                             "a#export-json, p.count", "one or more missing")
            if shots:
                b.screenshot(f"04-{role}-{page.strip('/') or 'overview'}")
        else:
            targets = [page] + ([page + "?format=csv"] if page in TABLE_PAGES or page == "/governors" else [])
            for target in targets:
                chain = b.get(target, expect_error=True)
                CHECKS.equal(status_of(chain), 403, f"{role}: {target} answers 403")
                if target == page:  # the page: the HTML refusal; an export: the API's JSON error
                    CHECKS.equal(b.text("h1"), "Not available", f"{role}: {target} says Not available")
                want = f"The {label} role cannot see {page}."
                body = b.text("body") or ""
                CHECKS.check(want in body, f"{role}: {target} explains the refusal", want, short(body))
                time.sleep(0.2 if target != page else 0)  # a wrongly served attachment would land by now
                CHECKS.check(not os.listdir(setup.downloads), f"{role}: {target} downloads nothing",
                             "no file", str(os.listdir(setup.downloads)))
                clear_downloads(setup)
                if target == page and (page == "/devices" or (role == "e-safety-officer" and page == "/audit")):
                    b.screenshot(f"11-refused-{role}-{page.strip('/')}")
    return name


def section_overview(b):
    b.get("/")
    tiles = b.all("div.tiles section.tile")
    CHECKS.check(len(tiles) >= 1, "overview has tiles", "div.tiles > section.tile, at least one", f"{len(tiles)}")
    charts = b.all("svg.chart")
    CHECKS.check(len(charts) >= 1, "overview has SVG charts", "svg.chart, at least one", f"{len(charts)}")
    sizes = [c.size for c in charts]
    CHECKS.check(all(s["width"] > 50 and s["height"] > 20 for s in sizes), "overview charts are drawn at a "
                 "visible size", "each svg.chart wider than 50px and taller than 20px", str(sizes))
    b.screenshot("03-overview")


def section_sorting(b):
    b.get("/incidents")
    table = "incidents-table"
    when = column_index(b, table, "When")
    ids = column_index(b, table, "#")
    before = [r[ids] for r in table_rows(b, table)]
    dates_before = [r[when] for r in table_rows(b, table)]
    CHECKS.check(dates_before != sorted(dates_before) and dates_before != sorted(dates_before, reverse=True),
                 "incidents start unsorted by date (so sorting shows)", "an order that is neither ascending nor "
                 "descending", str(dates_before))

    for direction, arrow, aria in (("asc", "▲", "ascending"), ("desc", "▼", "descending")):
        link = b.all(f"table#{table} thead th a")[when]
        CHECKS.check(f"dir={direction}" in link.get_attribute("href"), f"When header links to dir={direction}",
                     f"dir={direction} in the link", link.get_attribute("href"))
        b.click_and_wait(link)
        q = b.query
        CHECKS.check(q.get("sort") == ["occurred_at"] and q.get("dir") == [direction],
                     f"clicking When ({direction}) puts sort and dir in the URL",
                     f"sort=occurred_at&dir={direction}", b.path_of(b.d.current_url))
        dates = [r[when] for r in table_rows(b, table)]
        want = sorted(dates, reverse=direction == "desc")
        CHECKS.check(dates == want and len(dates) >= 3, f"incidents sorted by When, {aria}", str(want), str(dates))
        th = b.all(f"table#{table} thead th")[when]
        CHECKS.equal(th.get_attribute("aria-sort"), aria, f"When header has aria-sort={aria}")
        CHECKS.check(arrow in th.text, f"When header shows {arrow}", arrow, repr(th.text))
        others = [t.get_attribute("aria-sort") for i, t in enumerate(b.all(f"table#{table} thead th")) if i != when]
        CHECKS.check(not any(others), "no other header has aria-sort", "none", str(others))
        if direction == "asc":
            after = [r[ids] for r in table_rows(b, table)]
            CHECKS.check(after != before, "sorting by When changed the row order", f"an order other than {before}",
                         str(after))
            b.screenshot("06-incidents-sorted-when-asc")

    category = column_index(b, table, "Category")
    for direction in ("asc", "desc"):
        b.click_and_wait(b.all(f"table#{table} thead th a")[category])
        values = [r[category] for r in table_rows(b, table)]
        want = sorted(values, key=str.casefold, reverse=direction == "desc")
        CHECKS.check(values == want and b.query.get("dir") == [direction],
                     f"incidents sorted by Category, {direction}", f"{want} with dir={direction}",
                     f"{values} with {b.path_of(b.d.current_url)}")

    # Numbers sort as numbers, not text ("10" after "2").
    b.get("/licences")
    seats = column_index(b, "licences-table", "Seats")
    b.click_and_wait(b.all("table#licences-table thead th a")[seats])
    values = [r[seats] for r in table_rows(b, "licences-table")]
    numbers = [int(v) for v in values if v.strip().isdigit()]
    CHECKS.check(numbers == sorted(numbers) and len(numbers) >= 3, "licences sorted by Seats as numbers",
                 f"non-blank seats ascending numerically: {sorted(numbers)}", str(values))


def section_filter_and_export(b, setup):
    # Licences: every page row against the CSV and JSON exports.
    b.get("/licences")
    table = "licences-table"
    rows = table_rows(b, table)
    keys = header_keys(b, table)
    shown, matching = count_numbers(b)
    CHECKS.check(len(rows) >= 3, "licences table has the imported rows", "at least 3 rows", f"{len(rows)}")
    CHECKS.check(shown == len(rows) and matching == len(rows), "p.count agrees with the licences rows",
                 f"'{len(rows)} of {len(rows)} row(s) …'", repr(count_text(b)))
    b.screenshot("08-licences")
    check_csv_export(b, setup, "licences", keys, rows)
    check_json_export(b, "licences", len(rows))

    # Filter: q narrows the table; the page keeps q; the export follows the filter.
    b.get("/licences")
    q = b.one("form.filter input[name='q']")
    q.clear()
    q.send_keys("zoom")
    button = [x for x in b.all("form.filter button") if x.text.strip() == "Filter"]
    CHECKS.check(bool(button), 'filter form has a "Filter" button', "present", "missing")
    if button:
        b.click_and_wait(button[0])
    else:
        b.run_and_wait("arguments[0].form.submit()", q)
    CHECKS.equal(b.query.get("q"), ["zoom"], "filtering puts q=zoom in the URL")
    CHECKS.equal(b.one("form.filter input[name='q']").get_attribute("value"), "zoom", "filter box keeps 'zoom'")
    filtered = table_rows(b, table)
    CHECKS.check(0 < len(filtered) < len(rows), "filter 'zoom' narrows the licences table",
                 f"between 1 and {len(rows) - 1} rows", f"{len(filtered)}")
    CHECKS.check(all("zoom" in " ".join(r).lower() for r in filtered), "every filtered row mentions zoom",
                 "'zoom' in each row", str(filtered))
    shown, matching = count_numbers(b)
    CHECKS.check(shown == len(filtered) and "“zoom”" in count_text(b) and f"{len(rows)} in all" in count_text(b),
                 "p.count reports the filter", f"'{len(filtered)} of {len(filtered)} row(s) matching “zoom”, "
                 f"{len(rows)} in all.'", repr(count_text(b)))
    b.screenshot("09-licences-filtered")
    check_csv_export(b, setup, "licences", keys, filtered, label="filtered licences")

    b.get("/licences?q=" + urllib.parse.quote("no-such-licence-xyz"))
    CHECKS.equal(len(table_rows(b, table)), 0, "a filter matching nothing shows no rows")
    CHECKS.check(b.one(f"table#{table} td.empty") is not None, "a filter matching nothing says so",
                 "a td.empty row", "none")

    # Incidents: export the whole table.
    b.get("/incidents")
    check_csv_export(b, setup, "incidents", header_keys(b, "incidents-table"), table_rows(b, "incidents-table"))


def check_csv_export(b, setup, name, keys, rows, label=None):
    label = label or name
    link = b.one("a#export-csv")
    if not CHECKS.check(link is not None, f"{label}: CSV export link present", "a#export-csv", "missing"):
        return
    CHECKS.check(link.get_attribute("download") is not None, f"{label}: CSV link has the download attribute",
                 "download attribute", "none")
    clear_downloads(setup)
    link.click()
    path = wait_download(setup)
    if not CHECKS.check(path is not None, f"{label}: CSV downloads", f"a file in {setup.downloads}",
                        f"nothing within {WAIT}s: {os.listdir(setup.downloads)}"):
        return
    fname = os.path.basename(path)
    m = re.fullmatch(rf"rollcall-{name}-(\d{{4}}-\d{{2}}-\d{{2}})\.csv", fname)
    CHECKS.check(bool(m) and m.group(1) in today_dates(), f"{label}: CSV file name",
                 f"rollcall-{name}-{'|'.join(sorted(today_dates()))}.csv", fname)
    with open(path, newline="", encoding="utf-8") as f:
        raw = f.read()
    lines = raw.splitlines()
    CHECKS.equal(lines[0] if lines else None, ",".join(keys), f"{label}: CSV header line is the table's column keys")
    records = list(csv.reader(raw.splitlines()))[1:]
    CHECKS.equal(len(records), len(rows), f"{label}: CSV has one record per table row")
    if records and rows and len(records) == len(rows):
        CHECKS.equal([r[0] for r in records], [r[0] for r in rows], f"{label}: CSV rows are the table's rows, in order")
    clear_downloads(setup)


def check_json_export(b, name, nrows):
    link = b.one("a#export-json")
    href = link.get_attribute("href") if link else ""
    CHECKS.check("format=json" in href, f"{name}: JSON export link", "a#export-json with format=json", href)
    if not href:
        return
    b.get(b.path_of(href))
    try:
        data = json.loads(b.d.find_element(By.TAG_NAME, "body").text)
    except ValueError as e:
        CHECKS.check(False, f"{name}: JSON export parses", "JSON", f"{e}: {short(b.d.page_source)}")
        return
    CHECKS.check(data.get("count") == nrows and len(data.get("rows", [])) == nrows,
                 f"{name}: JSON export has the table's rows", f"count {nrows} and {nrows} rows",
                 f"count {data.get('count')} and {len(data.get('rows', []))} rows")


def section_record_incident(b, who, category, when, actions, shot):
    """Records an incident through the form, as the signed-in user; returns its id."""
    marker = f"BT-{who}-{int(time.time() * 1000) % 10**8}"
    chain = b.get("/incidents")
    form = b.one("form#incident-form")
    if not CHECKS.check(form is not None, f"{who}: incidents page has the incident form", "form#incident-form",
                        "missing"):
        return None
    CHECKS.check((form.get_attribute("method") or "").lower() == "post"
                 and b.path_of(form.get_attribute("action")) == "/incidents",
                 f"{who}: incident form posts to /incidents", "method=post action=/incidents",
                 f"method={form.get_attribute('method')} action={form.get_attribute('action')}")
    token = b.one('input[type="hidden"][name="csrf"]', form)
    CHECKS.check(token is not None and len(token.get_attribute("value") or "") >= 16,
                 f"{who}: incident form carries a CSRF token", "a hidden csrf input with a token",
                 token.get_attribute("value") if token else "none")
    prefilled = b.one('input[name="when"]', form).get_attribute("value")
    CHECKS.check(bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", prefilled or "")),
                 f"{who}: 'when' is prefilled", "yyyy-mm-ddThh:mm", repr(prefilled))
    if shot:
        b.screenshot("05-incidents")
    description = f"{marker}: pupil shared a screenshot of a teacher's account"
    submit = fill_incident_form(b, category, when, f"{who} (browser test)", "Library PCs", "Year 9 pupil",
                                description, actions, "Parents informed")
    chain = b.click_and_wait(submit)
    first = chain[0] if chain else (None, None)
    CHECKS.check(first[1] == 303 and b.path_of(first[0]) == "/incidents", f"{who}: recording answers 303",
                 "POST /incidents 303", describe(chain, b))
    new_id = incident_id_from_url(b)
    CHECKS.check(new_id is not None and b.query.get("saved") == ["1"], f"{who}: redirected to /incidents/ID?saved=1",
                 "/incidents/ID?saved=1", b.path_of(b.d.current_url))
    CHECKS.equal(status_of(chain), 200, f"{who}: the new incident's page answers 200")
    label = category.replace("-", " ")
    CHECKS.equal(b.text("h1"), f"Incident {new_id}: {label}", f"{who}: new incident's heading")
    CHECKS.check("Saved." in (b.text("p.flash") or ""), f"{who}: 'Saved.' is shown", "p.flash 'Saved.'",
                 repr(b.text("p.flash")))
    page = b.text("main") or ""
    CHECKS.check(marker in page and "Library PCs" in page and "Year 9 pupil" in page and "Parents informed" in page,
                 f"{who}: the page shows what was entered", f"{marker}, Library PCs, Year 9 pupil, Parents informed",
                 short(page))
    CHECKS.check(b.one("form#incident-update") is not None, f"{who}: the incident page has the update form",
                 "form#incident-update", "missing")
    if shot:
        b.screenshot("07-incident-detail")
    rows = rows_matching(b, marker)
    CHECKS.check(len(rows) == 1 and rows[0][0] == str(new_id) and label in rows[0],
                 f"{who}: the new incident is in the log", f"one row #{new_id} with category {label}", str(rows))
    return new_id


def section_update_incident(b, incident_id):
    b.get(f"/incidents/{incident_id}")
    form = b.one("form#incident-update")
    if not CHECKS.check(form is not None, "incident page has form#incident-update", "present", "missing"):
        return
    for css in ('input[type="checkbox"][name="action"]', 'input[name="outcome"]',
                'input[type="checkbox"][name="close"]', 'input[type="hidden"][name="csrf"]'):
        CHECKS.check(b.one(css, form) is not None, f"update form has {css}", "present", "missing")
    police = b.one('input[name="action"][value="police"]', form)
    if police and not police.is_selected():
        police.click()
    close = b.one('input[name="close"]', form)
    if close and not close.is_selected():
        close.click()
    save = [x for x in b.all("button", form) if x.text.strip() == "Save"]
    CHECKS.check(bool(save), 'update form has a "Save" button', "present", "missing")
    if not save:
        return
    chain = b.click_and_wait(save[0])
    CHECKS.check(chain and chain[0][1] == 303 and status_of(chain) == 200, "saving the update answers 303 then 200",
                 "303 -> 200", describe(chain, b))
    CHECKS.equal(b.path, f"/incidents/{incident_id}", "saving the update shows the incident")
    fields = dict(zip([x.text.strip() for x in b.all("dl.fields dt")], [x.text.strip() for x in b.all("dl.fields dd")]))
    CHECKS.equal(fields.get("Status"), "closed", "the update closed the incident")
    CHECKS.check("police" in fields.get("Action taken", "").lower(), "the update added 'police' to the actions",
                 "police in Action taken", repr(fields.get("Action taken")))


def section_forged_csrf(b, who):
    b.get("/incidents")
    before = count_numbers(b)[1]
    for how, script in (("a forged",
                         "arguments[0].querySelector('input[name=csrf]').value = 'forged-' + 'x'.repeat(40)"),
                        ("no", "arguments[0].querySelector('input[name=csrf]').remove()")):
        b.get("/incidents")
        marker = f"FORGED-{how.split()[-1]}-{int(time.time() * 1000) % 10**8}"
        submit = fill_incident_form(b, "other", "2026-02-02T12:00", "attacker", "nowhere", "nobody", marker, [], "")
        b.d.execute_script(script, b.one("form#incident-form"))
        chain = b.click_and_wait(submit, expect_error=True)
        CHECKS.equal(status_of(chain), 403, f"{who}: posting the incident form with {how} CSRF token answers 403")
        CHECKS.check(incident_id_from_url(b) is None, f"{who}: {how} CSRF token leads to no incident page",
                     "not /incidents/ID", b.path_of(b.d.current_url))
        if how == "a forged":
            b.screenshot("12-refused-forged-csrf")
        rows = rows_matching(b, marker)
        CHECKS.equal(len(rows), 0, f"{who}: {how} CSRF token recorded nothing")
    b.get("/incidents")
    CHECKS.equal(count_numbers(b)[1], before, f"{who}: incident count unchanged after the refused posts")


def section_read_only_incidents(b):
    chain = b.get("/incidents")
    CHECKS.equal(status_of(chain), 200, "read-only: /incidents answers 200")
    CHECKS.check(b.one("table#incidents-table") is not None, "read-only: sees the incident log", "table", "missing")
    CHECKS.check(b.one("form#incident-form") is None, "read-only: no incident form", "no form#incident-form",
                 "the form is there")
    before = count_numbers(b)[1]
    b.screenshot("13-read-only-incidents")
    # A hand-made post with the user's own valid CSRF token (from the sign-out form) must still be refused.
    token = b.one('header.top form[action="/logout"] input[name="csrf"]')
    marker = f"RO-POST-{int(time.time() * 1000) % 10**8}"
    chain = b.run_and_wait("""
        const f = document.createElement('form'); f.method = 'post'; f.action = '/incidents';
        const add = (n, v) => {
            const i = document.createElement('input'); i.type = 'hidden'; i.name = n; i.value = v; f.appendChild(i); };
        add('csrf', arguments[0]); add('category', 'other'); add('when', '2026-02-02T12:00');
        add('reported_by', 'viewer'); add('description', arguments[1]);
        document.body.appendChild(f); f.submit();""", token.get_attribute("value") if token else "", marker,
        expect_error=True)
    CHECKS.equal(status_of(chain), 403, "read-only: a posted incident (valid CSRF) answers 403")
    CHECKS.equal(len(rows_matching(b, marker)), 0, "read-only: the posted incident was not recorded")
    b.get("/incidents")
    CHECKS.equal(count_numbers(b)[1], before, "read-only: incident count unchanged")
    b.get(f"/incidents/1")
    CHECKS.check(b.one("form#incident-update") is None, "read-only: no update form on an incident",
                 "no form#incident-update", "present")


def section_governor(b):
    b.get("/governors")
    CHECKS.equal(b.text("h1"), "E-safety report for governors", "governors page heading")
    terms = b.all("section.term")
    CHECKS.check(len(terms) >= 1, "governors page has sections per term", "section.term, at least one",
                 str(len(terms)))
    page = b.text("main") or ""
    leaked = [i["description"] for i in SEED_INCIDENTS if i["description"] in page] + \
             [i["who"] for i in SEED_INCIDENTS if i["who"] in page]
    CHECKS.check(not leaked, "governors page shows no incident details", "no descriptions or names", str(leaked))
    b.screenshot("10-governors")


# --------------------------------------------------------------------------------------------------------------- main

def run_section(b, name, fn, *args):
    CHECKS.section = name
    print(f"\n== {name}", flush=True)
    try:
        return fn(*args)
    except Exception as e:  # a crash fails the section, and the run goes on with the next one
        where = b.path_of(b.d.current_url) if b else "?"
        CHECKS.check(False, f"{name} ran to the end", "no exception", f"{type(e).__name__} at {where}: {e}\n"
                     + "".join(traceback.format_exception(e)[-3:]))
        if b:
            b.screenshot("error-" + re.sub(r"[^a-z0-9]+", "-", name.lower()))
        return None


def main():
    started = time.time()
    for path, what in ((ROLLCALL_BIN, "ROLLCALL_BIN"), (CHROMIUM, "Chromium (apt-get install chromium)"),
                       (CHROMEDRIVER, "chromedriver (apt-get install chromium-driver)")):
        if not os.access(path, os.X_OK):
            print(f"browser-test: {what} not found at {path}", file=sys.stderr)
            return 2
    setup = Setup()
    b = None

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        try:
            setup.prepare()
            setup.start()
            print(f"browser-test: rollcall at {setup.base}, files in {setup.tmp}, screenshots in {SCREENSHOTS}",
                  flush=True)
            if os.path.isdir(SCREENSHOTS):
                for old in os.listdir(SCREENSHOTS):
                    if old.endswith(".png"):
                        os.remove(os.path.join(SCREENSHOTS, old))
            b = Browser(setup)
        except (SetupError, WebDriverException, OSError, subprocess.SubprocessError) as e:
            print(f"browser-test: setup failed: {e}", file=sys.stderr)
            print(setup.tail(setup.server_err), file=sys.stderr)
            return 2

        run_section(b, "sign-in page", section_sign_in_page, b, setup)

        CHECKS.section = "technician"
        print("\n== technician", flush=True)
        run_section(b, "technician pages", section_role_pages, b, setup, "technician", True)
        run_section(b, "overview", section_overview, b)
        run_section(b, "technician records an incident", section_record_incident, b, "tech", "unauthorised-access",
                    "2026-02-14T10:15", ["head-teacher", "it"], True)
        run_section(b, "sorting", section_sorting, b)
        run_section(b, "filter and export", section_filter_and_export, b, setup)
        run_section(b, "incident update", lambda: section_update_incident(b, int(rows_matching(b, "BT-tech-")[0][0])))
        run_section(b, "forged CSRF (technician)", section_forged_csrf, b, "tech")
        run_section(b, "technician signs out", logout, b, "tech")

        run_section(b, "e-safety officer pages", section_role_pages, b, setup, "e-safety-officer")
        run_section(b, "e-safety officer records an incident", section_record_incident, b, "esafe",
                    "inappropriate-contact", "2025-12-01T16:45", ["safeguarding"], False)
        run_section(b, "forged CSRF (e-safety officer)", section_forged_csrf, b, "esafe")
        run_section(b, "e-safety officer signs out", logout, b, "esafe")

        run_section(b, "governor pages", section_role_pages, b, setup, "governor")
        run_section(b, "governors report", section_governor, b)
        run_section(b, "governor signs out", logout, b, "gov")

        run_section(b, "read-only pages", section_role_pages, b, setup, "read-only")
        run_section(b, "read-only incidents", section_read_only_incidents, b)
        run_section(b, "read-only signs out", logout, b, "viewer")

        CHECKS.section = "browser console"
        print("\n== browser console", flush=True)
        b._drain_console()
        CHECKS.check(not b.console_errors, "no unexpected console errors", "none",
                     "\n            ".join(b.console_errors[:20]))
    finally:
        if b:
            b.quit()
        setup.stop()
        server_errors = [l for l in setup.tail(setup.server_err, 2000).splitlines() if " error " in l
                         or " critical " in l]
        if setup.base:
            CHECKS.section = "server log"
            CHECKS.check(not server_errors, "server logged no errors", "no 'error'/'critical' lines",
                         "\n            ".join(server_errors[:20]))

    took = time.time() - started
    shots = sorted(f for f in os.listdir(SCREENSHOTS) if f.endswith(".png")) if os.path.isdir(SCREENSHOTS) else []
    print(f"\nbrowser-test: {len(shots)} screenshot(s) in {SCREENSHOTS}")
    if CHECKS.failed:
        print(f"\nbrowser-test: {len(CHECKS.failed)} check(s) failed:")
        for f in CHECKS.failed:
            print(f"  - {f}")
        print(f"browser-test: kept {setup.tmp} (config, store, serve.stderr, chromedriver.log)")
    elif os.environ.get("BROWSER_TEST_KEEP") == "1":
        print(f"browser-test: kept {setup.tmp}")
    else:
        shutil.rmtree(setup.tmp, ignore_errors=True)
    print(f"browser-test: took {took:.1f}s")
    print(f"browser-test: {len(CHECKS.passed)} passed, {len(CHECKS.failed)} failed")
    return 1 if CHECKS.failed else 0


if __name__ == "__main__":
    sys.exit(main())
