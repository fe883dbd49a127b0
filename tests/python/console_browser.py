"""Helpers of the console tests: a headless Chromium over WebDriver (Debian's chromium and
chromium-driver, which scripts/test installs), sign-in, polling, screenshots, and a small
cookie-keeping HTTP client for the security tests."""

import http.client
import os
import pathlib
import re
import shutil
import ssl
import time
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By

REPO = pathlib.Path(__file__).resolve().parents[2]
# Where each test leaves a screenshot of its final page.
OUTPUT = pathlib.Path(os.environ.get("SEALDB_TEST_OUTPUT", REPO / "target" / "test-output")) / "console"
# Generous: the CI machine is a loaded 2-core box.
WAIT_SECS = 90


def chrome(width=1280, height=800):
    """A headless Chromium with its Debian driver (no driver download)."""
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    browser_path = shutil.which("chromium") or "/usr/bin/chromium"
    if not (os.path.exists(driver_path) and os.path.exists(browser_path)):
        raise RuntimeError("chromium and chromium-driver are needed (scripts/test installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser_path
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--disable-extensions", "--no-first-run"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=ChromeService(executable_path=driver_path), options=opts)
    driver.set_page_load_timeout(WAIT_SECS)
    return driver


def screenshot(driver, name):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(OUTPUT / f"{name}.png"))


def wait_until(check, what, timeout=WAIT_SECS):
    """Polls `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def reload_until(driver, css, predicate, what):
    """Reloads the page until the element at `css` has text satisfying `predicate`."""
    url = driver.current_url

    def check():
        try:
            driver.get(url)
            els = driver.find_elements(By.CSS_SELECTOR, css)
            return els and predicate(els[0].text)
        except WebDriverException:
            # A reload cut short by the next one on a slow machine: try again.
            return False
    wait_until(check, what)


def _is_stale(element):
    try:
        element.tag_name
        return False
    except (StaleElementReferenceException, WebDriverException):
        # Chromium also reports a node of the previous document this way.
        return True


def _wait_for_new_page(driver, old_root):
    wait_until(lambda: _is_stale(old_root), "the next page")
    wait_until(lambda: driver.execute_script("return document.readyState") == "complete", "the page to load")


def text(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def fill(driver, css, value):
    el = driver.find_element(By.CSS_SELECTOR, css)
    el.clear()
    el.send_keys(value)


def click(driver, css):
    """Clicks; for a button or link, waits until the next page has loaded."""
    click_element(driver, driver.find_element(By.CSS_SELECTOR, css))


def click_element(driver, el):
    navigates = el.tag_name in ("button", "a") and el.get_attribute("type") != "button"
    old_root = driver.find_element(By.TAG_NAME, "html")
    el.click()
    if navigates:
        _wait_for_new_page(driver, old_root)


def submit(driver, css):
    """Submits the form of the field at `css` and waits for the next page."""
    old_root = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, css).submit()
    _wait_for_new_page(driver, old_root)


def alert_text(driver):
    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, "[role=alert], [role=status]"))


def expect_alert(driver, wanted):
    """Waits for the page to show a message containing `wanted` (the page after a form
    may still be loading); returns all its messages."""
    return wait_until(lambda: wanted in alert_text(driver) and alert_text(driver), f"the message {wanted!r}")


def sign_in_with_key(driver, endpoint, key_id, secret):
    driver.get(f"{endpoint}/console/signin")
    fill(driver, "#access_key_id", key_id)
    fill(driver, "#secret_access_key", secret)
    click(driver, "#signin-key")


def sign_in_with_password(driver, endpoint, account, user, password):
    driver.get(f"{endpoint}/console/signin")
    fill(driver, "#account", account)
    fill(driver, "#username", user)
    fill(driver, "#password", password)
    click(driver, "#signin-password")


class Http:
    """A minimal HTTP client that keeps cookies and does not follow redirects."""

    def __init__(self, endpoint, ca_file=None):
        u = urllib.parse.urlparse(endpoint)
        self.host, self.port = u.hostname, u.port
        self.tls = ssl.create_default_context(cafile=ca_file) if u.scheme == "https" else None
        self.cookies = {}
        # Every Set-Cookie header received, as sent (its attributes).
        self.set_cookies = []

    def request(self, method, path, form=None, headers=None):
        if self.tls:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=60, context=self.tls)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        h = dict(headers or {})
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                self.set_cookies.append(value)
                k, v = value.split(";", 1)[0].split("=", 1)
                if v:
                    self.cookies[k] = v
                else:
                    self.cookies.pop(k, None)
        conn.close()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, form):
        return self.request("POST", path, form=form)

    def sign_in_with_key(self, key_id, secret):
        status, _, page = self.get("/console/signin")
        assert status == 200
        token = csrf_of(page)
        status, headers, _ = self.post(
            "/console/signin",
            {"csrf": token, "mode": "key", "access_key_id": key_id, "secret_access_key": secret},
        )
        assert status == 303 and headers["location"] == "/console/tables", status
        return self

    def csrf(self, path="/console/tables"):
        status, _, page = self.get(path)
        assert status == 200, status
        return csrf_of(page)


def csrf_of(page):
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert m, "no CSRF field in the page"
    return m.group(1)


# What the accessibility check looks at in a page: every form control has a label (a
# <label>, aria-label or aria-labelledby), every button and link has a name, the page has
# one h1 and its headings go down one level at a time, ids are unique, the document
# names its language, and nothing makes the page wider than the window.
_A11Y_SCRIPT = r"""
const problems = [];
const describe = el => el.outerHTML.slice(0, 120);
const named = el => (el.getAttribute('aria-label') || '').trim() ||
    (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean)
        .map(id => (document.getElementById(id) || {}).textContent || '').join('').trim();
