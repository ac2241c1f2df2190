-- The edudash warehouse schema (DuckDB). Every column here has an entry in
-- data_dictionary.toml and every entry there has a column here (tests/test_dictionary.py).
-- Foreign keys are checked by the build and by tests rather than declared: DuckDB cannot
-- delete or update a referenced row, which retention runs and ID merges must do.

CREATE TABLE districts (
    district_id   VARCHAR PRIMARY KEY,
    district_name VARCHAR NOT NULL,
    district_type VARCHAR NOT NULL,
    county        VARCHAR NOT NULL,
    locale        VARCHAR NOT NULL,
    street        VARCHAR NOT NULL,
    city          VARCHAR NOT NULL,
    zip           VARCHAR NOT NULL
);

CREATE TABLE schools (
    school_id   VARCHAR PRIMARY KEY,
    district_id VARCHAR NOT NULL,
    school_name VARCHAR NOT NULL,
    school_type VARCHAR NOT NULL,
    grade_low   VARCHAR NOT NULL,
    grade_high  VARCHAR NOT NULL,
    is_island   BOOLEAN NOT NULL,
    street      VARCHAR NOT NULL,
    city        VARCHAR NOT NULL,
    zip         VARCHAR NOT NULL
);

CREATE TABLE administrators (
    administrator_id VARCHAR PRIMARY KEY,
    district_id      VARCHAR NOT NULL,
    school_id        VARCHAR,
    role             VARCHAR NOT NULL,
    first_name       VARCHAR NOT NULL,
    last_name        VARCHAR NOT NULL,
    email            VARCHAR NOT NULL
);

CREATE TABLE students (
    state_student_id VARCHAR PRIMARY KEY,
    first_name       VARCHAR NOT NULL,
    middle_name      VARCHAR,
    last_name        VARCHAR NOT NULL,
    birth_date       DATE NOT NULL,
    gender           VARCHAR NOT NULL,
    race_ethnicity   VARCHAR NOT NULL,
    guardian_name    VARCHAR,
    ssn              VARCHAR,
    mainecare_id     VARCHAR
);

CREATE TABLE enrollments (
    school_year      VARCHAR NOT NULL,
    state_student_id VARCHAR NOT NULL,
    school_id        VARCHAR NOT NULL,
    grade            VARCHAR NOT NULL,
    entry_date       DATE NOT NULL,
    exit_date        DATE,
    exit_code        VARCHAR,
    PRIMARY KEY (school_year, state_student_id, school_id)
);

CREATE TABLE program_participation (
    school_year                VARCHAR NOT NULL,
    state_student_id           VARCHAR NOT NULL,
    economically_disadvantaged BOOLEAN NOT NULL,
    english_learner            BOOLEAN NOT NULL,
    disability                 BOOLEAN NOT NULL,
    migrant                    BOOLEAN NOT NULL,
    homeless                   BOOLEAN NOT NULL,
    title1                     BOOLEAN NOT NULL,
    cte                        BOOLEAN NOT NULL,
    PRIMARY KEY (school_year, state_student_id)
);

CREATE TABLE assessments (
    school_year       VARCHAR NOT NULL,
    state_student_id  VARCHAR NOT NULL,
    school_id         VARCHAR NOT NULL,
    grade             VARCHAR NOT NULL,
    subject           VARCHAR NOT NULL,
    scale_score       SMALLINT NOT NULL,
    performance_level VARCHAR NOT NULL,
    PRIMARY KEY (school_year, state_student_id, subject)
);

CREATE TABLE graduation_cohorts (
    cohort_year      VARCHAR NOT NULL,
    state_student_id VARCHAR NOT NULL,
    school_id        VARCHAR NOT NULL,
    outcome          VARCHAR NOT NULL,
    PRIMARY KEY (state_student_id)
);

CREATE TABLE staff (
    state_staff_id   VARCHAR PRIMARY KEY,
    first_name       VARCHAR NOT NULL,
    last_name        VARCHAR NOT NULL,
    birth_date       DATE NOT NULL,
    ssn              VARCHAR NOT NULL,
    highest_degree   VARCHAR NOT NULL,
    years_experience SMALLINT NOT NULL
);

CREATE TABLE staff_certifications (
    state_staff_id     VARCHAR NOT NULL,
    certification_area VARCHAR NOT NULL,
    issued_date        DATE NOT NULL,
    expires_date       DATE NOT NULL,
    PRIMARY KEY (state_staff_id, certification_area)
);

