"""Browser tests: the real app under `streamlit run`, driven by Playwright in Debian chromium.

Opens every public page (a screenshot of each goes to test-artifacts/), changes a filter and
sees the URL change, reopens that URL and sees the same view, downloads a CSV and checks it
holds no student count from 1 to 9, and signs in as a role to see only that role's pages.
Skipped with a message when /usr/bin/chromium is absent, except under CI=true where it fails.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import dashboard_helpers
from tests.dashboard_helpers import PASSWORD, ROOT, count_violations

pytestmark = pytest.mark.browser
dash_db = dashboard_helpers.dash_db  # the shared session fixture

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PUBLIC_PAGES = {
    "overview": "",
    "enrollment": "enrollment",
    "assessment": "assessment",
    "graduation": "graduation",
    "programs": "programs",
    "staff": "staff",
    "profiles": "profiles",
    "dictionary": "dictionary",
}
LOAD_TIMEOUT_MS = 180_000


def _need_chromium() -> None:
    if CHROMIUM.is_file():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(dash_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run dashboard/app.py` on a free port against the small protected warehouse."""
    _need_chromium()
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, "EDUDASH_DB": str(dash_db), "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
        "--server.port", str(port), "--server.headless", "true",
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited ({proc.returncode}):\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start within 60 s:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.returncode not in (0, -15, None):
            sys.stderr.write(log.read_text())


@pytest.fixture(scope="module")
def chromium_browser(server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def app_page(chromium_browser):  # noqa: ANN001, ANN201
    context = chromium_browser.new_context(
        viewport={"width": 1280, "height": 800}, accept_downloads=True
    )
    pg = context.new_page()
    pg.set_default_timeout(LOAD_TIMEOUT_MS)
    yield pg
    context.close()


def wait_for_app(pg, selector: str = '[data-testid="stDataFrame"]') -> None:  # noqa: ANN001
    """Wait until the page drew `selector` and the script run has finished (no spinner)."""
    pg.wait_for_selector(selector, timeout=LOAD_TIMEOUT_MS)
    quiet = (
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-testid=\"stSpinner\"]')"
    )
    for _ in range(2):  # quiet twice in a row: a rerun may start just after the first check
        pg.wait_for_function(quiet, timeout=LOAD_TIMEOUT_MS)
        pg.wait_for_timeout(700)


def shoot(pg, name: str) -> None:  # noqa: ANN001
    """Save the screen as the viewer sees it, and the whole page (a tall window) beside it."""
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    size = pg.viewport_size
    pg.set_viewport_size({"width": size["width"], "height": 3200})
    pg.wait_for_timeout(800)
    pg.screenshot(path=str(ARTIFACTS / f"{name}-full.png"))
    pg.set_viewport_size(size)


def no_exception(pg) -> None:  # noqa: ANN001
    errors = pg.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def choose(pg, label: str, option: str) -> None:  # noqa: ANN001
    """Pick `option` in the selectbox labelled `label`."""
    box = pg.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.click()
    pg.get_by_role("option", name=option, exact=True).click()


def test_every_public_page_renders(server: str, app_page) -> None:  # noqa: ANN001
    page = app_page
    ARTIFACTS.mkdir(exist_ok=True)
    for name, path in PUBLIC_PAGES.items():
        page.goto(f"{server}/{path}")
        wait_for_app(page)
        no_exception(page)
        assert page.locator('[data-testid="stDataFrame"]').count() >= 1, name
        shoot(page, name)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server}/enrollment")
    wait_for_app(page)
    no_exception(page)
    shoot(page, "enrollment-phone")


def test_filter_lives_in_the_url(server: str, app_page, chromium_browser) -> None:  # noqa: ANN001
    page = app_page
    page.goto(f"{server}/enrollment")
    wait_for_app(page)
    choose(page, "Break down by", "Gender")
    page.wait_for_url("**by=Gender**")
    wait_for_app(page)
    choose(page, "Geography", "By district")
    page.wait_for_url("**geo=By+district**")
    wait_for_app(page)
    shared = page.url
    assert "by=Gender" in shared
    other = chromium_browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    other.set_default_timeout(LOAD_TIMEOUT_MS)
    other.goto(shared)
    wait_for_app(other)
    no_exception(other)
    caption = other.get_by_text("Table: Enrollment, by district and gender").first
    assert caption.is_visible(), "the reopened link shows the same table"
    other.context.close()


