"""The learner's page in real headless Chromium against `chalice local` with the sample library:
the request form, live progress, the outline with its citations, field errors, a failed course
retried, keyboard-only use. Screenshots and timings go to build/screenshots/."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from chalicelib.adapters.localpg import LocalPostgres
from chalicelib.cli import main
from tests.support.chalice_local import ChaliceLocal

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "screenshots"
DESKTOP = (1280, 900)
PHONE = (390, 844)
WAIT = 30.0


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="coursegen-web-"))
    os.chmod(path, 0o755)  # reachable by the unprivileged PostgreSQL user when run as root
    LocalPostgres(path).ensure_running()
    samples = sorted(str(p) for p in (ROOT / "samples" / "library").glob("*.json"))
    assert main(["--data-dir", str(path), "library", "load", *samples]) == 0
    yield path
    LocalPostgres(path).stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    local = ChaliceLocal(data_dir, start_within=WAIT)
    try:
        yield local.base
    finally:
        local.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    # Debian's chromium and chromium-driver (.ci/run installs them); without them the tests fail.
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    assert chromium and driver_path, "chromium and chromium-driver must be installed (apt-get)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: webdriver.Chrome, server: str) -> Iterator[WebDriver]:
    """The page freshly opened at desktop width; afterwards the browser console has no errors."""
    browser.set_window_size(*DESKTOP)
    browser.get(server + "/")
    loaded(browser)
    yield browser
    console: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    problems = [
        entry
        for entry in console
        if entry["level"] in ("SEVERE", "WARNING") and not _expected_network_error(entry)
    ]
    assert [entry["message"] for entry in problems] == []


def loaded(driver: WebDriver) -> None:
    """The form is ready and the course list and the library have arrived."""
    wait(driver, lambda d: d.find_element(By.ID, "submit").is_enabled())
    for element_id in ("course-list", "library"):
        wait(driver, lambda d, i=element_id: d.find_element(By.ID, i).get_attribute("aria-busy") == "false")


def _expected_network_error(entry: dict[str, Any]) -> bool:
    # Chromium logs every 4xx answer to fetch() as a console error; a refused request is part of
    # what these tests exercise, so those are allowed.
    # So is a request made while the tests cut the browser off the network.
    message = str(entry.get("message"))
    return entry.get("source") == "network" and ("status of 400" in message or "DISCONNECTED" in message)


def wait(driver: WebDriver, condition: Any, timeout: float = WAIT) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def by_id(driver: WebDriver, element_id: str) -> WebElement:
    return driver.find_element(By.ID, element_id)


def fill_request(driver: WebDriver, query: str, hours: str) -> None:
    for element_id, value in (("query", query), ("hours", hours)):
        field = by_id(driver, element_id)
        field.clear()
        field.send_keys(value)


def attribute_of(driver: WebDriver, selector: str, name: str) -> str | None:
    value: str | None = driver.execute_script(
        "return document.querySelector(arguments[0]).getAttribute(arguments[1])", selector, name
    )
    return value


def listed(driver: WebDriver) -> list[tuple[str, str]]:
    """The course list as (course id, lowercased text), read at once: the page redraws it."""
    rows: list[list[str]] = driver.execute_script(
        "return [...document.querySelectorAll('#course-list li')]"
        ".map(li => [li.dataset.courseId, li.textContent.toLowerCase()])"
    )
    return [(course_id, text) for course_id, text in rows]


def wait_for_status(driver: WebDriver, status: str) -> WebElement:
    progress = by_id(driver, "progress")
    wait(driver, lambda d: progress.get_attribute("data-status") == status)
    return progress


def screenshot(driver: WebDriver, name: str) -> Path:
    """The whole page, not just the window, as a PNG under build/screenshots/."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path = ARTIFACTS / f"{name}.png"
    import base64

    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def test_a_request_builds_an_outline_with_cited_chapters(page: WebDriver) -> None:
    fill_request(page, "Learn DCF valuation", "2")
    Select(by_id(page, "depth")).select_by_value("technical")
    started = time.monotonic()
    by_id(page, "submit").click()
    progress = wait_for_status(page, "complete")
    submit_to_outline = time.monotonic() - started

    assert progress.get_attribute("aria-live") == "polite"
    assert "120 minutes" in progress.text
    parts = page.find_elements(By.CSS_SELECTOR, "#outline .part")
    assert len(parts) >= 2
    sections = page.find_elements(By.CSS_SELECTOR, "#outline .section")
    for section in sections:
        assert section.find_elements(By.CSS_SELECTOR, ".objectives li")
        citations = section.find_elements(By.CSS_SELECTOR, ".sources li")
        assert citations and all(c.find_element(By.TAG_NAME, "cite").text for c in citations)
        assert " min" in section.find_element(By.CSS_SELECTOR, ".minutes").text
    cited_titles = {c.text for c in page.find_elements(By.CSS_SELECTOR, "#outline .sources cite")}
    library_titles = {c.text for c in page.find_elements(By.CSS_SELECTOR, "#library tbody cite")}
    assert cited_titles and cited_titles <= library_titles
    assert "depth technical" in by_id(page, "outline").text
    shown = by_id(page, "course").get_attribute("data-course-id")
    # The list is redrawn when the course completes: find its newest entry afresh each time.
    newest = "#course-list li:first-child"
    wait(page, lambda d: "Complete" in d.find_element(By.CSS_SELECTOR, newest).text)
    assert attribute_of(page, newest, "data-course-id") == shown
    assert by_id(page, "export").is_displayed() and by_id(page, "delete").is_displayed()
    screenshot(page, "desktop-outline")

    page.set_window_size(*PHONE)
    width = page.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0]  # nothing runs off a phone's screen sideways
    screenshot(page, "phone-full")
    page.execute_script("window.scrollTo(0, 0)")
    page.save_screenshot(str(ARTIFACTS / "phone-form.png"))
    page.execute_script("document.getElementById('course').scrollIntoView()")
    page.save_screenshot(str(ARTIFACTS / "phone-outline.png"))
    weight = sum(
        len((ROOT / "chalicelib" / "web" / name).read_bytes())
        for name in ("index.html", "app.js", "api.js", "auth.js", "markdown.js", "style.css")
    )
    (ARTIFACTS / "timings.json").write_text(
        json.dumps({"submit_to_outline_seconds": round(submit_to_outline, 3), "page_bytes": weight})
    )