CREATE TABLE staff_assignments (
    school_year    VARCHAR NOT NULL,
    state_staff_id VARCHAR NOT NULL,
    school_id      VARCHAR NOT NULL,
    role           VARCHAR NOT NULL,
    subject        VARCHAR NOT NULL,
    fte            DECIMAL(3,2) NOT NULL,
    PRIMARY KEY (school_year, state_staff_id, school_id, role, subject)
);

CREATE TABLE school_years (
    school_year VARCHAR PRIMARY KEY,
    start_date  DATE NOT NULL,
    end_date    DATE NOT NULL
);

CREATE TABLE build_info (
    build_id       VARCHAR NOT NULL,
    built_at       TIMESTAMP NOT NULL,
    generator      VARCHAR NOT NULL,
    scale          DOUBLE,
    seed           BIGINT,
    schema_version INTEGER NOT NULL
);

-- The dictionary itself, loaded from data_dictionary.toml.
CREATE TABLE data_dictionary (
    table_name       VARCHAR NOT NULL,
    field_name       VARCHAR NOT NULL,
    ordinal          INTEGER NOT NULL,
    description      VARCHAR NOT NULL,
    data_type        VARCHAR NOT NULL,
    format           VARCHAR,
    code_set         VARCHAR,
    periodicity      VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,
    pii              BOOLEAN NOT NULL,
    access_level     TINYINT NOT NULL CHECK (access_level BETWEEN 1 AND 4),
    public_directory BOOLEAN NOT NULL,
    reporting        BOOLEAN NOT NULL,
    PRIMARY KEY (table_name, field_name)
);

CREATE TABLE code_sets (
    code_set    VARCHAR NOT NULL,
    code        VARCHAR NOT NULL,
    label       VARCHAR NOT NULL,
    ordinal     INTEGER NOT NULL,
    description VARCHAR NOT NULL,
    PRIMARY KEY (code_set, code)
);

-- Ground truth of the planted duplicate student records. Only tests and benchmarks read it;
-- it is not part of the dictionary and never reaches the privacy layer.
CREATE SCHEMA ground_truth;
CREATE TABLE ground_truth.planted_duplicates (
    original_id  VARCHAR NOT NULL,
    duplicate_id VARCHAR NOT NULL,
    perturbation VARCHAR NOT NULL
);

-- District submissions (warehouse/submissions.py): the data calendar, who sent what and when,
-- the state IDs ever issued, merged (retired) IDs and the reconciliation review queue.
CREATE TABLE reporting_periods (
    school_year VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,
    opens       DATE NOT NULL,
    due         DATE NOT NULL,
    PRIMARY KEY (school_year, kind)
);

CREATE TABLE submissions (
    submission_id       VARCHAR PRIMARY KEY,
    district_id         VARCHAR NOT NULL,
    school_year         VARCHAR NOT NULL,
    submitted_by        VARCHAR NOT NULL,
    submitted_at        TIMESTAMP NOT NULL,
    row_count           INTEGER NOT NULL,
    new_ids             INTEGER NOT NULL,
    matched_ids         INTEGER NOT NULL,
    queued_for_review   INTEGER NOT NULL
);

CREATE TABLE submission_files (
    submission_id VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    file_name     VARCHAR NOT NULL,
    sha256        VARCHAR NOT NULL,
    size_bytes    BIGINT NOT NULL,
    row_count     INTEGER NOT NULL,
    status        VARCHAR NOT NULL,
    superseded_by VARCHAR,
    PRIMARY KEY (submission_id, kind)
);

CREATE TABLE issued_ids (
    state_id      VARCHAR PRIMARY KEY,
    id_kind       VARCHAR NOT NULL,
    issued_at     TIMESTAMP NOT NULL,
    submission_id VARCHAR
);

CREATE TABLE student_id_aliases (
    alias_id         VARCHAR PRIMARY KEY,
    state_student_id VARCHAR NOT NULL,
    merged_at        TIMESTAMP NOT NULL,
    merged_by        VARCHAR NOT NULL
);

CREATE TABLE staff_id_aliases (
    alias_id       VARCHAR PRIMARY KEY,
    state_staff_id VARCHAR NOT NULL,
    merged_at      TIMESTAMP NOT NULL,
    merged_by      VARCHAR NOT NULL
);

CREATE TABLE id_review_queue (
    review_id         VARCHAR PRIMARY KEY,
    submission_id     VARCHAR NOT NULL,
    id_kind           VARCHAR NOT NULL,
    new_id            VARCHAR NOT NULL,
    candidate_id      VARCHAR NOT NULL,
    match_probability DOUBLE NOT NULL,
    status            VARCHAR NOT NULL,
    decided_by        VARCHAR,
    decided_at        TIMESTAMP
);
