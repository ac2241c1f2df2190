"""AppTest for every dashboard page: renders, shows hidden cells as '*', never a count of 1..9.

Each page runs in Streamlit's in-process test runner against a small protected warehouse.
Every rendered table and every chart spec (values, hover data, text) is scanned for student
counts from 1 to 9; the staff page is exempt for its staff counts only (open records).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import privacy
from dashboard import charts
from dashboard.app import PUBLIC_PAGES, page_entries
from dashboard.tables import STUDENT_COUNT_LABELS, Column, display_frame, pick, subset
from privacy.access import PUBLIC_USER, Role, User
from privacy.registry import releases as registry_releases
from tests import dashboard_helpers
from tests.dashboard_helpers import PASSWORD, ROOT, count_violations

dash_db = dashboard_helpers.dash_db  # the shared session fixture

TIMEOUT = 120
STUDENT_PAGES = [
    "pages/overview.py",
    "pages/enrollment.py",
    "pages/assessment.py",
    "pages/graduation.py",
    "pages/programs.py",
    "pages/profiles.py",
]


@pytest.fixture
def env_db(dash_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDUDASH_DB", str(dash_db))
    return dash_db


def run_page(path: str, *, token: str | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT)
    if token:
        at.session_state[privacy.SESSION_TOKEN_KEY] = token
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    return at


def table_frames(at: AppTest) -> list:
    return [df.value for df in at.dataframe]


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def student_count_values(at: AppTest) -> list[object]:
    values: list[object] = []
    for frame in table_frames(at):
        for col in frame.columns:
            if col in STUDENT_COUNT_LABELS:
                values.extend(frame[col].tolist())
    for spec in chart_specs(at):
        for trace in spec["data"]:
            meta = trace.get("meta") or {}
            if meta.get("value") == "count" and not meta.get("hidden_marker"):
                values.extend(trace.get("y") or [])
            values.extend(row[0] for row in trace.get("customdata") or [])
    for metric in at.metric:
        if "Students" in metric.label:
            values.append(metric.value)
    return values


def all_cells(at: AppTest) -> set[str]:
    return {str(v) for frame in table_frames(at) for v in frame.to_numpy().ravel().tolist()}


def sign_in(db: Path, user_id: str) -> str:
    return privacy.sign_in(db, user_id, PASSWORD).token


# a view that shows hidden cells, where the default one may hide nothing (statewide programs,
# statewide assessment levels: large counts, and complements are taken at the finest level)
FINER_VIEW = {
    "pages/programs.py": {"geo": "school", "program": "migrant"},
    "pages/assessment.py": {"subgroup": "race_ethnicity"},
}


@pytest.mark.parametrize("path", STUDENT_PAGES)
def test_student_page_renders_hidden_cells_and_no_small_counts(env_db: Path, path: str) -> None:
    at = run_page(path)
    for key, value in FINER_VIEW.get(path, {}).items():
        at.selectbox(key=key).set_value(value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.dataframe, "the page shows at least one table"
    assert "*" in all_cells(at), "a small warehouse always has hidden cells"
    assert count_violations(student_count_values(at)) == []
    captions = " ".join(c.value for c in at.caption)
    assert (
        "fewer than 10 students, or hidden so that a small group cannot be worked out" in captions
    )
    assert chart_specs(at), "every student page has a chart"
    for el in at.get("plotly_chart"):
        assert el.proto.alt, "every chart carries alt text"


@pytest.mark.parametrize("path", ["pages/staff.py", "pages/dictionary.py"])
def test_open_pages_render(env_db: Path, path: str) -> None:
    at = run_page(path)
    assert not at.exception, [e.value for e in at.exception]
    assert at.dataframe
    text = " ".join(str(v) for v in all_cells(at)).lower()
    assert "ssn" not in {c.lower() for f in table_frames(at) for c in f.columns}
    if path.endswith("staff.py"):
        assert "social security" not in text


def test_dictionary_lists_levels_and_code_sets(env_db: Path) -> None:
    at = run_page("pages/dictionary.py")
    frames = table_frames(at)
    columns = {c for f in frames for c in f.columns}
    assert {"Field", "Access level"} <= columns
    assert any("Code" in f.columns and "Label" in f.columns for f in frames)


@pytest.mark.parametrize(
    "path, query, expected",
    [
        (
            "pages/enrollment.py",
            {"geo": "By district", "by": "Race/ethnicity"},
            {"geo": "district", "by": "race_ethnicity"},
        ),
        (
            "pages/enrollment.py",
            {"geo": "By school", "by": "Gender"},
            {"geo": "school", "by": "gender"},
        ),
        (
            "pages/assessment.py",
            {"geo": "A district", "subgroup": "Gender", "subject": "Mathematics"},
            {"geo": "district", "subgroup": "gender", "subject": "MATH"},
        ),
        (
            "pages/assessment.py",
            {"geo": "A school", "subject": "Science"},
            {"geo": "school", "subject": "SCI"},
        ),
        (
            "pages/graduation.py",
            {"geo": "A district", "subgroup": "Race/ethnicity"},
            {"geo": "district", "subgroup": "race_ethnicity"},
        ),
        (
            "pages/programs.py",
            {"geo": "By school", "program": "English learners"},
            {"geo": "school", "program": "english_learner"},
        ),
        ("pages/profiles.py", {"kind": "School"}, {"kind": "school"}),
    ],
)
def test_views_from_url_render_safely(env_db: Path, path: str, query: dict, expected: dict) -> None:
    """A shared link (filters as their labels in the URL) reopens the same view, protected."""
    at = run_page(path, query=query)
    assert not at.exception, [e.value for e in at.exception]
    assert count_violations(student_count_values(at)) == []
    for key, value in expected.items():
        widget = next(w for w in at.selectbox if w.key == key)
        assert widget.value == value, f"?{key}={query[key]} opens the same view"


def test_filter_change_changes_the_view(env_db: Path) -> None:
    at = run_page("pages/enrollment.py")
    at.selectbox(key="by").set_value("gender").run()
    assert not at.exception
    labels = {c for f in table_frames(at) for c in f.columns}
    assert "Gender" in labels


def test_explorer_needs_a_staff_role(env_db: Path) -> None:
    public = run_page("pages/explorer.py")
    assert not public.exception
    assert not public.dataframe
    assert any("Sign in" in w.value for w in public.warning)
    boss = run_page("pages/explorer.py", token=sign_in(env_db, "sup.one"))
    assert not boss.dataframe
    assert any("does not open" in e.value for e in boss.error)


def test_url_cannot_grant_a_role(env_db: Path) -> None:
    at = run_page("pages/explorer.py", query={"role": "data_manager", "user": "edm.one"})
    assert not at.dataframe
    assert any("Sign in" in w.value for w in at.warning)


def test_explorer_builds_records_and_exports_a_custom_table(env_db: Path) -> None:
    token = sign_in(env_db, "rep.staff")
    query = {"measure": "Enrollment", "geo": "Districts", "by": ["Gender", "Grade"]}
    at = run_page("pages/explorer.py", token=token, query=query)
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="by").value == ["gender", "grade"]
    assert not at.dataframe, "nothing is released before the user asks"
    at.button(key="ex_build").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.dataframe
    assert "*" in all_cells(at)
    assert count_violations(student_count_values(at)) == []
    year = at.selectbox(key="year").value
    custom = [
        r
        for r in registry_releases(env_db, None, year, kind="custom")
        if r.created_by == "rep.staff"
    ]
    assert custom, "the custom table is in the release registry under the user's ID"
    trail = privacy.read_audit_trail(env_db, User("edm.one", Role.DATA_MANAGER))
    released = [e for e in trail if e.actor == "rep.staff" and e.action == "release"]
    assert released and released[-1].details["release_id"] == custom[-1].release_id
    at.get("download_button")[0]  # the export button is on the page
    from dashboard.downloads import _record_export

    _record_export("rep.staff", custom[-1].release_id, custom[-1].request, 3)
    trail = privacy.read_audit_trail(env_db, User("edm.one", Role.DATA_MANAGER))
    assert any(e.action == "export" and e.actor == "rep.staff" for e in trail)


def test_explorer_explains_a_refused_table_and_records_nothing(
    env_db: Path,
    monkeypatch,  # noqa: ANN001
) -> None:
    """A table that cannot be protected with what is already released is refused: the page
    says so in plain words (nothing recorded, what to try) and keeps the reason for the
    Education Data Manager; no table reaches the page and the registry is unchanged."""
    import privacy.release as release_module

    reason = "cell e:y|S:10| was shown before but must be hidden now; refusing"

    def refuse(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise release_module.ReleaseRefusedError(reason, ["e:y|S:10|"])

    monkeypatch.setattr(privacy, "release_table", refuse)
    token = sign_in(env_db, "rep.staff")
    query = {"measure": "Enrollment", "geo": "Schools", "by": ["Gender"]}
    at = run_page("pages/explorer.py", token=token, query=query)
    year = at.selectbox(key="year").value
    before = len(registry_releases(env_db, None, year, kind="custom"))
    at.button(key="ex_build").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.dataframe
    assert any("nothing was recorded" in e.value and year in e.value for e in at.error)
    assert any(reason in c.value and "Fewer breakdowns" in c.value for c in at.caption)
    assert len(registry_releases(env_db, None, year, kind="custom")) == before


def test_navigation_follows_the_stored_role(dash_db: Path) -> None:
    public = {e.path for e in page_entries(PUBLIC_USER)}
    assert {e.path for e in PUBLIC_PAGES} <= public
    assert "pages/explorer.py" not in public
    reporting = {e.path for e in page_entries(User("r", Role.REPORTING))}
    assert "pages/explorer.py" in reporting
    assert "pages/student_record.py" not in reporting
    teacher = {e.path for e in page_entries(User("t", Role.TEACHER, school_ids=("1",)))}
    assert "pages/explorer.py" not in teacher


def test_navigation_skips_missing_files(tmp_path: Path) -> None:
    entries = page_entries(User("e", Role.DATA_MANAGER), root=tmp_path)
    assert entries == [e for e in entries if e.section == "Public dashboard"]


def test_app_runs_for_the_public_and_for_staff(env_db: Path) -> None:
    at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Browsing as the public" in i.value for i in at.sidebar.info)
    at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=TIMEOUT)
    at.session_state[privacy.SESSION_TOKEN_KEY] = sign_in(env_db, "edm.one")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("edm.one" in s.value for s in at.sidebar.success)


def test_expired_session_falls_back_to_public(env_db: Path) -> None:
    at = run_page("pages/explorer.py", token="not-a-real-token")
    assert not at.dataframe
    assert privacy.SESSION_TOKEN_KEY not in at.session_state


def _chart_rows(
    markers: list[str], displays: list[str], values: list[float | None]
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "group": [f"g{i}" for i in range(len(markers))],
            "count": [None if m else 50 for m in markers],
            "rate": values,
            "count_display": ["*" if m else "50" for m in markers],
            "rate_display": displays,
            "marker": markers,
        }
    )


def test_charts_never_draw_hidden_or_coded_values_as_known() -> None:
    rows = _chart_rows(["", "suppressed", "coded"], ["40.0%", "*", ">=95%"], [40.0, None, None])
    spec = charts.ChartSpec(x="group", value="rate", title="t")
    for fig in (charts.bar_chart(rows, spec), charts.trend_chart(rows, spec)):
        main = fig.data[0]
        assert list(main.y) == [40.0, None, None]
        coded = next(t for t in fig.data if (t.meta or {}).get("coded_range"))
        assert list(coded.x) == ["g2"] and list(coded.base) == [95.0] and list(coded.y) == [5.0]
        assert coded.customdata[0][1] == ">=95%"
        hidden = next(t for t in fig.data if (t.meta or {}).get("hidden_marker"))
        assert list(hidden.x) == ["g1"] and list(hidden.text) == ["*"]
        assert hidden.customdata[0][0] == "*"
        assert "hidden" in " ".join(fig.layout.meta["notes"])


def test_coded_range_parsing() -> None:
    assert charts.coded_range(">=95%") == (95.0, 100.0)
    assert charts.coded_range("<=2%") == (0.0, 2.0)
    assert charts.coded_range("<=0.5%") == (0.0, 0.5)
    assert charts.coded_range("45.0%") is None
    assert charts.coded_range("*") is None


def test_only_display_columns_reach_a_table(env_db: Path) -> None:
    table = privacy.public_release(env_db, privacy.school_years(env_db)[-1]).table(
        "enrollment_state_grade"
    )
    with pytest.raises(ValueError, match="not a display column"):
        display_frame(table.data, [Column("count", "Students")])
    shown = display_frame(
        table.data, [Column("grade_label", "Grade"), Column("count_display", "Students")]
    )
    assert shown.dtypes == [pl.String, pl.String]
    assert "*" in shown["Students"].to_list()


def test_download_bytes_are_the_export_bytes(env_db: Path, tmp_path: Path) -> None:
    from privacy.export import export_public

    year = privacy.school_years(env_db)[-1]
    table = privacy.public_release(env_db, year).table("enrollment_district_gender")
    export_public(env_db, tmp_path, [year])
    exported = next(tmp_path.rglob(f"enrollment_district_gender_{year}.csv")).read_bytes()
    assert table.to_csv_bytes() == exported
    assert subset(table, table.data).to_csv_bytes().splitlines()[1:] == exported.splitlines()[1:]
    district = table.data["district_id"][0]
    part = pick(table, note="one district", district_id=district)
    lines = part.to_csv_bytes().decode().splitlines()
    assert any(line.startswith("# release_id: ") for line in lines)
    body = [line for line in lines if not line.startswith("# ")]
    assert all(district in line for line in body[1:])
    assert set(body[1:]) <= set(exported.decode().splitlines())


def test_count_scan_catches_small_counts() -> None:
    assert count_violations(["5", "*", "10", "0", "", None, "1,024", 9.0]) == ["5", 9.0]


def test_server_noise_setting_reaches_the_page_with_its_margin_of_error(
    dash_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EDUDASH_NOISE (set by whoever runs the server) switches the public pages to the noisy
    release: the page says so with the margin of error, shows no count from 1 to 9, charges
    the year's budget once, and a rerun shows the very same numbers (stored answers)."""
    import shutil

    from privacy.budget import budget_status, set_cap

    for p in dashboard_helpers._companions(dash_db):
        shutil.copy2(p, tmp_path / p.name)
    db = tmp_path / dash_db.name
    for year in privacy.school_years(db):
        set_cap(db, year, epsilon=10.0, set_by="test")
    monkeypatch.setenv("EDUDASH_DB", str(db))
    monkeypatch.setenv("EDUDASH_NOISE", "laplace")
    monkeypatch.setenv("EDUDASH_NOISE_EPSILON", "1.0")
    first = run_page("pages/enrollment.py")
    assert not first.exception, first.exception
    banners = [i.value for i in first.info]
    assert any("Noise is on" in b and "Margin of error" in b for b in banners), banners
    frames = table_frames(first)
    assert frames
    for frame in frames:
        for column in frame.columns:
            if str(column) in STUDENT_COUNT_LABELS:
                assert not count_violations(frame[column].tolist()), column
    year = privacy.school_years(db)[-1]
    spent = budget_status(db, year).spent
    assert spent > 0
    second = run_page("pages/enrollment.py")
    assert [f.to_csv() for f in table_frames(second)] == [f.to_csv() for f in frames]
    assert budget_status(db, year).spent == spent  # the stored answer, not a new draw