def test_the_markdown_export_holds_the_outline(page: WebDriver) -> None:
    fill_request(page, "Learn how to value a company with DCF", "1")
    by_id(page, "submit").click()
    wait_for_status(page, "complete")
    markdown = page.execute_script(
        "const m = await import('./assets/markdown.js');"
        "const r = await fetch('./app/courses/' + arguments[0]);"
        "return m.outlineMarkdown((await r.json()).course);",
        by_id(page, "course").get_attribute("data-course-id"),
    )
    first_part = page.find_element(By.CSS_SELECTOR, "#outline .part h3").text
    assert markdown.startswith("# ") and "## Part 1: " in markdown and "Sources:" in markdown
    assert first_part.rsplit(" ", 2)[0] in markdown


def test_a_request_outside_the_limits_names_the_field_before_sending(page: WebDriver) -> None:
    listed = len(page.find_elements(By.CSS_SELECTOR, "#course-list li"))
    fill_request(page, "Learn DCF valuation", "41")
    by_id(page, "submit").click()
    error = by_id(page, "hours-error")
    wait(page, lambda d: error.is_displayed())
    assert "40" in error.text
    assert by_id(page, "hours").get_attribute("aria-invalid") == "true"
    assert page.switch_to.active_element == by_id(page, "hours")
    assert "From 0.25 to 40 hours" in by_id(page, "hours-hint").text
    assert by_id(page, "course").is_displayed() is False
    screenshot(page, "desktop-field-error")
    page.refresh()
    loaded(page)
    assert len(page.find_elements(By.CSS_SELECTOR, "#course-list li")) == listed  # nothing was sent


def test_a_request_the_server_refuses_shows_its_error_next_to_the_field(page: WebDriver) -> None:
    # An option the server does not know: the page cannot check it, the API refuses it.
    page.execute_script(
        "const o = document.createElement('option'); o.value = o.text = 'encyclopedic';"
        "document.getElementById('depth').append(o);"
    )
    fill_request(page, "Learn DCF valuation", "1")
    Select(by_id(page, "depth")).select_by_value("encyclopedic")
    by_id(page, "submit").click()
    error = by_id(page, "depth-error")
    wait(page, lambda d: error.is_displayed())
    assert "overview" in error.text and "expert" in error.text
    assert by_id(page, "depth").get_attribute("aria-invalid") == "true"


