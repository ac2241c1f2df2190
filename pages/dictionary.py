"""Data dictionary: every field with its definition, format, code set and access level.

Read from the data dictionary through `privacy` (it describes the data and holds no values).
Access level 1 is the highest clearance; a field of level L is open to users of level L or above.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import caching, filters

LEVELS = {
    1: "1 - MDOE data staff only",
    2: "2 - superintendents (own district)",
    3: "3 - teachers (own students)",
    4: "4 - registrars (statewide locator)",
}

st.title("Data dictionary")
st.caption(
    "Fields, definitions, code sets and access levels of the Maine education data warehouse. "
    "Access level 1 is the highest: a field of level L is visible to users cleared for level L "
    "or above. Fields marked public directory are open to everyone."
)

with st.spinner("Reading the data dictionary..."):
    fields, code_sets = caching.dictionary()

tables = sorted(fields["table_name"].unique().to_list())
c1, c2 = filters.filter_row(2)
table = filters.select(
    "Table",
    ["all", *tables],
    key="table",
    format_func=lambda t: "All tables" if t == "all" else t,
    container=c1,
)
search = c2.text_input("Search fields and definitions", key="q", bind="query-params")

rows = fields if table == "all" else fields.filter(pl.col("table_name") == table)
if search:
    needle = search.lower()
    rows = rows.filter(
        pl.col("field_name").str.to_lowercase().str.contains(needle, literal=True)
        | pl.col("description").str.to_lowercase().str.contains(needle, literal=True)
    )
shown = rows.select(
    pl.col("table_name").alias("Table"),
    pl.col("field_name").alias("Field"),
    pl.col("description").alias("Definition"),
    pl.col("data_type").alias("Type"),
    pl.col("format").alias("Format"),
    pl.col("code_set").fill_null("").alias("Code set"),
    pl.col("access_level")
    .replace_strict(LEVELS, default=None, return_dtype=pl.String)
    .alias("Access level"),
    pl.when(pl.col("public_directory"))
    .then(pl.lit("yes"))
    .otherwise(pl.lit(""))
    .alias("Public directory"),
    pl.when(pl.col("reporting")).then(pl.lit("yes")).otherwise(pl.lit("")).alias("Reporting staff"),
    pl.when(pl.col("pii"))
    .then(pl.lit("yes"))
    .otherwise(pl.lit(""))
    .alias("Personally identifying"),
    pl.col("periodicity").alias("Periodicity"),
)
st.dataframe(shown.to_pandas(), hide_index=True, width="stretch")
st.caption(f"Table: {shown.height} fields of the data dictionary.")
st.download_button(
    "Download fields CSV",
    shown.write_csv().encode("utf-8"),
    file_name="data_dictionary_fields.csv",
    mime="text/csv",
    key="dict_dl",
    on_click="ignore",
    icon=":material/download:",
)

st.header("Code sets")
sets = sorted(code_sets["code_set"].unique().to_list())
used = sorted({c for c in rows["code_set"].drop_nulls().to_list()})
chosen = filters.select("Code set", sets, key="code_set", default=used[0] if used else sets[0])
codes = (
    code_sets.filter(pl.col("code_set") == chosen)
    .sort("ordinal")
    .select(
        pl.col("code").alias("Code"),
        pl.col("label").alias("Label"),
        pl.col("description").alias("Description"),
    )
)
st.dataframe(codes.to_pandas(), hide_index=True, width="stretch")
st.caption(f"Table: codes of the {chosen} code set.")
