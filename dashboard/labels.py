"""Display names shared by several pages (program flags as readers know them)."""

from __future__ import annotations

PROGRAM_LABELS = {
    "economically_disadvantaged": "Economically disadvantaged",
    "english_learner": "English learners",
    "disability": "Special education",
    "migrant": "Migrant education",
    "homeless": "Homeless",
    "title1": "Title I",
    "cte": "Career and technical education",
}