def test_a_failed_course_shows_its_phase_and_reason_and_can_be_retried(
    page: WebDriver, data_dir: Path, tmp_path: Path
) -> None:
    fill_request(page, "Learn zxqv wblorf snarg", "1")
    by_id(page, "submit").click()
    wait_for_status(page, "failed")
    failure = by_id(page, "failure-text")
    assert "search" in failure.text and "no chapter" in failure.text
    assert by_id(page, "retry").is_displayed()
    screenshot(page, "desktop-failed")

    # A book that answers the query arrives; the retry now finds it.
    book = tmp_path / "snarg.json"
    chapter = {
        "number": 1,
        "title": "Zxqv wblorf snarg",
        "summary": "Zxqv wblorf snarg: what a snarg is and how to wblorf it.",
        "topics": ["zxqv", "wblorf", "snarg"],
        "key_concepts": ["snarg", "wblorf"],
    }
    book.write_text(json.dumps({"title": "The Snarg Book", "author": "Q. Wblorf", "chapters": [chapter]}))
    assert main(["--data-dir", str(data_dir), "library", "load", str(book)]) == 0
    by_id(page, "retry").click()
    wait_for_status(page, "complete")
    assert "The Snarg Book" in by_id(page, "outline").text
    assert by_id(page, "failure").is_displayed() is False


def test_keyboard_only_submission_works(page: WebDriver) -> None:
    def press(*keys: str) -> None:
        page.switch_to.active_element.send_keys(*keys)

    def focused() -> str:
        return str(page.switch_to.active_element.get_attribute("id"))

    page.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert page.switch_to.active_element.get_attribute("class") == "skip"
    press(Keys.TAB)
    assert focused() == "query"
    outline_style = page.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline_style == "solid"  # the focus is visible
    press("Learn about terminal value")
    press(Keys.TAB)
    assert focused() == "hours"
    press(Keys.CONTROL, "a")
    press("1.5")
    press(Keys.TAB)
    assert focused() == "depth"
    press(Keys.TAB)
    assert focused() == "pace"
    press(Keys.TAB)
    assert focused() == "submit"
    press(Keys.ENTER)
    wait_for_status(page, "complete")
    assert focused() == "course-heading"
    assert by_id(page, "progress").text == "Complete: 1 part, 90 minutes"  # under 2 h: one part


def test_the_course_list_pages_newest_first_and_a_deleted_course_leaves_it(
    page: WebDriver, server: str
) -> None:
    for n in range(11):
        body = json.dumps({"query": f"Learn DCF valuation, take {n}", "hours": 0.5}).encode()
        request = urllib.request.Request(
            f"{server}/courses", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
    page.refresh()
    loaded(page)
    first_page = listed(page)
    assert len(first_page) == 10
    assert "take 10" in first_page[0][1] and "take 1" in first_page[9][1]
    more = by_id(page, "more-courses")
    assert more.is_displayed()
    more.click()
    wait(page, lambda d: len(listed(d)) > 10)
    both_pages = listed(page)
    assert "take 0" in both_pages[10][1]
    assert len({course_id for course_id, _ in both_pages}) == len(both_pages)  # none twice

    page.find_element(By.CSS_SELECTOR, "#course-list li button").click()
    wait_for_status(page, "complete")
    doomed = by_id(page, "course").get_attribute("data-course-id")
    by_id(page, "delete").click()
    page.switch_to.alert.accept()
    wait(page, lambda d: not d.find_element(By.ID, "course").is_displayed())
    wait(page, lambda d: listed(d) and doomed not in [course_id for course_id, _ in listed(d)])


def test_an_unreachable_server_shows_a_banner_and_the_request_goes_through_once_it_is_back(
    page: WebDriver,
) -> None:
    offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    page.execute_cdp_cmd("Network.enable", {})
    page.execute_cdp_cmd("Network.emulateNetworkConditions", offline)
    try:
        fill_request(page, "Learn about terminal value", "1")
        by_id(page, "submit").click()
        banner = by_id(page, "banner")
        wait(page, lambda d: banner.is_displayed())
        assert "cannot be reached" in banner.text and "Retrying" in banner.text
        screenshot(page, "desktop-unreachable")
    finally:
        page.execute_cdp_cmd("Network.emulateNetworkConditions", {**offline, "offline": False})
    wait_for_status(page, "complete")
    assert not banner.is_displayed()


def test_a_request_whose_answer_is_lost_is_sent_again_and_creates_one_course(
    page: WebDriver, server: str
) -> None:
    # The first answer to POST /app/courses is dropped after the server acted on it, as a network
    # cut would; the page sends the request again with the same Idempotency-Key.
    page.execute_script(
        "const real = window.fetch; let dropped = false;"
        "window.fetch = async (url, init) => {"
        "  const answer = await real(url, init);"
        "  if (!dropped && init?.method === 'POST' && String(url).endsWith('/app/courses')) {"
        "    dropped = true; window.droppedKey = init.headers['Idempotency-Key'];"
        "    throw new TypeError('Failed to fetch');"
        "  }"
        "  return answer;"
        "};"
    )
    # A plain query (a unique suffix would dilute it past the relevance floor); the courses made
    # are told apart from the module's others by their ids, listed before and after.
    before = listed_course_ids(server)
    fill_request(page, "Learn about terminal value", "1")
    by_id(page, "submit").click()
    wait_for_status(page, "complete")

    assert re.fullmatch(r"[0-9a-f-]{36}", page.execute_script("return window.droppedKey"))
    made = [course_id for course_id in listed_course_ids(server) if course_id not in before]
    assert made == [by_id(page, "course").get_attribute("data-course-id")]


def listed_course_ids(server: str) -> list[str]:
    with urllib.request.urlopen(f"{server}/courses?limit=100", timeout=10) as response:
        return [course["course_id"] for course in json.loads(response.read())["courses"]]


def sea_book(path: Path) -> Path:
    sentences = " ".join(
        f"The sea matters in practice, and sentence {k} explains one more aspect." for k in range(12)
    )
    chapters = "".join(
        f"## Chapter {n}: {name}\n\n### {name} basics\n\n{sentences}\n\n"
        for n, name in [(1, "Waves"), (2, "Tides")]
    )
    path.write_text(f"---\ntitle: The Sea Book\nauthor: M. Mariner\n---\n# The Sea Book\n\n{chapters}")
    return path


def library_titles(driver: WebDriver) -> list[str]:
    """The library's titles, read at once: the page redraws the table."""
    titles: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('#library tbody cite')].map(c => c.textContent)"
    )
    return titles


