"""The status page in a real headless browser (Debian's chromium driven through chromedriver),
served by the daemon as a subprocess against the Nomad fake with the example jobs.

Skipped only when chromium or chromedriver is not installed (``.ci/run`` installs both).
Screenshots of the overview and of a job page are kept under the test's output directory.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import DaemonProcess
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl
from tests.support.statuspage import SECRET_IN_FILE, make_checkout
from tests.support.waiting import wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="needs chromium and chromedriver (apt-get install chromium "
                              "chromium-driver)"),
]  # fmt: skip

webdriver = pytest.importorskip("selenium.webdriver")
By = pytest.importorskip("selenium.webdriver.common.by").By

OOB_SECRET = "oob-secret-91d2e4"


class Site:
    def __init__(self, fake: FakeNomad, repo: GitCheckout, daemon: DaemonProcess,
                 browser: Any, shots: Path) -> None:  # fmt: skip
        self.fake, self.repo, self.daemon, self.browser, self.shots = (
            fake, repo, daemon, browser, shots)  # fmt: skip

    def open(self, path: str) -> None:
        self.browser.get(self.daemon.url + path)
        # The page went live: its event stream said hello.
        wait_until(lambda: self.text("#live") == "live", timeout=20, what="live updates")

    def text(self, css: str) -> str:
        """An element's visible text, read in one script (live updates replace elements)."""
        return str(self.browser.execute_script(
            "var e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css))

    def row(self, ns: str, job: str) -> Any:
        found = self.browser.find_elements(By.ID, f"job-{ns}%2F{job}")
        return found[0] if found else None

    def row_css(self, ns: str, job: str) -> str:
        return f'[id="job-{ns}%2F{job}"]'

    def row_attr(self, ns: str, job: str, attr: str) -> str | None:
        value = self.browser.execute_script(
            "var e = document.querySelector(arguments[0]); "
            "return e ? e.getAttribute(arguments[1]) : null;", self.row_css(ns, job), attr)
        return None if value is None else str(value)

    def row_text(self, ns: str, job: str) -> str:
        return self.text(self.row_css(ns, job))

    def wait_row_text(self, ns: str, job: str, needle: str, *, timeout: float = 10.0) -> str:
        """The row's text once it says ``needle`` (rows are replaced by live updates)."""
        return str(wait_until(lambda: needle in (t := self.row_text(ns, job)) and t,
                              timeout=timeout, what=f"{ns}/{job} saying {needle!r}"))  # fmt: skip

    def mark_page(self) -> None:
        """A value only this page load holds: still there later = no reload happened."""
        self.browser.execute_script("window.__loadedOnce = 'yes';")

    def still_same_page(self) -> bool:
        return bool(self.browser.execute_script("return window.__loadedOnce === 'yes';"))

    def screenshot(self, name: str) -> Path:
        height = self.browser.execute_script("return document.body.scrollHeight")
        self.browser.set_window_size(1366, min(int(height) + 120, 4000))
        path = self.shots / name
        self.browser.save_screenshot(str(path))
        self.browser.set_window_size(1366, 900)
        return path

    def csp_violations(self) -> list[str]:
        return [entry["message"] for entry in self.browser.get_log("browser")
                if "Content Security Policy" in entry["message"]]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from selenium.webdriver.chrome.service import Service

    from reconciler.demo import DEMO_DRIVERS

    root = tmp_path_factory.mktemp("site")
    shots = tmp_path_factory.mktemp("screenshots")
    with FakeNomad(drivers=DEMO_DRIVERS) as fake:
        repo = make_checkout(root / "jobs", fake)
        # A job Nomad refuses (its namespace does not exist): the page shows an error.
        repo.write("tests/ghost.nomad", job_hcl("ghost").replace(
            'job "ghost" {', 'job "ghost" {\n  namespace = "ghost"'))  # fmt: skip
        repo.commit("a job in a missing namespace")
        # --no-self-heal: changes made by hand stay visible; commits are still applied.
        daemon = DaemonProcess(repo.root, fake.address, "--no-self-heal")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--window-size=1366,900", "--disable-gpu"):  # fmt: skip
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        browser = None
        try:
            daemon.wait_ready(timeout=60)
            browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
            yield Site(fake, repo, daemon, browser, shots)
            # Shutting down with a page open: the event stream ends, the daemon exits cleanly.
            browser.get(daemon.url + "/")
            assert daemon.stop(timeout=30) == 0
        finally:
            if browser is not None:
                browser.quit()
            daemon.stop()
            print(daemon.dump())
            print(f"screenshots: {shots}")


def test_overview_lists_the_example_jobs_with_the_states_the_fake_produces(site: Site) -> None:
    declared = httpx.get(site.daemon.url + "/api/v1/status", timeout=30).json()["jobs"]
    assert len(declared) >= 12  # the example jobs and the ones made for these tests
    site.open("/")
    for job in declared:
        assert site.row(job["namespace"], job["id"]) is not None, job["id"]
    wait_until(lambda: site.row_attr("ghost", "ghost", "data-state") == "error", timeout=30,
               what="the job Nomad refuses shown as error")  # fmt: skip
    site.wait_row_text("ghost", "ghost", "error (cluster)")
    site.wait_row_text("ghost", "ghost", "nonexistent namespace")  # Nomad's own words
    wait_until(lambda: site.row_attr("default", "counter", "data-state") == "in_sync",
               what="counter in sync")  # fmt: skip
    site.wait_row_text("default", "counter", "in_sync")
    assert "1.0.18" in site.text("#summary")
    assert "connected" in site.text("#summary")
    assert "example jobs" in site.text("#summary") or "missing namespace" in site.text("#summary")
    shot = site.screenshot("overview.png")
    assert shot.stat().st_size > 10_000
    assert site.csp_violations() == []


def test_a_change_made_by_hand_shows_up_live(site: Site) -> None:
    site.open("/")
    site.mark_page()
    assert site.row_attr("platform", "redis", "data-state") == "in_sync"
    wait_until(lambda: (site.fake.latest_deployment("redis", namespace="platform") or {})
               .get("Status") == "successful", timeout=30, what="redis rolled out")  # fmt: skip
    job = site.fake.read_job("redis", namespace="platform")
    assert job is not None
    site.fake.scale("redis", job["TaskGroups"][0]["Name"], 3, namespace="platform")
    wait_until(lambda: site.row_attr("platform", "redis", "data-state") == "modified",
               timeout=10, what="redis shown modified without a reload")  # fmt: skip
    site.wait_row_text("platform", "redis", "modified")
    assert site.still_same_page()


def test_a_commit_changes_its_row_live(site: Site) -> None:
    site.open("/")
    site.mark_page()
    assert site.row_attr("default", "counter", "data-state") == "in_sync"
    before = site.text(site.row_css("default", "counter") + " .version")
    site.repo.write("tests/counter.nomad", job_hcl("counter", count=2))
    commit = site.repo.commit("counter: two instances")

    def changed() -> bool:
        text = site.row_text("default", "counter")
        return f"from {commit[:8]}" in text and f"\n{before}\n" not in f"\n{text}\n"

    wait_until(changed, timeout=15, what="the counter row updated by the commit")
    assert site.still_same_page()
    assert int(site.browser.find_element(By.TAG_NAME, "body").get_attribute("data-refreshes")) >= 1
    assert commit[:12] in site.text("#summary")  # the overview follows the checkout too


def test_a_canary_rollout_is_seen_awaiting_promotion(site: Site) -> None:
    site.open("/")
    site.mark_page()
    web = site.repo.root / "default" / "web" / "web.nomad"
    text = web.read_text()
    assert "canary" in text
    web.write_text(text.replace('release = "1"', 'release = "2"', 1))
    site.repo.commit("web: a change rolled out with a canary")
    wait_until(lambda: "awaiting promotion" in site.row_text("default", "web"), timeout=20,
               what="web awaiting promotion")  # fmt: skip
    site.wait_row_text("default", "web", "canaries")
    assert site.still_same_page()
    site.open("/jobs/default/web")
    wait_until(lambda: "awaiting promotion" in site.text("#timeline"), timeout=10,
               what="the timeline's current step")  # fmt: skip
    steps = site.browser.find_elements(By.CSS_SELECTOR, "#timeline li.step")
    assert [s.get_attribute("data-step") for s in steps][:2] == ["registered", "canaries_healthy"]


def test_the_job_page_shows_the_redacted_diff(site: Site) -> None:
    job = copy.deepcopy(site.fake.read_job("billing"))
    assert job is not None
    job["TaskGroups"][0]["Tasks"][0]["Env"]["DB_PASSWORD"] = OOB_SECRET
    site.fake.run_job_out_of_band(job)
    site.open("/jobs/default/billing")
    wait_until(lambda: "Env[DB_PASSWORD]" in site.text("pre.diff"), timeout=15,
               what="the diff of the changed env")  # fmt: skip
    diff = site.text("pre.diff")
    assert '"<redacted>" => "<redacted>"' in diff
    assert diff.splitlines()[0].startswith("~ update")
    source = site.browser.page_source
    assert OOB_SECRET not in source and SECRET_IN_FILE not in source
    wait_until(lambda: "modified" in site.text("#job-summary"), timeout=10,
               what="the job's state on its page")  # fmt: skip
    assert site.browser.find_elements(By.CSS_SELECTOR, "pre.diff .d-edit")  # coloured as it says
    shot = site.screenshot("job-billing.png")
    assert shot.stat().st_size > 10_000
    assert site.csp_violations() == []


def test_markup_in_a_job_field_renders_as_text(site: Site) -> None:
    job = copy.deepcopy(site.fake.read_job("markup"))
    assert job is not None
    payload = "<script>window.__injected = 1</script><b>bold</b>"
    job["Meta"] = {**(job.get("Meta") or {}), "note": payload}
    site.fake.run_job_out_of_band(job)
    site.open("/jobs/default/markup")
    wait_until(lambda: "Meta[note]" in site.text("pre.diff"), timeout=15, what="the Meta diff")
    assert payload in site.text("pre.diff")  # shown as the characters it is
    assert site.browser.execute_script("return window.__injected === undefined;")
    assert site.browser.find_elements(By.CSS_SELECTOR, "pre.diff b") == []
    scripts = site.browser.find_elements(By.TAG_NAME, "script")
    assert [s.get_attribute("src") for s in scripts] == [site.daemon.url + "/static/app.js"]
