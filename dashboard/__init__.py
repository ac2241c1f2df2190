"""Streamlit UI: asks privacy/ for protected results; never imports duckdb or warehouse."""
