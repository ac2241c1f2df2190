"""Retention, for the Education Data Manager: the schedule, a dry run of what would be archived
and destroyed as of a day, the run itself (after confirmation), and the log of every run."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

import privacy
from privacy import retention

user = privacy.viewer(None, st.session_state.get(privacy.SESSION_TOKEN_KEY))
st.title("Retention")
if user.role != privacy.Role.DATA_MANAGER:
    st.error("Only the Education Data Manager runs retention.")
    st.stop()

schedule = retention.load_schedule()
st.subheader("Schedule")
st.dataframe(
    pl.DataFrame(
        [
            {
                "record type": rt.name,
                "closes by": rt.basis + (f" ({rt.column})" if rt.column else ""),
                "active (years)": rt.active_years,
                "kept in all (years)": rt.retain_years,
            }
            for rt in schedule.record_types
        ]
    ),
    hide_index=True,
)
st.caption(
    "After its active period a record moves to the archive file; after the retention period it "
    "is destroyed from the warehouse and the archive. Tables not listed are kept."
)


def _show(result: retention.RetentionRun) -> None:
    if not result.lines:
        st.info(f"Nothing is due as of {result.as_of}.")
        return
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "record type": ln.record_type,
                    "action": ln.action,
                    "closed in": ln.close_year,
                    "rows": ln.rows,
                }
                for ln in result.lines
            ]
        ),
        hide_index=True,
    )


as_of = st.date_input("As of", value=dt.date.today(), key="ret_as_of")
left, right = st.columns(2)
if left.button("Dry run (changes nothing)", key="ret_dry"):
    try:
        result = retention.run_retention(None, user, as_of=as_of, dry_run=True, schedule=schedule)
    except (ValueError, OSError, RuntimeError) as exc:
        st.error(str(exc))
    else:
        st.write(f"Dry run {result.run_id}: what a run as of {result.as_of} would do")
        _show(result)
confirm = right.checkbox("I confirm: archive and destroy now", key="ret_confirm")
if right.button("Run retention", key="ret_run", disabled=not confirm, type="primary"):
    try:
        result = retention.run_retention(None, user, as_of=as_of, schedule=schedule)
    except (ValueError, OSError, RuntimeError) as exc:
        st.error(f"The run failed and changed nothing: {exc}")
    else:
        st.success(f"Run {result.run_id} done.")
        _show(result)

st.subheader("Runs")
runs = retention.retention_runs(None, user)
if runs:
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "at": r.at,
                    "run": r.run_id,
                    "dry run": r.dry_run,
                    "as of": r.as_of,
                    "status": r.status,
                    "by": r.actor,
                    "summary": str(r.summary),
                    "error": r.error or "",
                }
                for r in runs
            ]
        ),
        hide_index=True,
    )
else:
    st.caption("No runs yet.")
