"""The privacy budget ledger, for the Education Data Manager: each school year's cap, what every
noisy release spent (mechanism, epsilon / rho, tables, who, when) and what is left; the cap can
be changed here as with `edudash budget set-cap`."""

from __future__ import annotations

import polars as pl
import streamlit as st

import privacy
from privacy.budget import budget_status, cap_history, set_cap
from privacy.release import release_years

user = privacy.viewer(None, st.session_state.get(privacy.SESSION_TOKEN_KEY))
st.title("Privacy budget ledger")
if user.role != privacy.Role.DATA_MANAGER:
    st.error("Only the Education Data Manager reads the privacy budget ledger.")
    st.stop()

done = st.session_state.pop("budget_done", None)
if done:
    st.success(done)

years = release_years(None)
year = st.selectbox("School year", years, index=len(years) - 1, key="budget_year")
status = budget_status(None, year)

left, middle, right = st.columns(3)
if status.cap is None:
    left.metric("Cap", "not set")
    st.warning(f"No cap is set for {year}: every noisy release of {year} is refused.")
else:
    left.metric("Cap", f"{status.cap.unit} {status.cap.cap:g}")
    right.metric("Left", f"{status.remaining:.4g}")
middle.metric("Spent", f"{status.spent:.4g}")
st.caption(
    "Privacy losses add up over releases. A Laplace release of epsilon counts as epsilon under "
    "an epsilon cap and as epsilon^2/2 under a rho cap; a repeated request is answered from "
    "storage and costs nothing."
)

st.subheader(f"Noisy releases ({len(status.entries)})")
if status.entries:
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "#": e.seq,
                    "when": e.created_at,
                    "who": e.created_by,
                    "mechanism": e.mechanism,
                    "epsilon": e.epsilon,
                    "rho": e.rho,
                    "noise scale": round(e.scale, 3),
                    "cells per student": e.sensitivity,
                    "tables": "; ".join(e.tables),
                    "release": e.release_id,
                }
                for e in status.entries
            ]
        ),
        hide_index=True,
    )
else:
    st.caption("No noisy release has spent budget this year.")

with st.expander("Set the cap"), st.form("budget_cap"):
    unit = st.radio("Unit", ["epsilon", "rho"], horizontal=True)
    value = st.number_input("Cap", min_value=0.0, value=1.0, step=0.1, format="%.3f")
    if st.form_submit_button("Set cap"):
        try:
            cap = set_cap(None, year, set_by=user.user_id, **{unit: float(value)})
        except ValueError as exc:
            st.error(str(exc))
        else:
            st.session_state["budget_done"] = f"{year}: cap set to {cap.unit} {cap.cap:g}."
            st.rerun()

history = cap_history(None, year)
if history:
    st.subheader("Cap history")
    st.dataframe(
        pl.DataFrame(
            [{"when": c.set_at, "who": c.set_by, "unit": c.unit, "cap": c.cap} for c in history]
        ),
        hide_index=True,
    )
