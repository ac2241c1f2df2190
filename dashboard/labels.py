"""Display names shared by several pages (program flags and subgroups as readers know them)."""

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

# the subgroup breakdowns of the assessment and graduation pages ("none": all students)
SUBGROUP_LABELS = {
    "none": "All students",
    "race_ethnicity": "Race/ethnicity",
    "gender": "Gender",
    "economically_disadvantaged": "Economically disadvantaged",
    "english_learner": "English learner",
    "disability": "Students with disabilities",
}
# "one unit" geography choices (pages that pick a single district or school)
ONE_UNIT_GEOGRAPHIES = {"state": "Statewide", "district": "A district", "school": "A school"}
