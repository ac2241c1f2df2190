"""The warehouse: DuckDB schema, data dictionary, synthetic Maine data, submissions, state IDs.

It knows nothing of users or suppression; everything that leaves it goes through `privacy`.
"""