for (const el of document.querySelectorAll('input, select, textarea')) {
  if (el.type === 'hidden') continue;
  const labelled = Array.from(el.labels || []).some(l => l.textContent.trim()) || named(el);
  if (!labelled) problems.push('control without a label: ' + describe(el));
}
for (const el of document.querySelectorAll('button, a[href], [role=button]')) {
  const name = el.textContent.trim() || named(el) || (el.getAttribute('title') || '').trim();
  if (!name) problems.push('button or link without a name: ' + describe(el));
}
const headings = Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'));
const h1s = headings.filter(h => h.tagName === 'H1').length;
if (h1s !== 1) problems.push('the page has ' + h1s + ' h1 headings');
let previous = 0;
for (const h of headings) {
  const level = Number(h.tagName[1]);
  if (previous === 0 && level !== 1) problems.push('the first heading is not an h1: ' + describe(h));
  if (previous !== 0 && level > previous + 1) problems.push('heading skips a level: ' + describe(h));
  if (!h.textContent.trim()) problems.push('empty heading: ' + describe(h));
  previous = level;
}
const ids = {};
for (const el of document.querySelectorAll('[id]')) {
  if (ids[el.id]) problems.push('duplicate id: ' + el.id);
  ids[el.id] = true;
}
for (const el of document.querySelectorAll('label[for]')) {
  if (!document.getElementById(el.htmlFor)) problems.push('label for a missing control: ' + el.htmlFor);
}
if (!document.documentElement.lang) problems.push('the document has no lang');
if (!document.title.trim()) problems.push('the document has no title');
if (document.documentElement.scrollWidth > document.documentElement.clientWidth)
  problems.push('the page is wider than the window: ' + document.documentElement.scrollWidth + ' > ' + document.documentElement.clientWidth);
return problems;
"""


def a11y_problems(driver):
    """What the accessibility check finds wrong in the current page (empty: nothing)."""
    return driver.execute_script(_A11Y_SCRIPT)


def focus_is_visible(driver):
    """Whether the focused element shows a focus outline."""
    return driver.execute_script(
        "const s = getComputedStyle(document.activeElement);"
        "return document.activeElement !== document.body && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;")


def path_key(key):
    """An item key as the console's links carry it (base64url of its DynamoDB JSON)."""
    import base64
    import json
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
