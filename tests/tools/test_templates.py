"""Task templates: each kind of data is one folder, and adding a folder is all it takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.config import parse_config
from nodes.plan import builtin_plan
from tools import templates
from tools.templates import template_for, write_component

TOY = Path(__file__).parent / "toy_template"


def profile(**facts) -> dict:
    return {"modality": "tabular", "task": "classification", "metric": "accuracy", "n_rows": 100, **facts}


@pytest.fixture
def toy():
    template = templates.register(TOY)
    yield template
    templates.unregister(template.name)


def test_a_registered_folder_is_planned_for_its_data_and_coded_from_its_templates(toy):
    config = parse_config({"name": "toy", "dataset": {"name": "iris"}})
    two_columns = profile(n_columns=2, numeric_columns=["a", "b"], categorical_columns=[])
    plan = builtin_plan(two_columns, config)
    assert plan["template"] == "toy_template" and plan["families"] == ["nearest_centroid"]
    assert "the toy template's nearest centroid" in plan["rationale"]
    source = write_component("configspace", two_columns, plan)
    assert "FAMILIES = ['nearest_centroid']" in source
    assert "N_ROWS = 100" in source
    assert "NearestCentroid" in write_component("train", two_columns, plan)
    # Other tables still go to the tabular template.
    assert builtin_plan(profile(n_columns=3), config)["template"] == "tabular"


def test_unregistered_the_toy_serves_nothing():
    assert template_for(profile(n_columns=2)).name == "tabular"


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"modality": "image"}, "image"),
        ({"modality": "text"}, "text"),
        ({"modality": "timeseries", "task": "regression"}, "timeseries"),
        # A forecast is a series whatever its table looks like: never shuffled folds.
        ({"modality": "tabular", "task": "forecasting"}, "timeseries"),
        ({"modality": "tabular"}, "tabular"),
    ],
)
def test_each_kind_of_data_finds_its_template(facts, expected):
    assert template_for(profile(**facts)).name == expected


def test_data_no_template_serves_is_refused_in_one_line():
    with pytest.raises(ValueError, match="no built-in template for audio data yet"):
        template_for(profile(modality="audio"))


def test_every_template_folder_has_its_three_files():
    for template in templates.templates():
        for component in ("configspace", "train"):
            assert (template.folder / f"{component}.py").is_file(), f"{template.name} lacks {component}.py"
        assert template.families, f"{template.name} names no model family"


def test_the_tabular_portfolio_follows_the_task_and_the_families():
    config = parse_config({"name": "t", "dataset": {"name": "iris"}, "optimizer": {"families": ["hgb", "linear"]}})
    plan = builtin_plan(profile(n_columns=4), config)
    assert plan["portfolio"] and {c["model"] for c in plan["portfolio"]} <= {"hgb", "linear"}
    regression = builtin_plan(
        profile(task="regression", metric="r2", n_columns=4),
        parse_config({"name": "t", "dataset": {"name": "diabetes"}}),
    )
    assert all("class_weight" not in c for c in regression["portfolio"])  # no classification hyperparameters


def _tabular_train() -> dict:
    from tools.templates import get

    namespace: dict = {}
    exec(compile(get("tabular").source("train"), "tabular/train.py", "exec"), namespace)  # noqa: S102 - our template
    return namespace


def _classification_info(X, classes, numeric, categorical, text) -> dict:
    """What the profile tells the tabular template about a classification table."""
    return {
        "task": "classification",
        "metric": "accuracy",
        "cv_folds": 3,
        "n_rows": len(X),
        "numeric_columns": numeric,
        "categorical_columns": categorical,
        "text_columns": text,
        "classes": classes,
        "n_classes": len(classes),
    }


def test_catboost_in_the_tabular_template_takes_categories_with_gaps(monkeypatch):
    # CatBoost needs whole-number category codes (HGB's float codes with NaN would fail)
    # beside float and TF-IDF columns, returns multiclass labels as a column (predict()
    # flattens it), and runs on the sandbox's thread share, which it does not read from
    # OMP_NUM_THREADS itself.
    import types

    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_iris

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    namespace = _tabular_train()
    X, y = load_iris(return_X_y=True, as_frame=True)
    X["colour"] = pd.Series(np.where(X["petal length (cm)"] > 3, "dark", "pale"), dtype=object)
    X.loc[::7, "colour"] = np.nan  # a gap, as a CSV's empty cell reads
    words = np.random.default_rng(0).choice(["leaf", "stem", "petal", "bloom", "seed"], size=(len(X), 4))
    X["note"] = [" ".join(w) for w in words]
    y = np.asarray(["setosa", "versicolor", "virginica"])[y]
    info = _classification_info(X, sorted(set(y)), list(X.columns[:4]), ["colour"], ["note"])
    data = types.SimpleNamespace(X=X, y=y, info=info)
    config = {
        "model": "catboost",
        "class_weight": "none",
        "catboost:learning_rate": 0.1,
        "catboost:depth": 4,
        "catboost:l2_leaf_reg": 3.0,
        "catboost:iterations": 60,
    }
    result = namespace["train"](config, data, seed=0)
    assert result["score"] > 0.9, result["score"]
    model = namespace["fit"](config, data, seed=0)
    assert model[-1].get_params()["thread_count"] == 2 and model[-1].get_cat_feature_indices() == [4]
    labels = namespace["predict"](model, X.iloc[:20])
    assert labels.shape == (20,) and set(labels) <= set(y)
    assert namespace["predict_proba"](model, X.iloc[:20]).shape == (20, 3)


def test_text_scores_are_out_of_fold_so_noise_text_cannot_leak_the_label():
    # A stacked text model: fitted in-sample, a linear model on TF-IDF memorises random
    # labels from random words; the scores the next model learns from must be out of fold,
    # as uninformative as the text really is. At predict time the full model scores.
    import numpy as np
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(400)]
    texts = pd.Series([" ".join(rng.choice(vocabulary, 8)) for _ in range(300)])
    y = rng.choice(["no", "yes"], 300)
    scores = _tabular_train()["TextScores"](["no", "yes"])
    out_of_fold = scores.fit_transform(texts, y)
    assert out_of_fold.shape == (300, 1)
    assert roc_auc_score(y == "yes", out_of_fold[:, 0]) < 0.65
    assert roc_auc_score(y == "yes", scores.transform(texts)[:, 0]) > 0.9


@pytest.mark.parametrize("classes", [["ham", "spam"], ["ham", "spam", "eggs"]])
def test_a_text_column_beside_numbers_and_categories_feeds_every_family_its_scores(classes):
    # The label is in the text only: the text's scores carry it to HGB (whose category
    # mask must still line up with the columns) and to a linear model alike.
    import types

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    y = rng.choice(classes, 240)
    filler = ["the", "a", "tin", "of", "with", "and", "fresh", "old"]
    X = pd.DataFrame(
        {
            "weight": rng.normal(size=240),
            "shop": rng.choice(["north", "south"], 240).astype(object),
            "note": [" ".join([*rng.choice(filler, 5), label]) for label in y],
        }
    )
    info = _classification_info(X, classes, ["weight"], ["shop"], ["note"])
    namespace = _tabular_train()
    data = types.SimpleNamespace(X=X, y=y, info=info)
    hgb = {
        "model": "hgb",
        "class_weight": "none",
        "hgb:learning_rate": 0.1,
        "hgb:max_leaf_nodes": 15,
        "hgb:min_samples_leaf": 10,
        "hgb:l2_regularization": 0.0,
        "hgb:max_features": 1.0,
        "hgb:max_iter": 50,
    }
    linear = {"model": "linear", "class_weight": "none", "linear:C": 1.0, "scaler": "standard"}
    for config in (hgb, linear):
        assert namespace["train"](config, data, seed=0)["score"] > 0.95, config["model"]


def test_a_text_columns_features_are_fitted_once_per_fold_and_reused_by_later_trials(tmp_path, monkeypatch):
    # In a sandbox the template is a module and /tmp outlives a call: a worker's later
    # trials load each fold's text features instead of fitting them again, to the same loss.
    import importlib.util
    import sys
    import tempfile
    import types

    import numpy as np
    import pandas as pd

    from tools.templates import get

    source = tmp_path / "generated_train.py"
    source.write_text(get("tabular").source("train"))
    spec = importlib.util.spec_from_file_location("generated_train", source)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "generated_train", module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    fits = []
    fit_transform = module.TextScores.fit_transform

    def counted(self, X, y):
        fits.append(1)
        return fit_transform(self, X, y)

    monkeypatch.setattr(module.TextScores, "fit_transform", counted)

    rng = np.random.default_rng(2)
    y = rng.choice(["ham", "spam"], 150)
    words = ["the", "a", "tin", "of", "with", "and", "fresh", "old"]
    X = pd.DataFrame({"weight": rng.normal(size=150), "note": [" ".join([*rng.choice(words, 5), c]) for c in y]})
    data = types.SimpleNamespace(X=X, y=y, info=_classification_info(X, ["ham", "spam"], ["weight"], [], ["note"]))
    linear = {"model": "linear", "class_weight": "none", "linear:C": 1.0, "scaler": "standard"}
    knn = {"model": "knn", "knn:n_neighbors": 5, "knn:weights": "uniform", "knn:p": 2, "scaler": "standard"}
    cache = tmp_path / "tmp" / "text-features"

    first = module.train(linear, data, seed=0)
    assert len(fits) == 3 and len(list(cache.glob("*.pkl"))) == 3  # one fit per fold, each kept
    assert module.train(knn, data, seed=0)["score"] > 0.9
    again = module.train(linear, data, seed=0)
    assert len(fits) == 3, "later trials refitted the text features"
    assert again["loss"] == first["loss"] and again["oof"] == first["oof"]
    # Other rows are other features: fitted, not loaded.
    module.train(linear, types.SimpleNamespace(X=X.iloc[:120], y=y[:120], info=data.info), seed=0)
    assert len(fits) == 6 and len(list(cache.glob("*.pkl"))) == 6
    assert oct(cache.stat().st_mode & 0o777) == "0o700"


def test_a_date_column_becomes_parts_every_family_splits_on_and_serves_later_days():
    # The label is the weekday (busy on working days): only a date's parts carry it, and rows
    # from a later year, dates the model never saw, are still served by them.
    import types

    import numpy as np
    import pandas as pd

    def table(start, n, rng):
        days = pd.date_range(start, periods=n, freq="D")
        X = pd.DataFrame(
            {
                "warmth": rng.normal(size=n),
                "day": days.strftime("%d.%m.%Y").astype(object),
                "shop": rng.choice(["north", "south"], n).astype(object),
            }
        )
        X.loc[::50, "day"] = None  # a gap, as a CSV's empty cell reads
        return X, np.where(days.day_of_week < 5, "busy", "quiet")

    rng = np.random.default_rng(0)
    X, y = table("2020-01-01", 300, rng)
    later, truth = table("2031-06-01", 70, rng)
    info = _classification_info(X, ["busy", "quiet"], ["warmth"], ["shop"], [])
    info.update(date_columns=["day"], date_formats={"day": "%d.%m.%Y"})
    namespace = _tabular_train()
    data = types.SimpleNamespace(X=X, y=y, info=info)
    hgb = {
        "model": "hgb",
        "class_weight": "none",
        "hgb:learning_rate": 0.1,
        "hgb:max_leaf_nodes": 15,
        "hgb:min_samples_leaf": 5,
        "hgb:l2_regularization": 0.0,
        "hgb:max_features": 1.0,
        "hgb:max_iter": 50,
    }
    catboost = {
        "model": "catboost",
        "class_weight": "none",
        "catboost:learning_rate": 0.2,
        "catboost:depth": 4,
        "catboost:l2_leaf_reg": 3.0,
        "catboost:iterations": 60,
    }
    for config in (hgb, catboost):
        assert namespace["train"](config, data, seed=0)["score"] > 0.95, config["model"]
        model = namespace["fit"](config, data, seed=0)
        served = namespace["predict"](model, later) == truth
        assert served[1:].mean() > 0.95, config["model"]  # row 0 has no date
    assert model[-1].get_cat_feature_indices() == [1 + 7]  # after one number and a date's seven parts