def test_pages_offer_only_years_whose_public_release_is_recorded(
    fresh_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A click never starts protecting a year: a year without a recorded release is not offered."""
    from privacy.release import published_years, release_years

    monkeypatch.setenv("EDUDASH_DB", str(fresh_db))
    assert published_years(fresh_db) == []
    at = run_page("pages/overview.py")
    assert not at.exception
    assert any("No school year's public release is ready" in e.value for e in at.error)
    assert not registry_releases(fresh_db), "a page view protected a year"

    year = release_years(fresh_db)[-2]
    with dashboard_helpers.fast_protection():
        privacy.public_release(fresh_db, year)
    assert published_years(fresh_db) == [year]
    at = run_page("pages/overview.py")
    assert not at.exception and not at.error
    assert at.selectbox(key="year").options == [year]
    assert [r.school_year for r in registry_releases(fresh_db)] == [year]


def test_the_first_viewer_of_a_year_starts_rendering_all_of_its_tables(
    env_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh server: the first page view renders what it shows, and a background thread
    renders the rest of that year's public tables, so a later first click (a profile switched
    to schools) waits for none."""
    import threading

    import streamlit as st

    from dashboard import caching
    from privacy import release as release_module
    from privacy.release import published_years

    st.cache_resource.clear()
    monkeypatch.setattr(caching, "_READY", set())
    monkeypatch.setattr(release_module, "_SNAPSHOTS", {})  # no table rendered in this process
    rendered: list[str] = []
    render = release_module._render

    def counting(snap, request, *args):  # noqa: ANN001, ANN202
        rendered.append(request.to_json())
        return render(snap, request, *args)

    monkeypatch.setattr(release_module, "_render", counting)
    at = run_page("pages/graduation.py")
    assert not at.exception
    ahead = [t for t in threading.enumerate() if t.name.startswith("render-ahead ")]
    years = {t.name.removeprefix("render-ahead ") for t in ahead}
    assert years == set(published_years(env_db))  # the page's trend shows every year
    for thread in ahead:
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    expected = {
        e.request.to_json() for y in years for e in privacy.public_release(env_db, y).catalogue
    }
    assert set(rendered) == expected
    # every table rendered ahead is the one a page is served (rendered once, then held)
    count = len(rendered)
    at = run_page("pages/profiles.py")
    at.selectbox(key="kind").set_value("school").run()
    assert not at.exception and len(rendered) == count


def test_downloads_are_written_only_when_clicked(env_db: Path) -> None:
    """A page ships no CSV bytes on a rerun: each button holds a deferred file, written by
    `ProtectedTable.to_csv_bytes` on the click (the bytes are checked in the browser tests)."""
    for path in ("pages/profiles.py", "pages/overview.py"):
        at = run_page(path)
        buttons = at.get("download_button")
        assert buttons, path
        for button in buttons:
            assert button.proto.deferred_file_id and not button.proto.url, path
