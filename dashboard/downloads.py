"""CSV downloads of exactly what a page shows, in the bytes `edudash export` writes.

The bytes always come from `ProtectedTable.to_csv_bytes()` (comment lines with the title,
release id and footnotes, then tidy rows with counts as digits or "*"), so a download can never
hold more than the protected table. Downloading a staff member's custom table is an export:
the release is already in the registry (it was recorded when the table was built) and the
download is written to the audit trail under the user's ID.
"""

from __future__ import annotations

import io
import re
import zipfile

import streamlit as st

from dashboard.db import warehouse_path
from privacy import ProtectedTable
from privacy.access import User
from privacy.audit_log import record_event


def file_name(table: ProtectedTable, name: str | None = None) -> str:
    """`<catalogue name>_<year>.csv` (the export's file name) or a slug of the title."""
    year = table.request.school_year
    if name:
        return f"{name}_{year}.csv"
    slug = re.sub(r"[^a-z0-9]+", "_", table.title.lower()).strip("_")[:80]
    return f"{slug or 'table'}.csv"


def _record_export(user_id: str, release_id: str, request_json: str, rows: int) -> None:
    record_event(
        warehouse_path(),
        user_id,
        "export",
        {"release_id": release_id, "request": request_json, "rows": rows, "format": "csv"},
    )


def download_button(
    table: ProtectedTable,
    *,
    key: str,
    name: str | None = None,
    user: User | None = None,
    label: str = "Download CSV",
) -> None:
    """A download button for `table` (a whole protected table or a `subset` of one).

    user: the signed-in staff member exporting a custom table (the download is audited under
        their ID); None for public tables, whose downloads need no record.
    """
    kwargs: dict = {}
    if user is not None:
        kwargs = {
            "on_click": _record_export,
            "args": (user.user_id, table.release_id, table.request.to_json(), table.data.height),
        }
    else:
        kwargs = {"on_click": "ignore"}
    st.download_button(
        label,
        # written when clicked, not on every rerun: a school-level table is over a megabyte,
        # and a page holds several buttons (the bytes are the same whenever they are written)
        data=table.to_csv_bytes,
        file_name=file_name(table, name),
        mime="text/csv",
        key=key,
        icon=":material/download:",
        help="CSV of exactly the rows shown, with the footnotes and the release id",
        **kwargs,
    )


def download_zip(
    tables: list[ProtectedTable],
    *,
    key: str,
    name: str,
    label: str = "Download CSVs (one per year)",
) -> None:
    """One ZIP of per-year CSVs (each exactly `to_csv_bytes()`) for a table spanning releases."""

    def zipped() -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for table in tables:
                zf.writestr(file_name(table, name), table.to_csv_bytes())
        return buffer.getvalue()

    st.download_button(
        label,
        data=zipped,  # written when clicked (see `download_button`)
        file_name=f"{name}_trend.zip",
        mime="application/zip",
        key=key,
        icon=":material/download:",
        on_click="ignore",
        help="One CSV per school year, each exactly the rows shown from that year's release",
    )
