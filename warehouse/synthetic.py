"""Synthetic Maine: a seeded, vectorised generator of districts, schools, students and staff.

At scale 1 it looks like Maine (about 171,000 PK-12 students in some 215 districts and 600
schools, with the real skew: a median district near 500 students and a long tail of tiny rural and
island schools). Shares are calibrated to public Maine figures (race, programs, proficiency,
graduation); `tests/test_synthetic_distributions.py` checks them against the real files in
`shared/real-data/`. The same seed and scale always give the same data.

Everything is drawn with numpy over whole columns; the only Python loops run over districts,
schools, school years or the few hundred planted duplicates, never over students.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from faker import Faker
from faker.providers.person.en_US import Provider as PersonProvider

from warehouse.dictionary import load_dictionary
from warehouse.state_ids import new_staff_ids, new_student_ids

# code lists and names, several to a line (the formatter would give each a line of its own)
# fmt: off
SCHOOL_YEARS: tuple[str, ...] = ("2022-23", "2023-24", "2024-25", "2025-26")
GRADES: tuple[str, ...] = ("PK", "K", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12")
RACES: tuple[str, ...] = ("AM", "AS", "BL", "HI", "PI", "WH", "MU")
# State shares (Maine, about 2023): White 85%, Black 5%, Hispanic 4%, two or more 4%, Asian 1.3%,
# American Indian 0.6%, Pacific Islander 0.1%.
RACE_SHARES = np.array([0.006, 0.013, 0.046, 0.040, 0.001, 0.850, 0.044])
STUDENTS_AT_SCALE_1 = 171_000
DISTRICTS_AT_SCALE_1 = 215
STAFF_PER_STUDENT = 1 / 10.7

MAINE_TOWNS = (
    "Portland", "Lewiston", "Bangor", "South Portland", "Auburn", "Biddeford", "Sanford", "Saco",
    "Westbrook", "Augusta", "Waterville", "Brunswick", "Scarborough", "Gorham", "Windham",
    "Kennebunk", "Falmouth", "Yarmouth", "Cape Elizabeth", "Presque Isle", "Caribou", "Brewer",
    "Old Town", "Orono", "Ellsworth", "Belfast", "Rockland", "Camden", "Bath", "Topsham",
    "Freeport", "Gardiner", "Hallowell", "Skowhegan", "Farmington", "Rumford", "Norway",
    "Bridgton", "Fryeburg", "Houlton", "Madawaska", "Fort Kent", "Millinocket", "Lincoln",
    "Dover-Foxcroft", "Machias", "Calais", "Eastport", "Lubec", "Jonesport", "Bar Harbor",
    "Blue Hill", "Deer Isle", "Bucksport", "Hampden", "Hermon", "Newport", "Pittsfield",
    "Winslow", "Oakland", "Madison", "Jay", "Wilton", "Kingfield", "Rangeley", "Bethel",
    "Mexico", "Dixfield", "Turner", "Poland", "Gray", "New Gloucester", "Raymond", "Standish",
    "Buxton", "Hollis", "Waterboro", "Lyman", "Alfred", "Wells", "Ogunquit", "York", "Kittery",
    "Eliot", "South Berwick", "Berwick", "Lebanon", "Acton", "Shapleigh", "Limerick", "Cornish",
    "Harrison", "Naples", "Casco", "Otisfield", "Oxford", "Paris", "Buckfield", "Hartford",
    "Livermore", "Leeds", "Greene", "Sabattus", "Wales", "Monmouth", "Winthrop", "Readfield",
    "Manchester", "Belgrade", "Vassalboro", "China", "Palermo", "Liberty", "Unity", "Thorndike",
    "Searsport", "Stockton Springs", "Winterport", "Frankfort", "Hope", "Union", "Warren",
    "Thomaston", "Waldoboro", "Damariscotta", "Wiscasset", "Boothbay", "Edgecomb", "Dresden",
    "Richmond", "Bowdoinham", "Litchfield", "Wayne", "Fayette", "Mount Vernon", "Vienna",
    "Chesterville", "Phillips", "Strong", "Anson", "Solon", "Bingham", "Jackman", "Greenville",
    "Guilford", "Sangerville", "Milo", "Brownville", "Howland", "Lee", "Danforth", "Island Falls",
    "Patten", "Ashland", "Mars Hill", "Easton", "Limestone", "Van Buren", "Eagle Lake",
    "Stockholm", "Woodland", "Baileyville", "Princeton", "Cherryfield", "Milbridge",
    "Harrington", "Addison", "Beals", "Cutler", "Pembroke", "Dennysville", "Sullivan",
    "Hancock", "Surry", "Brooklin", "Sedgwick", "Brooksville", "Castine", "Penobscot",
    "Orland", "Verona", "Holden", "Eddington", "Glenburn", "Levant", "Carmel", "Etna", "Dixmont",
    "Corinna", "Dexter", "Corinth", "Charleston", "Bradford", "Hudson", "Alton", "Milford",
    "Greenbush", "Passadumkeag", "Enfield", "Lowell", "Burlington", "Medway", "East Millinocket",
    "Sherman", "Stacyville", "Oakfield", "Hodgdon", "Monticello", "Bridgewater", "Fort Fairfield",
    "Washburn", "Wade", "Perham", "New Sweden", "Westmanland", "Saint Agatha", "Frenchville",
    "Grand Isle", "Allagash", "Wallagrass", "Eagle Lake", "Portage Lake", "Masardis", "Oxbow",
)
ISLAND_TOWNS = (
    "Vinalhaven", "North Haven", "Islesboro", "Swan's Island", "Frenchboro", "Isle au Haut",
    "Long Island", "Chebeague Island", "Matinicus", "Cliff Island", "Peaks Island",
    "Cranberry Isles", "Monhegan",
)
COUNTIES = ("AND", "ARO", "CUM", "FRA", "HAN", "KEN", "KNO", "LIN", "OXF", "PEN", "PIS", "SAG",
            "SOM", "WAL", "WAS", "YOR")
COUNTY_WEIGHTS = np.array([8, 6, 21, 2, 4, 9, 3, 2, 4, 11, 1, 3, 4, 3, 2, 17], dtype=float)
NICKNAMES = {
    "Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Katherine": "Kate", "Michael": "Mike",
    "Jennifer": "Jen", "Christopher": "Chris", "Matthew": "Matt", "Joseph": "Joe",
    "Daniel": "Dan", "Anthony": "Tony", "Nicholas": "Nick", "Jessica": "Jess", "Samantha": "Sam",
    "Alexander": "Alex", "Benjamin": "Ben", "Jonathan": "Jon", "Margaret": "Maggie",
    "Rebecca": "Becky", "Victoria": "Tori", "Zachary": "Zach", "Andrew": "Andy",
    "Timothy": "Tim", "Thomas": "Tom", "James": "Jim", "Richard": "Rick", "Patricia": "Pat",
    "Kimberly": "Kim", "Abigail": "Abby", "Madison": "Maddie", "Olivia": "Liv",
    "Isabella": "Bella", "Joshua": "Josh", "David": "Dave", "Steven": "Steve",
    "Jacob": "Jake", "Nathan": "Nate", "Gabriel": "Gabe", "Samuel": "Sam", "Charles": "Charlie",
}
# fmt: on


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. `scale` 1 is Maine-sized; the same seed gives the same warehouse."""

    scale: float = 1.0
    seed: int = 20261128
    duplicate_rate: float = 0.0025

    def __post_init__(self) -> None:
        if not (0 < self.scale <= 50):
            raise ValueError(f"scale must be in (0, 50], got {self.scale}")
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")