def test_a_book_added_from_the_page_with_the_keyboard_joins_the_library(
    page: WebDriver, tmp_path: Path
) -> None:
    def focused() -> str:
        return str(page.switch_to.active_element.get_attribute("id"))

    def press(key: str) -> None:  # to whatever has the focus (a file field's send_keys would upload)
        ActionChains(page).send_keys(key).perform()

    field, button = by_id(page, "book-file"), by_id(page, "add-book")
    status, error = by_id(page, "add-book-status"), by_id(page, "book-file-error")
    assert by_id(page, "add-book-form").is_displayed()
    assert page.find_element(By.CSS_SELECTOR, "label[for='book-file']").text == "Document"
    assert "PDF, EPUB, Markdown, HTML or plain text; up to 50 MB" in by_id(page, "book-file-hint").text
    assert status.get_attribute("role") == "status" and status.get_attribute("aria-live") == "polite"
    assert ".md" in str(field.get_attribute("accept"))

    # The field and its button are in the tab order; nothing chosen is named next to the field.
    button.send_keys(Keys.SHIFT, Keys.TAB)
    assert focused() == "book-file"
    press(Keys.TAB)
    assert focused() == "add-book"
    press(Keys.ENTER)
    wait(page, lambda d: error.is_displayed())
    assert error.text == "Choose a document to add." and focused() == "book-file"

    # A format the page knows it cannot add: refused before anything is sent.
    docx = tmp_path / "notes.docx"
    docx.write_bytes(b"PK\x03\x04 not a book")
    field.send_keys(str(docx))  # what choosing a file in the file chooser does
    button.send_keys(Keys.ENTER)
    wait(page, lambda d: "notes.docx cannot be added" in error.text)
    assert field.get_attribute("aria-invalid") == "true"

    # A document the server reads and refuses: its reason, next to the field.
    note = tmp_path / "note.txt"
    note.write_text("Just a short note with no chapters at all.")
    field.send_keys(str(note))
    assert not error.is_displayed()  # choosing again clears the error
    button.send_keys(Keys.ENTER)
    wait(page, lambda d: error.is_displayed() and "note.txt" in error.text)
    assert "nothing that looks like a chapter" in error.text
    screenshot(page, "desktop-book-refused")

    # A real book: "reading" while it waits, then the library lists it.
    field.send_keys(str(sea_book(tmp_path / "sea.md")))
    button.send_keys(Keys.ENTER)
    wait(page, lambda d: status.text.startswith("Added"))
    assert status.text == "Added The Sea Book (2 chapters)."
    assert not error.is_displayed() and field.get_attribute("aria-invalid") is None
    wait(page, lambda d: "The Sea Book" in library_titles(d))
    screenshot(page, "desktop-book-added")

    # The same document again changes nothing and says so.
    field.send_keys(str(tmp_path / "sea.md"))
    button.send_keys(Keys.ENTER)
    wait(page, lambda d: "already in the library" in status.text)
    assert library_titles(page).count("The Sea Book") == 1
