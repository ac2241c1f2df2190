"""The disclosure log, for the Education Data Manager: every release of personally identifiable
data with its nature, purpose, recipient, legal basis and approver; filter, export, and record
releases made outside edudash (subpoena, health or safety emergency, audit)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

import privacy
from privacy import disclosures as dl

user = privacy.viewer(None, st.session_state.get(privacy.SESSION_TOKEN_KEY))
st.title("Disclosure log")
if user.role != privacy.Role.DATA_MANAGER:
    st.error("Only the Education Data Manager reads the disclosure log.")
    st.stop()

done = st.session_state.pop("dl_done", None)
if done:
    st.success(done)

left, middle, right = st.columns(3)
nature = left.selectbox(
    "Nature",
    [None, *dl.NATURES],
    format_func=lambda n: "All" if n is None else dl.NATURES[n].label,
    key="dl_nature",
)
basis = middle.selectbox(
    "Legal basis",
    [None, *dl.LEGAL_BASES],
    format_func=lambda b: "All" if b is None else dl.LEGAL_BASES[b].label,
    key="dl_basis",
)
subject = right.text_input("State student or staff ID", key="dl_subject").strip() or None
recipient = st.text_input("Recipient contains", key="dl_recipient").strip() or None
since = st.date_input("From date", value=dt.date.today() - dt.timedelta(days=365), key="dl_since")
filters = {
    "nature": nature,
    "legal_basis": basis,
    "subject_id": subject,
    "recipient_contains": recipient,
    "since": dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC) if since else None,
}
entries = dl.list_disclosures(None, user, **filters)
st.subheader(f"Entries ({len(entries)}, newest first)")
if entries:
    st.dataframe(pl.DataFrame([e.as_row() for e in entries]), hide_index=True)
else:
    st.caption("No disclosures match.")


def _audit_export() -> None:
    """The download is an export of the log: audited like `edudash disclosures export`."""
    dl.export_disclosures(None, user, **filters)


st.download_button(
    "Download as CSV",
    dl.disclosures_csv(entries),
    file_name="disclosure-log.csv",
    mime="text/csv",
    on_click=_audit_export,
)

with st.expander("Record a disclosure made outside edudash"):
    with st.form("dl_record"):
        kind = st.selectbox("Nature", dl.MANUAL_NATURES, format_func=lambda n: dl.NATURES[n].label)
        legal = st.selectbox(
            "Legal basis (34 CFR 99.31)",
            list(dl.LEGAL_BASES),
            format_func=lambda b: f"{dl.LEGAL_BASES[b].label} ({dl.LEGAL_BASES[b].citation})",
        )
        to = st.text_input("Recipient")
        org = st.text_input("Recipient's organization")
        purpose = st.text_area("Purpose")
        what = st.text_input("Data disclosed, in words")
        fields = st.text_input("Fields (table.field, comma-separated)")
        subjects = st.text_area("State student/staff IDs (comma or newline separated)")
        reference = st.text_input("Reference (court order number, letter, ...)")
        if st.form_submit_button("Record the disclosure"):
            try:
                entry = dl.record_disclosure(
                    None,
                    user,
                    nature=kind,
                    legal_basis=legal,
                    recipient=to,
                    recipient_organization=org,
                    purpose=purpose,
                    data_description=what,
                    fields=[f for f in fields.split(",") if f.strip()],
                    subject_ids=[s for s in subjects.replace("\n", ",").split(",") if s.strip()],
                    reference=reference,
                )
            except (ValueError, LookupError, PermissionError) as exc:
                st.error(str(exc))
            else:
                st.session_state["dl_done"] = f"Recorded disclosure #{entry.disclosure_id}."
                st.rerun()