def year_start(school_year: str) -> dt.date:
    return dt.date(int(school_year[:4]), 7, 1)


def _name_pool(mapping: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    names = np.array(list(mapping.keys()))
    w = np.array(list(mapping.values()), dtype=float)
    return names, w / w.sum()


class _Names:
    """Faker's weighted US name lists, drawn from with numpy."""

    def __init__(self) -> None:
        self.female = _name_pool(PersonProvider.first_names_female)
        self.male = _name_pool(PersonProvider.first_names_male)
        self.last = _name_pool(PersonProvider.last_names)

    def first(self, rng: np.random.Generator, gender: np.ndarray) -> np.ndarray:
        out = np.empty(len(gender), dtype=object)
        fem = (gender == "F") | ((gender == "X") & (rng.random(len(gender)) < 0.5))
        out[fem] = rng.choice(self.female[0], size=int(fem.sum()), p=self.female[1])
        out[~fem] = rng.choice(self.male[0], size=int((~fem).sum()), p=self.male[1])
        return out

    def last_names(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(self.last[0], size=n, p=self.last[1]).astype(object)


def _unique_digits(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """n distinct integers in [low, high)."""
    out = np.unique(rng.integers(low, high, size=int(n * 1.2) + 16))
    while len(out) < n:
        out = np.unique(np.concatenate([out, rng.integers(low, high, size=n)]))
    return rng.permutation(out)[:n]


def _ssn(rng: np.random.Generator, n: int) -> np.ndarray:
    """Synthetic SSNs in the never-issued 9xx area, so none can be a real person's number."""
    v = _unique_digits(rng, n, 900_000_000, 1_000_000_000)
    s = pl.Series(v).cast(pl.String)
    return (s.str.slice(0, 3) + "-" + s.str.slice(3, 2) + "-" + s.str.slice(5, 4)).to_numpy()


# ----------------------------------------------------------------------------------------------
# Directory


def _districts(cfg: SyntheticConfig, rng: np.random.Generator, fake: Faker) -> pl.DataFrame:
    n = max(4, round(DISTRICTS_AT_SCALE_1 * cfg.scale))
    size = rng.lognormal(np.log(520), 0.95, size=n)
    tiny = max(1, round(0.05 * n))
    order = np.argsort(size)
    size[order[:tiny]] = np.exp(rng.uniform(np.log(4), np.log(60), size=tiny))
    mid = order[tiny:]
    total = STUDENTS_AT_SCALE_1 * cfg.scale
    size[mid] *= (total - size[order[:tiny]].sum()) / size[mid].sum()
    size = np.maximum(np.round(size), 4).astype(np.int64)
    by_size = np.argsort(-size)
    size = size[by_size]
    is_tiny = np.zeros(n, dtype=bool)
    is_tiny[np.isin(by_size, order[:tiny])] = True

    towns = list(MAINE_TOWNS)
    rng.shuffle(towns)
    islands = list(ISLAND_TOWNS)
    rng.shuffle(islands)
    names, kinds, cities, island = [], [], [], []
    rsu = sad = 0
    for i in range(n):
        if is_tiny[i] and islands:
            town = islands.pop()
            names.append(f"{town} School Department")
            kinds.append("MUNICIPAL")
            cities.append(town)
            island.append(True)
            continue
        town = towns[i % len(towns)] + ("" if i < len(towns) else f" {i // len(towns) + 1}")
        cities.append(town)
        island.append(False)
        draw = rng.random()
        if i < 2 or (size[i] > 2500 and draw < 0.6) or is_tiny[i]:
            names.append(f"{town} Public Schools")
            kinds.append("MUNICIPAL")
        elif draw < 0.40:
            rsu += 1
            names.append(f"RSU {rsu:02d} ({town})")
            kinds.append("RSU")
        elif draw < 0.75:
            sad += 1
            names.append(f"MSAD {sad:02d} ({town})")
            kinds.append("SAD")
        elif draw < 0.83:
            names.append(f"{town} CSD")
            kinds.append("CSD")
        elif draw < 0.95:
            names.append(f"{town} School Department (AOS)")
            kinds.append("AOS")
        else:
            names.append(f"{town} Charter Academy")
            kinds.append("CHARTER")
    locale = np.where(
        size > 3500, "CITY", np.where(size > 1500, "SUBURB", np.where(size > 600, "TOWN", "RURAL"))
    )
    locale[:2] = "CITY"
    ids = _unique_digits(rng, n, 1000, 9000)
    return pl.DataFrame(
        {
            "district_id": [str(x) for x in ids],
            "district_name": names,
            "district_type": kinds,
            "county": rng.choice(COUNTIES, size=n, p=COUNTY_WEIGHTS / COUNTY_WEIGHTS.sum()),
            "locale": locale,
            "street": [fake.street_address() for _ in range(n)],
            "city": cities,
            "zip": [f"04{rng.integers(0, 1000):03d}" for _ in range(n)],
            "_size": size,
            "_island": island,
        }
    )


def _grade_span(lo: str, hi: str) -> list[int]:
    return list(range(GRADES.index(lo), GRADES.index(hi) + 1))


@dataclass
class _SchoolLayout:
    """Schools as arrays: owning district, size weight, and which grades each serves."""

    frame: pl.DataFrame
    district: np.ndarray  # district index of each school
    weight: np.ndarray  # relative size among schools serving the same grades
    serves: np.ndarray  # bool [school, grade]


def _school_spans(size: int, district_type: str, rng: np.random.Generator) -> list[tuple]:
    if district_type == "CHARTER":
        return [("COMBINED", "06", "12")]
    n_s = int(np.clip(round(size / 330 + 0.25), 1, 30))
    # Many small units run no high school and send (tuition) their high schoolers elsewhere.
    if n_s == 1:
        return [("COMBINED", "PK", "08" if (size < 400 and rng.random() < 0.85) else "12")]
    if n_s == 2:
        if rng.random() < 0.5:
            return [("ELEMENTARY", "PK", "05"), ("MIDDLE", "06", "08")]
        return [("ELEMENTARY", "PK", "08"), ("HIGH", "09", "12")]
    highs = 1 if n_s < 14 else 2
    middles = max(1, round(n_s / 5))
    elems = max(1, n_s - highs - middles)
    return (
        [("ELEMENTARY", "PK", "05")] * elems
        + [("MIDDLE", "06", "08")] * middles
        + [("HIGH", "09", "12")] * highs
    )


SCHOOL_LABEL = {
    "ELEMENTARY": "Elementary School",
    "MIDDLE": "Middle School",
    "HIGH": "High School",
    "COMBINED": "School",
}


def _schools(districts: pl.DataFrame, rng: np.random.Generator, fake: Faker) -> _SchoolLayout:
    rows: list[dict] = []
    owner: list[int] = []
    weights: list[float] = []
    spans_all: list[tuple[str, str]] = []
    for d_idx, d in enumerate(districts.iter_rows(named=True)):
        spans = _school_spans(d["_size"], d["district_type"], rng)
        for k, (stype, lo, hi) in enumerate(spans):
            if len(spans) == 1:
                name = f"{d['city']} {'Community School' if stype == 'COMBINED' else SCHOOL_LABEL[stype]}"
                if d["district_type"] == "CHARTER":
                    name = d["district_name"]
            elif stype == "HIGH" and spans.count(spans[k]) == 1:
                name = f"{d['city']} High School"
            else:
                name = f"{fake.last_name()} {SCHOOL_LABEL[stype]}"
            rows.append(
                {
                    "district_id": d["district_id"],
                    "school_name": name,
                    "school_type": stype,
                    "grade_low": lo,
                    "grade_high": hi,
                    "is_island": bool(d["_island"]),
                    "street": fake.street_address(),
                    "city": d["city"],
                    "zip": d["zip"],
                }
            )
            owner.append(d_idx)
            weights.append(float(rng.lognormal(0, 0.55)))
            spans_all.append((lo, hi))
    n = len(rows)
    taken = set(districts["district_id"].to_list())
    pool = [
        str(x) for x in _unique_digits(rng, n + len(taken) + 8, 1000, 10000) if str(x) not in taken
    ]
    frame = pl.DataFrame(rows).with_columns(pl.Series("school_id", pool[:n]))
    # Two schools of one district can draw the same surname: number the repeats.
    frame = frame.with_columns(
        pl.when(pl.col("school_name").is_duplicated())
        .then(
            pl.col("school_name")
            + " "
            + pl.col("school_name").cum_count().over("school_name").cast(pl.String)
        )
        .otherwise(pl.col("school_name"))
        .alias("school_name")
    ).select(
        "school_id",
        "district_id",
        "school_name",
        "school_type",
        "grade_low",
        "grade_high",
        "is_island",
        "street",
        "city",
        "zip",
    )
    serves = np.zeros((n, len(GRADES)), dtype=bool)
    for i, (lo, hi) in enumerate(spans_all):
        serves[i, _grade_span(lo, hi)] = True
    return _SchoolLayout(frame, np.array(owner), np.array(weights), serves)


# ----------------------------------------------------------------------------------------------
# Students

GRADE_WEIGHTS = np.array([0.55, 0.95] + [1.0] * 8 + [1.02, 0.98, 0.95, 0.93])
G9, G12 = GRADES.index("09"), GRADES.index("12")
ELA_MATH_GRADES = [GRADES.index(g) for g in ("03", "04", "05", "06", "07", "08", "11")]
SCIENCE_GRADES = [GRADES.index(g) for g in ("05", "08", "11")]
# Targets (Maine, recent years).
TARGET = {
    "economically_disadvantaged": 0.42,
    "english_learner": 0.04,
    "disability": 0.20,
    "homeless": 0.024,
    "graduation": 0.87,
}
# Share of students in each performance level 1..4 in the first year (ELA 58%, math 40% proficient).
LEVEL_SHARES = {
    "ELA": (0.17, 0.25, 0.43, 0.15),
    "MATH": (0.24, 0.36, 0.31, 0.09),
    "SCI": (0.19, 0.40, 0.34, 0.07),
}
YEARLY_DRIFT = {"ELA": 0.015, "MATH": 0.03, "SCI": 0.01}


@dataclass
class _Students:
    """Column arrays of every student ever generated (index = student number)."""

    district: np.ndarray
    gender: np.ndarray
    race: np.ndarray
    birth: np.ndarray  # datetime64[D]
    household: np.ndarray
    u_econ: np.ndarray
    u_dis: np.ndarray
    u_el: np.ndarray
    u_home: np.ndarray
    u_mig: np.ndarray
    u_cte: np.ndarray
    ability: np.ndarray

    def extend(self, other: _Students) -> None:
        for k in self.__dict__:
            setattr(self, k, np.concatenate([getattr(self, k), getattr(other, k)]))

    def __len__(self) -> int:
        return len(self.district)


def _district_race_probs(size: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-district race shares: larger districts are more diverse; state totals near target."""
    f = (size / np.median(size)) ** 0.55 * rng.lognormal(0, 0.45, size=len(size))
    f[:2] *= 3.0  # the two largest cities are the most diverse
    target = 1 - RACE_SHARES[5]
    k = 1.0
    for _ in range(60):
        got = (np.minimum(k * f * target, 0.6) * size).sum() / size.sum()
        k *= target / got
    share = np.minimum(k * f * target, 0.6)
    mix = np.delete(RACE_SHARES, 5)
    mix = mix / mix.sum()
    city = f > np.quantile(f, 0.85)
    tilt = np.where(city[:, None], mix * np.array([0.7, 1.2, 1.25, 1.2, 1.0, 0.85]), mix)
    tilt = tilt / tilt.sum(axis=1, keepdims=True)
    probs = np.zeros((len(size), len(RACES)))
    probs[:, [0, 1, 2, 3, 4, 6]] = share[:, None] * tilt
    probs[:, 5] = 1 - share
    return probs


def _new_students(
    counts: np.ndarray,
    year0: int,
    race_probs: np.ndarray,
    district_poverty: np.ndarray,
    rng: np.random.Generator,
    first_household: int,
) -> tuple[_Students, np.ndarray]:
    """Create students for counts[district, grade]; returns them and their grade indices."""
    nd, ng = counts.shape
    district = np.repeat(np.repeat(np.arange(nd), ng), counts.ravel())
    grade = np.repeat(np.tile(np.arange(ng), nd), counts.ravel())
    n = len(district)
    gender = rng.choice(np.array(["F", "M", "X"]), size=n, p=[0.487, 0.510, 0.003])
    cum = np.cumsum(race_probs[district], axis=1)
    race = np.array(RACES)[(rng.random(n)[:, None] > cum).sum(axis=1).clip(0, len(RACES) - 1)]
    # Age on September 1 = grade + 4 (PK is 4), one in eight a year older.
    age = grade + 4 + (rng.random(n) < 0.12)
    birth = (
        np.datetime64(f"{year0}-09-01")
        - np.round(age * 365.25).astype("timedelta64[D]")
        - rng.integers(1, 365, size=n).astype("timedelta64[D]")
    )
    # Households of 1-3 children within one district share a guardian.
    order = np.lexsort((rng.random(n), district))
    new_hh = rng.random(n) < 0.68
    new_hh[0:1] = True
    sorted_d = district[order]
    new_hh |= np.r_[True, sorted_d[1:] != sorted_d[:-1]]
    household = np.empty(n, dtype=np.int64)
    household[order] = np.cumsum(new_hh) - 1 + first_household
    nonwhite = race != "WH"
    econ_boost = np.select(
        [race == "BL", race == "HI", race == "AM", race == "AS"], [0.75, 0.5, 0.7, -0.1], 0.0
    )
    students = _Students(
        district=district,
        gender=gender,
        race=race,
        birth=birth,
        household=household,
        u_econ=rng.normal(0, 1, n) + district_poverty[district] + econ_boost,
        u_dis=rng.normal(0, 1, n),
        u_el=rng.normal(0, 1, n) + np.where(nonwhite & (race != "MU"), 1.6, 0.0),
        u_home=rng.normal(0, 1, n),
        u_mig=rng.random(n),
        u_cte=rng.random(n),
        ability=rng.normal(0, 1, n),
    )
    return students, grade


def _top_share(values: np.ndarray, share: float) -> np.ndarray:
    """Boolean mask of the `share` highest values."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    return values > np.quantile(values, 1 - share)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _solve_intercept(lin: np.ndarray, target_successes: float) -> float:
    """Intercept a with sum(sigmoid(a + lin)) == target_successes (bisection)."""
    lo, hi = -10.0, 15.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _sigmoid(mid + lin).sum() < target_successes:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass
class _Simulation:
    students: _Students
    enrollments: pl.DataFrame  # _student index, school index
    programs: pl.DataFrame
    assessments: pl.DataFrame
    cohorts: pl.DataFrame


def _simulate(
    cfg: SyntheticConfig, districts: pl.DataFrame, layout: _SchoolLayout, rng: np.random.Generator
) -> _Simulation:
    size = districts["_size"].to_numpy().astype(np.int64)
    nd, ng, nsch = len(size), len(GRADES), len(layout.district)
    # serving[d, g] -> (school indices, weights)
    district_serves = np.zeros((nd, ng), dtype=bool)
    np.logical_or.at(district_serves, layout.district, layout.serves)
    race_probs = _district_race_probs(size.astype(float), rng)
    rel = np.log(size / np.median(size)).clip(-3, 3)
    district_poverty = rng.normal(0, 0.45, nd) - 0.08 * rel
    district_el = 0.35 * rel + rng.normal(0, 0.3, nd)
    district_el[:2] += 1.1
    migrant_districts = np.zeros(nd, dtype=bool)
    rural = np.flatnonzero(districts["locale"].to_numpy() != "CITY")
    migrant_districts[rng.choice(rural, size=max(1, round(nd * 0.03)), replace=False)] = True
    school_effect = rng.normal(0, 0.25, (nsch, 3))
    grad_school_effect = rng.normal(0, 0.35, nsch)

    def pick_schools(district: np.ndarray, grade: np.ndarray) -> np.ndarray:
        out = np.full(len(district), -1, dtype=np.int64)
        key = district * ng + grade
        for k in np.unique(key):
            members = np.flatnonzero(key == k)
            cand = np.flatnonzero((layout.district == k // ng) & layout.serves[:, k % ng])
            w = layout.weight[cand] / layout.weight[cand].sum()
            out[members] = rng.choice(cand, size=len(members), p=w)
        return out

    def relocate_unserved(idx: np.ndarray) -> None:
        bad = idx[~district_serves[st.district[idx], grade[idx]]]
        for g in np.unique(grade[bad]):
            members = bad[grade[bad] == g]
            options = np.flatnonzero(district_serves[:, g])
            st.district[members] = rng.choice(
                options, size=len(members), p=size[options] / size[options].sum()
            )

    counts0 = np.vstack(
        [
            rng.multinomial(int(s), w / w.sum())
            for s, w in zip(size, np.where(district_serves, GRADE_WEIGHTS, 0.0), strict=True)
        ]
    )
    year0 = int(SCHOOL_YEARS[0][:4])
    st, grade = _new_students(counts0, year0, race_probs, district_poverty, rng, 0)
    school = pick_schools(st.district, grade)
    active = np.ones(len(st), dtype=bool)
    cohort = np.full(len(st), -1, dtype=np.int64)  # year index of the cohort, once known
    pending_dropouts: dict[int, list[np.ndarray]] = {}
    enroll, progs, tests, cohorts = [], [], [], []
    level_cuts: dict[str, np.ndarray] = {}

    for t, year in enumerate(SCHOOL_YEARS):
        y0 = int(year[:4])
        idx = np.flatnonzero(active)
        g = grade[idx]
        # Programs this year.
        econ = _top_share(
            st.u_econ[idx] + rng.normal(0, 0.35, len(idx)), TARGET["economically_disadvantaged"]
        )
        dis = _top_share(st.u_dis[idx] + rng.normal(0, 0.25, len(idx)), TARGET["disability"])
        el = _top_share(
            st.u_el[idx] + district_el[st.district[idx]] - 0.12 * g + rng.normal(0, 0.3, len(idx)),
            TARGET["english_learner"],
        )
        home = _top_share(
            st.u_home[idx] + 0.5 * st.u_econ[idx] + rng.normal(0, 0.5, len(idx)), TARGET["homeless"]
        )
        mig = migrant_districts[st.district[idx]] & (st.u_mig[idx] < 0.12)
        cte = (g >= GRADES.index("10")) & (st.u_cte[idx] < 0.3)
        econ_share = np.bincount(school[idx], weights=econ, minlength=nsch) / np.maximum(
            np.bincount(school[idx], minlength=nsch), 1
        )
        title1 = (econ_share[school[idx]] >= 0.5) & (g <= GRADES.index("08"))
        progs.append(
            pl.DataFrame(
                {
                    "school_year": np.full(len(idx), year),
                    "_student": idx,
                    "economically_disadvantaged": econ,
                    "english_learner": el,
                    "disability": dis,
                    "migrant": mig,
                    "homeless": home,
                    "title1": title1,
                    "cte": cte,
                }
            )
        )
        # Assessments (spring): ELA and math in 3-8 and 11, science in 5, 8, 11; 97% tested.
        for s_i, subject in enumerate(("ELA", "MATH", "SCI")):
            grades_tested = SCIENCE_GRADES if subject == "SCI" else ELA_MATH_GRADES
            who = np.flatnonzero(np.isin(g, grades_tested) & (rng.random(len(idx)) < 0.97))
            z = (
                0.8 * st.ability[idx[who]]
                + 0.6 * rng.normal(0, 1, len(who))
                - 0.45 * econ[who]
                - 0.9 * dis[who]
                - 0.9 * el[who]
                + school_effect[school[idx[who]], s_i]
                + YEARLY_DRIFT[subject] * t
            )
            if subject not in level_cuts:
                level_cuts[subject] = np.quantile(z, np.cumsum(LEVEL_SHARES[subject])[:3])
            level = 1 + np.searchsorted(level_cuts[subject], z)
            score = np.clip(np.round(600 + 60 * z), 300, 900).astype(np.int16)
            tests.append(
                pl.DataFrame(
                    {
                        "school_year": np.full(len(who), year),
                        "_student": idx[who],
                        "_school": school[idx[who]],
                        "grade": np.array(GRADES)[g[who]],
                        "subject": np.full(len(who), subject),
                        "scale_score": score,
                        "performance_level": level.astype(str),
                    }
                )
            )
        # End-of-year events.
        exit_code = np.full(len(idx), "COMPLETED_YEAR", dtype=object)
        leave = rng.random(len(idx)) < 0.03
        exit_code[leave] = "TRANSFER_OUT"
        hs = (g >= GRADES.index("10")) & (g < G12) & ~leave
        risk = 0.013 * np.exp(0.6 * econ + 0.5 * dis)
        drop = hs & (rng.random(len(idx)) < risk)
        exit_code[drop] = "DROPPED_OUT"
        for due in np.unique(t + G12 - g[drop]):
            pending_dropouts.setdefault(int(due), []).append(idx[drop & (t + G12 - g == due)])
        # Grade 12: first-timers form this year's cohort; outcomes calibrated to the target.
        first12 = (g == G12) & (cohort[idx] < 0) & ~leave
        repeat12 = (g == G12) & (cohort[idx] >= 0) & ~leave
        cohort[idx[first12]] = t
        early = np.concatenate(pending_dropouts.pop(t, [np.zeros(0, dtype=np.int64)]))
        lin = (
            -1.4 * econ[first12]
            - 1.35 * dis[first12]
            - 1.4 * el[first12]
            + grad_school_effect[school[idx[first12]]]
        )
        need = TARGET["graduation"] * (first12.sum() + len(early))
        a = _solve_intercept(lin, min(need, first12.sum() - 0.5))
        diploma = rng.random(int(first12.sum())) < _sigmoid(a + lin)
        other = rng.choice(
            np.array(["STILL_ENROLLED", "OTHER_COMPLETER", "DROPPED_OUT"]),
            size=len(diploma),
            p=[0.5, 0.2, 0.3],
        )
        outcome = np.where(diploma, "REGULAR_DIPLOMA", other)
        exit_code[np.flatnonzero(first12)] = np.select(
            [outcome == "REGULAR_DIPLOMA", outcome == "DROPPED_OUT", outcome == "OTHER_COMPLETER"],
            ["GRADUATED", "DROPPED_OUT", "COMPLETED_YEAR"],
            "COMPLETED_YEAR",
        )
        finished_other = np.zeros(len(idx), dtype=bool)
        finished_other[np.flatnonzero(first12)[outcome == "OTHER_COMPLETER"]] = True
        rep_grad = rng.random(int(repeat12.sum())) < 0.7
        exit_code[np.flatnonzero(repeat12)[rep_grad]] = "GRADUATED"
        cohorts.append(
            pl.DataFrame(
                {
                    "cohort_year": np.full(int(first12.sum()) + len(early), year),
                    "_student": np.concatenate([idx[first12], early]),
                    "_school": np.concatenate([school[idx[first12]], np.full(len(early), -1)]),
                    "outcome": np.concatenate([outcome, np.full(len(early), "DROPPED_OUT")]),
                }
            )
        )
        exit_date = np.full(len(idx), np.datetime64(f"{y0 + 1}-06-14"))
        mid = (exit_code == "TRANSFER_OUT") | (exit_code == "DROPPED_OUT")
        exit_date[mid] = np.datetime64(f"{y0}-11-01") + rng.integers(0, 200, int(mid.sum())).astype(
            "timedelta64[D]"
        )
        entry_date = np.datetime64(f"{y0}-08-28") + rng.integers(0, 8, len(idx)).astype(
            "timedelta64[D]"
        )
        enroll.append(
            pl.DataFrame(
                {
                    "school_year": np.full(len(idx), year),
                    "_student": idx,
                    "_school": school[idx],
                    "grade": np.array(GRADES)[g],
                    "entry_date": entry_date,
                    "exit_date": exit_date,
                    "exit_code": exit_code.astype(str),
                }
            )
        )
        if t == len(SCHOOL_YEARS) - 1:
            break
        # Transition to next year.
        gone = np.isin(exit_code, ["TRANSFER_OUT", "DROPPED_OUT", "GRADUATED"]) | finished_other
        active[idx[gone]] = False
        cont = idx[~gone]
        promote = (grade[cont] < G12) & (rng.random(len(cont)) >= 0.012)
        grade[cont[promote]] += 1
        movers = cont[rng.random(len(cont)) < 0.025]
        st.district[movers] = rng.choice(nd, size=len(movers), p=size / size.sum())
        relocate_unserved(cont)
        wrong = (layout.district[school[cont]] != st.district[cont]) | ~layout.serves[
            school[cont], grade[cont]
        ]
        school[cont[wrong]] = pick_schools(st.district[cont[wrong]], grade[cont[wrong]])
        # Newcomers: PK and K entrants and in-migrants across all grades.
        y1 = y0 + 1
        lam = np.outer(size, GRADE_WEIGHTS / GRADE_WEIGHTS.sum())
        new = rng.poisson(lam * 0.032)
        new[:, 0] += rng.poisson(lam[:, 0] * (1 - 0.032))
        new[:, 1] += rng.poisson(lam[:, 1] * 0.35)
        new = np.where(district_serves, new, 0)
        fresh, fresh_grade = _new_students(
            new, y1, race_probs, district_poverty, rng, int(st.household.max()) + 1
        )
        # A third of young entrants are siblings of a student already in the district.
        young = np.flatnonzero(fresh_grade <= 1)
        sib = young[rng.random(len(young)) < 0.33]
        olds = np.flatnonzero(active)
        order = olds[np.argsort(st.district[olds], kind="stable")]
        od = st.district[order]
        lo = np.searchsorted(od, fresh.district[sib], "left")
        hi = np.searchsorted(od, fresh.district[sib], "right")
        ok = hi > lo
        pick = lo[ok] + (rng.random(int(ok.sum())) * (hi[ok] - lo[ok])).astype(np.int64)
        fresh.household[sib[ok]] = st.household[order[pick]]
        st.extend(fresh)
        grade = np.concatenate([grade, fresh_grade])
        school = np.concatenate([school, pick_schools(fresh.district, fresh_grade)])
        active = np.concatenate([active, np.ones(len(fresh), dtype=bool)])
        cohort = np.concatenate([cohort, np.full(len(fresh), -1)])

    cohort_frame = pl.concat(cohorts)
    # An early dropout is accountable to the school it last attended.
    last_school = (
        pl.concat(enroll).sort("school_year").group_by("_student").agg(pl.col("_school").last())
    )
    cohort_frame = (
        cohort_frame.join(last_school, on="_student", how="left", suffix="_last")
        .with_columns(
            pl.when(pl.col("_school") < 0)
            .then(pl.col("_school_last"))
            .otherwise(pl.col("_school"))
            .alias("_school")
        )
        .drop("_school_last")
    )
    return _Simulation(st, pl.concat(enroll), pl.concat(progs), pl.concat(tests), cohort_frame)


# ----------------------------------------------------------------------------------------------
# Identities and planted duplicates


def _identities(st: _Students, rng: np.random.Generator, names: _Names) -> pl.DataFrame:
    n = len(st)
    n_hh = int(st.household.max()) + 1
    hh_last = names.last_names(rng, n_hh)
    last = hh_last[st.household]
    own = rng.random(n) < 0.1
    last[own] = names.last_names(rng, int(own.sum()))
    first = names.first(rng, st.gender)
    has_middle = rng.random(n) < 0.7
    middle = np.where(has_middle, names.first(rng, st.gender), None)
    g_gender = rng.choice(np.array(["F", "M"]), size=n_hh, p=[0.72, 0.28])
    g_last = hh_last.copy()
    differ = rng.random(n_hh) < 0.15
    g_last[differ] = names.last_names(rng, int(differ.sum()))
    guardian = (pl.Series(names.first(rng, g_gender)) + " " + pl.Series(g_last)).to_numpy()[
        st.household
    ]
    has_ssn = rng.random(n) < 0.6
    ssn = np.where(has_ssn, _ssn(rng, n), None)
    econ_ever = st.u_econ > np.quantile(st.u_econ, 0.55)
    has_mc = rng.random(n) < np.where(econ_ever, 0.7, 0.08)
    mc = pl.Series(_unique_digits(rng, n, 10_000_000, 100_000_000)).cast(pl.String)
    mainecare = np.where(has_mc, ("M" + mc).to_numpy(), None)
    ids = new_student_ids(n, rng=rng)
    return pl.DataFrame(
        {
            "state_student_id": ids,
            "first_name": first.astype(str),
            "middle_name": pl.Series(middle.tolist(), dtype=pl.String),
            "last_name": last.astype(str),
            "birth_date": st.birth,
            "gender": st.gender,
            "race_ethnicity": st.race,
            "guardian_name": guardian.astype(str),
            "ssn": pl.Series(ssn.tolist(), dtype=pl.String),
            "mainecare_id": pl.Series(mainecare.tolist(), dtype=pl.String),
        }
    )


PERTURBATIONS = ("typo", "nickname", "dob_transposed", "last_name_changed", "ssn_missing")


def _typo(name: str, rng: np.random.Generator) -> str:
    """A one-keystroke error (swap, drop or change a letter) that really changes the name."""
    for _ in range(10):
        typo = _one_typo(name, rng)
        if typo != name:
            return typo
    return name + "e"


def _one_typo(name: str, rng: np.random.Generator) -> str:
    if len(name) < 3:
        return name + "e"
    i = int(rng.integers(1, len(name) - 1))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    if kind == 1:
        return name[:i] + name[i + 1 :]
    letter = "aeiourstln"[int(rng.integers(0, 10))]
    return (
        name[:i] + letter + name[i + 1 :] if name[i] != letter else name[:i] + "y" + name[i + 1 :]
    )


def _transpose_dob(d: dt.date) -> dt.date | None:
    day = f"{d.day:02d}"
    swapped = int(day[::-1])
    if day[0] != day[1] and 1 <= swapped <= 28:
        return d.replace(day=swapped)
    if d.day <= 12 and d.day != d.month:
        return d.replace(month=d.day, day=min(d.month, 28))
    return None


def _plant_duplicates(
    people: pl.DataFrame,
    years_present: pl.DataFrame,
    cfg: SyntheticConfig,
    rng: np.random.Generator,
    names: _Names,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[int, tuple[int, str]]]:
    """Give a few students a second, perturbed record (as if a new district minted an ID).

    Returns the duplicate identity rows, the ground truth, and {student index: (dup index,
    first school year of the duplicate)}; rows from that year on move to the duplicate ID.
    """
    eligible = years_present.filter(pl.col("n_years") >= 2)["_student"].to_numpy()
    k = min(len(eligible), max(5, round(len(people) * cfg.duplicate_rate)))
    chosen = np.sort(rng.choice(eligible, size=k, replace=False))
    rows, truth, switch = [], [], {}
    new_ids = new_student_ids(k, taken=people["state_student_id"].to_list(), rng=rng)
    firsts = years_present.filter(pl.col("_student").is_in(chosen)).sort("_student")
    first_year = dict(zip(firsts["_student"].to_list(), firsts["first_t"].to_list(), strict=True))
    last_year = dict(zip(firsts["_student"].to_list(), firsts["last_t"].to_list(), strict=True))
    for j, s in enumerate(chosen.tolist()):
        rec = people.row(s, named=True)
        kind = PERTURBATIONS[j % len(PERTURBATIONS)]
        if kind == "nickname" and rec["first_name"] not in NICKNAMES:
            kind = "typo"
        if kind == "dob_transposed" and _transpose_dob(rec["birth_date"]) is None:
            kind = "typo"
        if kind == "ssn_missing" and rec["ssn"] is None:
            kind = "last_name_changed"
        dup = dict(rec)
        dup["state_student_id"] = new_ids[j]
        if kind == "typo":
            dup["first_name"] = _typo(rec["first_name"], rng)
        elif kind == "nickname":
            dup["first_name"] = NICKNAMES[rec["first_name"]]
        elif kind == "dob_transposed":
            dup["birth_date"] = _transpose_dob(rec["birth_date"])
        elif kind == "last_name_changed":
            dup["last_name"] = str(names.last_names(rng, 1)[0])
            dup["ssn"] = None if rng.random() < 0.5 else rec["ssn"]
        dup["ssn"] = None if kind != "last_name_changed" or dup["ssn"] is None else dup["ssn"]
        if kind != "ssn_missing" and rng.random() < 0.5:
            dup["middle_name"] = None
        rows.append(dup)
        truth.append(
            {
                "original_id": rec["state_student_id"],
                "duplicate_id": new_ids[j],
                "perturbation": kind,
            }
        )
        switch[s] = (len(people) + j, int(rng.integers(first_year[s] + 1, last_year[s] + 1)))
    return pl.DataFrame(rows, schema=people.schema), pl.DataFrame(truth), switch


# ----------------------------------------------------------------------------------------------
# Staff

ROLE_SUBJECTS_SECONDARY = np.array(["ELA", "MATH", "SCI", "SOC", "ARTS", "PE", "WL", "CTE"])
SUBJECT_CERT = {
    "GENERAL": "020",
    "ELA": "100",
    "MATH": "200",
    "SCI": "300",
    "SOC": "400",
    "ARTS": "600",
    "PE": "700",
    "WL": "500",
    "CTE": "800",
    "SPED": "282",
    "ESL": "660",
}


def _staff(
    layout: _SchoolLayout,
    enrollments: pl.DataFrame,
    rng: np.random.Generator,
    names: _Names,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    first_year = enrollments.filter(pl.col("school_year") == SCHOOL_YEARS[0])
    per_school = np.bincount(first_year["_school"].to_numpy(), minlength=len(layout.district))
    slots_school, slots_role, slots_subject = [], [], []
    for s, n_students in enumerate(per_school.tolist()):
        n = max(3, round(n_students * STAFF_PER_STUDENT))
        stype = layout.frame["school_type"][s]
        roles = ["PRINCIPAL"]
        if n_students > 500:
            roles.append("ASSISTANT_PRINCIPAL")
        roles += ["COUNSELOR"] * max(1, round(n_students / 350)) if n_students >= 60 else []
        if n_students > 200:
            roles.append("LIBRARIAN")
        rest = max(1, n - len(roles))
        draw = rng.choice(
            np.array(["TEACHER", "ED_TECH", "SPED_TEACHER"]), size=rest, p=[0.64, 0.27, 0.09]
        )
        roles += draw.tolist()
        for r in roles:
            if r == "TEACHER":
                subj = (
                    rng.choice(ROLE_SUBJECTS_SECONDARY)
                    if stype in ("HIGH", "MIDDLE") or (stype == "COMBINED" and rng.random() < 0.4)
                    else (
                        "GENERAL"
                        if rng.random() < 0.8
                        else rng.choice(np.array(["ARTS", "PE", "ESL"]))
                    )
                )
            elif r in ("SPED_TEACHER",):
                subj = "SPED"
            elif r == "ED_TECH":
                subj = "SPED" if rng.random() < 0.5 else "GENERAL"
            else:
                subj = "NONE"
            slots_school.append(s)
            slots_role.append(r)
            slots_subject.append(str(subj))
    n_slots = len(slots_school)
    ny = len(SCHOOL_YEARS)
    # Each year 9% of positions turn over; a new person fills the slot.
    turnover = np.zeros((n_slots, ny), dtype=np.int64)
    turnover[:, 1:] = rng.random((n_slots, ny - 1)) < 0.09
    occupant = np.cumsum(turnover, axis=1)
    person_base = np.r_[0, np.cumsum(occupant[:, -1] + 1)[:-1]]
    person = person_base[:, None] + occupant
    n_people = int(person.max()) + 1
    ids = np.array(new_staff_ids(n_people, rng=rng))
    fte = np.where(rng.random(n_slots) < 0.9, 1.0, rng.choice([0.5, 0.6, 0.8], size=n_slots))
    assignments = pl.DataFrame(
        {
            "school_year": np.repeat(np.array(SCHOOL_YEARS)[None, :], n_slots, axis=0).ravel(),
            "state_staff_id": ids[person.ravel()],
            "school_id": layout.frame["school_id"].to_numpy()[np.repeat(slots_school, ny)],
            "role": np.repeat(slots_role, ny),
            "subject": np.repeat(slots_subject, ny),
            "fte": np.repeat(fte, ny),
        }
    ).unique(
        subset=["school_year", "state_staff_id", "school_id", "role", "subject"],
        keep="first",
        maintain_order=True,
    )
    assignments = assignments.with_columns(pl.col("fte").cast(pl.Decimal(3, 2)))
    role_of = np.empty(n_people, dtype=object)
    subj_of = np.empty(n_people, dtype=object)
    role_of[person.ravel()] = np.repeat(slots_role, ny)
    subj_of[person.ravel()] = np.repeat(slots_subject, ny)
    gender = rng.choice(np.array(["F", "M"]), size=n_people, p=[0.75, 0.25])
    exper = np.clip(rng.gamma(2.0, 7.0, n_people), 0, 45).astype(np.int16)
    age = 23 + exper + rng.integers(0, 12, n_people)
    birth = (
        np.datetime64(f"{SCHOOL_YEARS[-1][:4]}-09-01")
        - np.round(age * 365.25).astype("timedelta64[D]")
        - rng.integers(0, 365, n_people).astype("timedelta64[D]")
    )
    is_tech = role_of == "ED_TECH"
    degree = np.where(
        is_tech,
        rng.choice(np.array(["NONE", "AA", "BA"]), size=n_people, p=[0.35, 0.35, 0.30]),
        rng.choice(np.array(["BA", "MA", "CAS", "DOC"]), size=n_people, p=[0.42, 0.50, 0.06, 0.02]),
    )
    degree = np.where(
        np.isin(role_of, ["PRINCIPAL", "ASSISTANT_PRINCIPAL"]) & (degree == "BA"), "MA", degree
    )
    staff = pl.DataFrame(
        {
            "state_staff_id": ids,
            "first_name": names.first(rng, gender).astype(str),
            "last_name": names.last_names(rng, n_people).astype(str),
            "birth_date": birth,
            "ssn": _ssn(rng, n_people),
            "highest_degree": degree,
            "years_experience": exper,
        }
    )
    cert = np.array(
        [
            "ET"
            if r == "ED_TECH"
            else "010"
            if r in ("PRINCIPAL", "ASSISTANT_PRINCIPAL")
            else "075"
            if r == "COUNSELOR"
            else "070"
            if r == "LIBRARIAN"
            else SUBJECT_CERT.get(s, "020")
            for r, s in zip(role_of, subj_of, strict=True)
        ]
    )
    issued = np.datetime64("2026-07-01") - rng.integers(0, 365 * 5, n_people).astype(
        "timedelta64[D]"
    )
    certs = pl.DataFrame(
        {
            "state_staff_id": ids,
            "certification_area": cert,
            "issued_date": issued,
            "expires_date": issued + np.timedelta64(365 * 5, "D"),
        }
    )
    second = rng.random(n_people) < 0.2
    extra = pl.DataFrame(
        {
            "state_staff_id": ids[second],
            "certification_area": rng.choice(
                np.array(["282", "660", "100", "200"]), size=int(second.sum())
            ),
            "issued_date": issued[second],
            "expires_date": issued[second] + np.timedelta64(365 * 5, "D"),
        }
    )
    certs = pl.concat([certs, extra]).unique(
        ["state_staff_id", "certification_area"], keep="first", maintain_order=True
    )
    return staff, certs, assignments


# ----------------------------------------------------------------------------------------------
# Assembly


def _year_index() -> pl.Expr:
    return pl.col("school_year").replace_strict(
        {y: i for i, y in enumerate(SCHOOL_YEARS)}, return_dtype=pl.Int64
    )


def _apply_switch(frame: pl.DataFrame, switch: pl.DataFrame, year_col: str) -> pl.DataFrame:
    """Rows of a student with a planted duplicate move to the duplicate ID from its first year."""
    return (
        frame.join(switch, on="_student", how="left")
        .with_columns(
            pl.when(
                pl.col("_dup").is_not_null()
                & (
                    pl.col(year_col).replace_strict(
                        {y: i for i, y in enumerate(SCHOOL_YEARS)}, return_dtype=pl.Int64
                    )
                    >= pl.col("_from")
                )
            )
            .then(pl.col("_dup"))
            .otherwise(pl.col("_student"))
            .alias("_student")
        )
        .drop("_dup", "_from")
    )


def _administrators(
    districts: pl.DataFrame,
    schools: pl.DataFrame,
    staff: pl.DataFrame,
    assignments: pl.DataFrame,
    rng: np.random.Generator,
    names: _Names,
) -> pl.DataFrame:
    principals = (
        assignments.filter(
            (pl.col("school_year") == SCHOOL_YEARS[-1]) & (pl.col("role") == "PRINCIPAL")
        )
        .unique("school_id", keep="first", maintain_order=True)
        .join(staff.select("state_staff_id", "first_name", "last_name"), on="state_staff_id")
        .join(schools.select("school_id", "district_id"), on="school_id")
        .select(
            "district_id", "school_id", pl.lit("PRINCIPAL").alias("role"), "first_name", "last_name"
        )
        .sort("school_id")
    )
    g = rng.choice(np.array(["F", "M"]), size=districts.height, p=[0.45, 0.55])
    supers = pl.DataFrame(
        {
            "district_id": districts["district_id"],
            "school_id": pl.Series([None] * districts.height, dtype=pl.String),
            "role": ["SUPERINTENDENT"] * districts.height,
            "first_name": names.first(rng, g).astype(str),
            "last_name": names.last_names(rng, districts.height).astype(str),
        }
    )
    admins = pl.concat([supers, principals])
    slug = pl.col("district_id")
    return admins.with_columns(
        (
            pl.lit("A")
            + pl.Series(_unique_digits(rng, admins.height, 100000, 1000000)).cast(pl.String)
        ).alias("administrator_id"),
        (
            pl.col("first_name").str.to_lowercase().str.replace_all(r"[^a-z]", "")
            + "."
            + pl.col("last_name").str.to_lowercase().str.replace_all(r"[^a-z]", "")
            + "@sau"
            + slug
            + ".k12.me.us"
        ).alias("email"),
    ).select(
        "administrator_id", "district_id", "school_id", "role", "first_name", "last_name", "email"
    )


def generate(cfg: SyntheticConfig) -> dict[str, pl.DataFrame]:
    """Every warehouse table (and `ground_truth.planted_duplicates`) as polars frames."""
    rng = np.random.default_rng(cfg.seed)
    fake = Faker("en_US")
    fake.seed_instance(cfg.seed)
    names = _Names()
    districts = _districts(cfg, rng, fake)
    layout = _schools(districts, rng, fake)
    sim = _simulate(cfg, districts, layout, rng)
    people = _identities(sim.students, rng, names)

    presence = (
        sim.enrollments.with_columns(_year_index().alias("_t"))
        .group_by("_student")
        .agg(
            pl.len().alias("n_years"),
            pl.col("_t").min().alias("first_t"),
            pl.col("_t").max().alias("last_t"),
        )
        .sort("_student")
    )
    dup_rows, truth, switch = _plant_duplicates(people, presence, cfg, rng, names)
    students = pl.concat([people, dup_rows])
    switch_frame = pl.DataFrame(
        {
            "_student": list(switch),
            "_dup": [v[0] for v in switch.values()],
            "_from": [v[1] for v in switch.values()],
        },
        schema={"_student": pl.Int64, "_dup": pl.Int64, "_from": pl.Int64},
    )
    sid = students["state_student_id"]
    school_ids = layout.frame["school_id"]

    def finish(frame: pl.DataFrame, year_col: str) -> pl.DataFrame:
        frame = _apply_switch(
            frame.with_columns(pl.col("_student").cast(pl.Int64)), switch_frame, year_col
        )
        frame = frame.with_columns(sid.gather(frame["_student"]).alias("state_student_id"))
        if "_school" in frame.columns:
            frame = frame.with_columns(school_ids.gather(frame["_school"]).alias("school_id"))
        return frame

    enrollments = finish(sim.enrollments, "school_year").select(
        "school_year",
        "state_student_id",
        "school_id",
        "grade",
        pl.col("entry_date").cast(pl.Date),
        pl.col("exit_date").cast(pl.Date),
        "exit_code",
    )
    # the warehouse tables' columns, in the data dictionary's order
    columns = load_dictionary().table
    programs = finish(sim.programs, "school_year").select(columns("program_participation").columns)
    assessments = finish(sim.assessments, "school_year").select(columns("assessments").columns)
    cohorts = finish(sim.cohorts, "cohort_year").select(columns("graduation_cohorts").columns)
    staff, certs, assignments = _staff(layout, sim.enrollments, rng, names)
    admins = _administrators(districts, layout.frame, staff, assignments, rng, names)
    years = pl.DataFrame(
        {
            "school_year": list(SCHOOL_YEARS),
            "start_date": [dt.date(int(y[:4]), 7, 1) for y in SCHOOL_YEARS],
            "end_date": [dt.date(int(y[:4]) + 1, 6, 30) for y in SCHOOL_YEARS],
        }
    )
    return {
        "districts": districts.drop("_size", "_island"),
        "schools": layout.frame,
        "administrators": admins,
        "students": students.with_columns(pl.col("birth_date").cast(pl.Date)),
        "enrollments": enrollments,
        "program_participation": programs,
        "assessments": assessments,
        "graduation_cohorts": cohorts,
        "staff": staff.with_columns(pl.col("birth_date").cast(pl.Date)),
        "staff_certifications": certs.with_columns(
            pl.col("issued_date").cast(pl.Date), pl.col("expires_date").cast(pl.Date)
        ),
        "staff_assignments": assignments,
        "school_years": years,
        "ground_truth.planted_duplicates": truth,
    }