def test_download_holds_no_small_count(server: str, app_page) -> None:  # noqa: ANN001
    page = app_page
    page.goto(f"{server}/enrollment?geo=By+school&by=Race%2Fethnicity")
    wait_for_app(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").first.click()
    data = Path(info.value.path()).read_text(encoding="utf-8")
    lines = data.splitlines()
    assert lines[0].startswith("# Enrollment")
    assert any(line.startswith("# release_id: ") for line in lines)
    assert any("hidden to protect student privacy" in line for line in lines)
    rows = list(csv.DictReader(io.StringIO("\n".join(x for x in lines if not x.startswith("# ")))))
    assert rows and "*" in {r["count"] for r in rows}
    assert count_violations([r["count"] for r in rows]) == []
    assert {r["race_ethnicity"] for r in rows} >= {"All"}


def test_trend_download_is_a_zip_of_yearly_csvs_written_when_clicked(
    server: str, app_page, dash_db: Path
) -> None:  # noqa: ANN001
    """The overview's trend button: its ZIP is written on the click (not on every rerun) and
    holds one protected CSV per released year, the bytes each year's table exports."""
    import zipfile

    import privacy
    from privacy.release import published_years

    page = app_page
    page.goto(f"{server}/")
    wait_for_app(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSVs (one per year)").first.click()
    assert info.value.suggested_filename.endswith("_trend.zip")
    with zipfile.ZipFile(info.value.path()) as zf:
        names = zf.namelist()
        years = published_years(dash_db)
        assert len(names) == len(years) and all(n.endswith(".csv") for n in names)
        for n in names:
            text = zf.read(n).decode("utf-8")
            assert any(line.startswith("# release_id: ") for line in text.splitlines())
            body = "\n".join(x for x in text.splitlines() if not x.startswith("# "))
            rows = list(csv.DictReader(io.StringIO(body)))
            assert rows and count_violations([r["count"] for r in rows]) == []
            year = next(y for y in years if n.endswith(f"_{y}.csv"))
            release = privacy.public_release(dash_db, year).release_id
            assert f"# release_id: {release}" in text


def test_signed_in_role_sees_only_its_pages(server: str, app_page, dash_db: Path) -> None:  # noqa: ANN001
    page = app_page
    page.goto(f"{server}/")
    wait_for_app(page)
    nav = page.locator('[data-testid="stSidebarNav"]')
    assert "Staff explorer" not in nav.inner_text()
    page.goto(f"{server}/explorer?role=data_manager&user=edm.one")
    wait_for_app(page, "h1")
    assert page.locator("h1", has_text="Staff explorer").count() == 0, "a URL opens no staff page"
    page.goto(f"{server}/sign_in")
    wait_for_app(page, "h1")
    page.get_by_label("User ID").fill("rep.staff")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("h1:has-text('Your account')", timeout=LOAD_TIMEOUT_MS)
    wait_for_app(page, "h1")
    text = nav.inner_text()
    assert "Staff explorer" in text
    for other in ("Student record", "Student locator", "Audit trail", "Account approvals"):
        assert other not in text
    shoot(page, "signed-in-reporting")
    nav.get_by_text("Staff explorer").click()
    wait_for_app(page, "h1:has-text('Staff explorer')")
    page.get_by_role("button", name="Build protected table").click()
    wait_for_app(page)
    no_exception(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Export CSV (recorded)").click()
    data = Path(info.value.path()).read_text(encoding="utf-8")
    rows = list(
        csv.DictReader(
            io.StringIO("\n".join(x for x in data.splitlines() if not x.startswith("# ")))
        )
    )
    assert count_violations([r["count"] for r in rows]) == []
    page.wait_for_timeout(1500)
    shoot(page, "explorer")
    import privacy
    from privacy.access import Role, User

    trail = privacy.read_audit_trail(dash_db, User("edm.one", Role.DATA_MANAGER), actor="rep.staff")
    actions = {e.action for e in trail}
    assert {"sign_in.success", "release", "export"} <= actions


@pytest.fixture(scope="module")
def demo_accounts(dash_db: Path) -> dict[str, tuple[str, str]]:
    """role -> (user ID, password) of the demo accounts `edudash build --demo-users` makes."""
    from privacy.users import create_demo_users

    return {role: (uid, pw) for uid, role, pw in create_demo_users(dash_db)}


def _all_staff_titles() -> set[str]:
    from dashboard import app
    from privacy.access import PAGE_FILES

    titles = {t for _, t in app._STAFF_FILES.values()} | {t for _, t in PAGE_FILES.values()}
    return titles - {"Sign in", "Request an account"}


@pytest.mark.parametrize(
    "role",
    [
        "level1",
        "superintendent",
        "teacher",
        "registrar",
        "reporting",
        "data_manager",
        "district_admin",
    ],
)
def test_each_demo_role_sees_only_its_pages(
    server: str,
    app_page,
    dash_db: Path,
    demo_accounts: dict[str, tuple[str, str]],
    role: str,  # noqa: ANN001
) -> None:
    from dashboard.app import page_entries
    from privacy.access import ROLE_RULES, Role, User

    uid, password = demo_accounts[role]
    page = app_page
    page.goto(f"{server}/sign_in")
    wait_for_app(page, "h1")
    page.get_by_label("User ID").fill(uid)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("h1:has-text('Your account')", timeout=LOAD_TIMEOUT_MS)
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    rule = ROLE_RULES[Role(role)]
    user = User(
        uid,
        Role(role),
        district_id="d" if rule.needs_district else None,
        school_ids=("s",) if rule.needs_school else (),
    )
    expected = {e.title for e in page_entries(user, ROOT)} & _all_staff_titles()
    for title in _all_staff_titles():
        assert (title in nav) is (title in expected), f"{role}: {title!r} in navigation"
    shoot(page, f"signed-in-{role}")
