"""Training function: one configuration becomes a scikit-learn pipeline, scored by CV.

Written by the built-in coder from an expert template. Contract (checked by the verifier):

    train(config, data, seed=0, budget=None) -> {"loss": float, "score": float, ...}
        cross-validation inside the training split `data`; loss = 1 - score for scores
        (accuracy, r2, ...) and the error itself for errors (rmse, mae, log_loss).
        `budget` in (0, 1] scales the fidelity (trees, boosting rounds, epochs).
    fit(config, data, seed=0) -> model        the pipeline fitted on all of `data`
    predict(model, X) -> labels or values      one per row of X
    predict_proba(model, X) -> probabilities   classes in sorted order, or None
"""

import hashlib
import os
import pickle
import tempfile
import time

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier, CatBoostRegressor
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.naive_bayes import MultinomialNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import SVC, SVR

SCORERS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "f1_macro": "f1_macro",
    "roc_auc": "roc_auc_ovr",
    "log_loss": "neg_log_loss",
    "r2": "r2",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
}
ERRORS = {"log_loss", "rmse", "mae"}  # sklearn negates these; the loss is the error itself
FOREST_TREES = 200
TEXT_COMPONENTS = 50  # dense features per free-text column
TEXT_SCORE_FOLDS = 3  # the folds a text column's linear scores are made out of fold on
TEXT_CACHE_MB = 120  # fitted text features kept in the sandbox's /tmp (see FittedOnce)
DATE_PARTS = ("year", "month", "day", "weekday", "day_of_year", "hour", "days_since_1970")


def _scaler(name, n_rows):
    if name == "standard":
        return StandardScaler()
    if name == "robust":
        return RobustScaler()
    if name == "quantile":
        return QuantileTransformer(n_quantiles=max(10, min(1000, n_rows // 2)), output_distribution="normal")
    return FunctionTransformer()  # "none", or a family that does not need scaling


def _with_text_filled(X, columns):
    """Text columns as strings, missing texts empty: what TF-IDF takes."""
    if not columns:
        return X
    X = X.copy()
    for column in columns:
        X[column] = X[column].fillna("").astype(str)
    return X


def _text_features(X, column):
    """A free-text column as dense features: TF-IDF of words and word pairs, reduced to at most
    TEXT_COMPONENTS dimensions (latent semantic analysis), so every family can use them."""
    words = set(" ".join(X[column].head(5000)).lower().split()) if X is not None else set()
    components = max(1, min(TEXT_COMPONENTS, len(words) // 2))
    return make_pipeline(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), max_features=20000, dtype=np.float32),
        TruncatedSVD(n_components=components, random_state=0),
    ), components


class DateParts(BaseEstimator, TransformerMixin):
    """Dates written as text, as numbers every family can use: DATE_PARTS per column (the hour
    with its minutes as a fraction; days since 1970 carry the trend). `formats` maps a column
    to its strftime format (the profile's); a value that does not follow it becomes missing."""

    def __init__(self, formats=None):
        self.formats = formats

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        parts = []
        for column in X.columns:
            when = pd.to_datetime(X[column], format=(self.formats or {}).get(column), errors="coerce", utc=True)
            since = (when - pd.Timestamp(0, tz="UTC")).dt.total_seconds() / 86400
            hour = when.dt.hour + when.dt.minute / 60
            parts += [when.dt.year, when.dt.month, when.dt.day, when.dt.day_of_week, when.dt.day_of_year, hour, since]
        return np.column_stack([p.to_numpy(dtype=float, na_value=np.nan) for p in parts])


class TextScores(BaseEstimator, TransformerMixin):
    """A free-text column as a text model's scores: TF-IDF of words and word pairs into a
    multinomial naive Bayes (class probabilities; one column for two classes) or a ridge (a
    value). The LSA components keep a few hundred words' worth of a text; a text model reads
    all of them, and its score is one strong feature for any family (a stacked text model).
    Fitting returns out-of-fold scores (TEXT_SCORE_FOLDS folds of the rows it is given), so
    the model after it never learns from a score its own label helped make; transform() then
    scores with the model fitted on all of them. The vocabulary and IDF weights are fitted
    once on the rows given (no labels: nothing to leak), the text models per fold.

    Naive Bayes, not logistic regression: on trump_tweets' training split (the development
    set with text) its 3-fold accuracy was 0.839 against 0.830 and its log loss 0.362
    against 0.406 (alpha 0.1 of 0.03-1.0); and its fit costs milliseconds where an
    eight-class logistic regression on 11,250 short texts took a second a fold, which cost
    every trial of a 60 s run its timeout.
    """

    def __init__(self, classes=None, seed=0):
        self.classes = classes  # None: a regression
        self.seed = seed

    def _text_model(self):
        return MultinomialNB(alpha=0.1) if self.classes is not None else Ridge()

    def _scores(self, model, documents):
        if self.classes is None:
            return model.predict(documents).reshape(-1, 1)
        out = np.zeros((documents.shape[0], len(self.classes)))  # a class a fold never saw scores 0
        out[:, [self.classes.index(c) for c in model.classes_]] = model.predict_proba(documents)
        return out[:, 1:] if len(self.classes) == 2 else out

    def fit(self, X, y):
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y):
        texts, y = np.asarray(X, dtype=object).ravel(), np.asarray(y)
        self.vectorizer_ = TfidfVectorizer(
            sublinear_tf=True, ngram_range=(1, 2), min_df=2, max_features=50000, dtype=np.float32
        )
        documents = self.vectorizer_.fit_transform(texts)
        kind = KFold if self.classes is None or len(np.unique(y)) < 2 else StratifiedKFold
        folds = kind(n_splits=TEXT_SCORE_FOLDS, shuffle=True, random_state=self.seed)
        out = np.zeros((len(texts), width_of_text_scores(self.classes)))
        for rows, held in folds.split(texts, y):
            if len(np.unique(y[rows])) > 1 or self.classes is None:
                out[held] = self._scores(self._text_model().fit(documents[rows], y[rows]), documents[held])
        self.model_ = self._text_model().fit(documents, y)
        return out

    def transform(self, X):
        documents = self.vectorizer_.transform(np.asarray(X, dtype=object).ravel())
        return self._scores(self.model_, documents)


class FittedOnce(BaseEstimator, TransformerMixin):
    """`features` fitted once per set of rows, then reused. A text column's features (TF-IDF,
    LSA, text scores) do not depend on the configuration, and every trial's CV has the same
    folds, so each fit is kept in the sandbox's /tmp, keyed by the features' parameters and
    the rows and labels they are fitted on: a worker's later trials load it. On trump_tweets'
    6,460 training rows those fits were 1.5 s of each fold, seven eighths of a default HGB
    trial. The same rows give the same fit, so a trial's loss is the same either way. (Not
    scikit-learn's Pipeline(memory=...): joblib's pure-Python pickler took a second a fold
    to store these fits.) At most TEXT_CACHE_MB are kept; the least recently used go first."""

    def __init__(self, features=None):
        self.features = features

    def _path(self, X, y):
        folder = _cache_folder()
        if folder is None:
            return None
        key = hashlib.sha256(repr(self.features.get_params(deep=True)).encode())
        key.update("\x00".join(map(str, np.asarray(X, dtype=object).ravel())).encode())
        key.update(pickle.dumps(None if y is None else np.asarray(y).tolist()))
        return os.path.join(folder, key.hexdigest() + ".pkl")

    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        path = self._path(X, y)
        if path is not None:
            try:
                with open(path, "rb") as fh:
                    self.fitted_, out = pickle.load(fh)  # written by this sandbox's earlier trials
                os.utime(path)  # recently used
                return out
            except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
                pass  # not cached yet
        self.fitted_ = clone(self.features)
        out = self.fitted_.fit_transform(X, y)
        if path is not None:
            _keep(path, (self.fitted_, out))
        return out

    def transform(self, X):
        return self.fitted_.transform(X)


def _cache_folder():
    """/tmp/text-features, private to this user; None where it is not (a /tmp shared with
    other users, as on a host without a sandbox: their files are never loaded)."""
    folder = os.path.join(tempfile.gettempdir(), "text-features")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        mode = os.stat(folder)
    except OSError:
        return None
    return folder if mode.st_uid == os.getuid() and not mode.st_mode & 0o077 else None


def _keep(path, value):
    """Store `value` at `path` (written whole, then renamed), then drop the least recently used
    files beyond TEXT_CACHE_MB. Caching is only a saving: a full /tmp, or a class pickle cannot
    find (code run outside a module), leaves the cache as it was."""
    folder = os.path.dirname(path)  # made by _cache_folder()
    part = f"{path}.{os.getpid()}.part"  # a worker of its own sharing this /tmp cannot clash
    try:
        with open(part, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(part, path)
        files = sorted((os.path.join(folder, f) for f in os.listdir(folder)), key=os.path.getmtime, reverse=True)
        sizes = np.cumsum([os.path.getsize(f) for f in files])
        for stale in [f for f, total in zip(files, sizes, strict=True) if total > TEXT_CACHE_MB * 2**20]:
            os.remove(stale)
    except (OSError, pickle.PicklingError, AttributeError, TypeError):
        if os.path.exists(part):
            os.remove(part)


def width_of_text_scores(classes):
    return 1 if classes is None or len(classes) == 2 else len(classes)


def _preprocessor(config, info, X=None):
    """Numeric columns imputed (and scaled for the families that need it), then date columns'
    parts, treated the same, then categorical ones: one-hot, or integer codes for the families
    that split on categories themselves (HGB reads codes as floats with NaN for missing;
    CatBoost needs whole numbers: -1), then text columns' features."""
    numeric = list(info.get("numeric_columns", []))
    dates = list(info.get("date_columns", []))
    categorical = list(info.get("categorical_columns", []))
    texts = list(info.get("text_columns", []))
    n_rows = int(info.get("n_rows", 1000))
    family = config["model"]
    numeric_steps = [SimpleImputer(strategy=config.get("numeric_imputer", "median"))]
    numeric_steps.append(_scaler(config.get("scaler", "none"), n_rows))
    parts = [("numeric", make_pipeline(*numeric_steps), numeric)] if numeric else []
    if dates:  # a column whose values all fail to parse keeps its width (keep_empty_features)
        imputer = SimpleImputer(strategy=config.get("numeric_imputer", "median"), keep_empty_features=True)
        parse = DateParts(dict(info.get("date_formats") or {}))
        parts.append(("dates", make_pipeline(parse, imputer, _scaler(config.get("scaler", "none"), n_rows)), dates))
    if categorical:
        if family == "catboost":
            # Python ints in an object array: stacked beside the float columns they stay
            # whole numbers (an integer array would be cast to float, which CatBoost refuses).
            encoder = OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1, dtype=object
            )
            parts.append(("categorical", encoder, categorical))
        elif family == "hgb":
            # HGB splits on categories itself; it accepts at most 255 of them per column.
            encoder = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=np.nan,
                encoded_missing_value=np.nan,
                max_categories=255,
            )
            parts.append(("categorical", encoder, categorical))
        else:
            encoder = OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                sparse_output=False,
                max_categories=int(config.get("onehot_max_categories", 16)),
            )
            parts.append(("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"), encoder), categorical))
    n_text = 0
    classify = info["task"] == "classification"
    classes = list(info.get("classes") or []) if classify else None
    for column in texts:  # a column name, not a list: TF-IDF takes one column of documents
        lsa, components = _text_features(X, column)
        features = [("lsa", lsa)]
        n_text += components
        if not classify or len(classes) >= 2:  # the scores' width needs the classes up front
            features.append(("scores", TextScores(classes)))
            n_text += width_of_text_scores(classes)
        parts.append((f"text:{column}", FittedOnce(FeatureUnion(features)), column))
    transformer = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
    return transformer, len(numeric) + len(DATE_PARTS) * len(dates), len(categorical), n_text


def _estimator(config, info, seed, budget, n_numeric, n_categorical, n_text=0):
    classify = info["task"] == "classification"
    family = config["model"]
    scale = 1.0 if budget is None else float(np.clip(budget, 0.05, 1.0))
    class_weight = None if config.get("class_weight", "none") == "none" else "balanced"
    n_rows = int(info.get("n_rows", 1000))
    if family == "hgb":
        mask = [False] * n_numeric + [True] * n_categorical + [False] * n_text
        kwargs = dict(
            learning_rate=config["hgb:learning_rate"],
            max_leaf_nodes=config["hgb:max_leaf_nodes"],
            min_samples_leaf=config["hgb:min_samples_leaf"],
            l2_regularization=config["hgb:l2_regularization"],
            max_features=config["hgb:max_features"],
            max_iter=max(8, int(config["hgb:max_iter"] * scale)),
            categorical_features=mask if n_categorical else None,
            early_stopping=n_rows > 5000,
            random_state=seed,
        )
        if classify:
            return HistGradientBoostingClassifier(class_weight=class_weight, **kwargs)
        return HistGradientBoostingRegressor(**kwargs)
    if family == "catboost":
        kwargs = dict(
            iterations=max(20, int(config["catboost:iterations"] * scale)),
            learning_rate=config["catboost:learning_rate"],
            depth=config["catboost:depth"],
            l2_leaf_reg=config["catboost:l2_leaf_reg"],
            # CatBoost's own thread pool ignores OMP_NUM_THREADS: pass the sandbox's share.
            thread_count=max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))),
            random_seed=seed,
            verbose=0,
            allow_writing_files=False,  # no catboost_info/ folder in the working directory
        )
        if classify:
            return CatBoostClassifier(auto_class_weights="Balanced" if class_weight else None, **kwargs)
        return CatBoostRegressor(**kwargs)
    if family in ("random_forest", "extra_trees"):
        kwargs = dict(
            n_estimators=max(10, int(FOREST_TREES * scale)),
            max_features=config[f"{family}:max_features"],
            min_samples_leaf=config[f"{family}:min_samples_leaf"],
            min_samples_split=config[f"{family}:min_samples_split"],
            bootstrap=bool(config[f"{family}:bootstrap"]),
            n_jobs=1,
            random_state=seed,
        )
        if classify:
            kind = RandomForestClassifier if family == "random_forest" else ExtraTreesClassifier
            return kind(criterion=config[f"{family}:criterion"], class_weight=class_weight, **kwargs)
        kind = RandomForestRegressor if family == "random_forest" else ExtraTreesRegressor
        return kind(**kwargs)
    if family == "linear":
        if classify:
            return LogisticRegression(C=config["linear:C"], class_weight=class_weight, max_iter=2000)
        return Ridge(alpha=config["linear:alpha"])
    if family == "svm":
        kwargs = dict(
            C=config["svm:C"],
            kernel=config["svm:kernel"],
            gamma=config.get("svm:gamma", "scale"),
            degree=config.get("svm:degree", 3),
            cache_size=500,
            max_iter=200_000,
        )
        if classify:
            return SVC(class_weight=class_weight, random_state=seed, **kwargs)
        return SVR(epsilon=config["svm:epsilon"], **kwargs)
    if family == "knn":
        kwargs = dict(n_neighbors=config["knn:n_neighbors"], weights=config["knn:weights"], p=int(config["knn:p"]))
        return KNeighborsClassifier(**kwargs) if classify else KNeighborsRegressor(**kwargs)
    if family == "mlp":
        kwargs = dict(
            hidden_layer_sizes=(int(config["mlp:width"]),) * int(config["mlp:depth"]),
            alpha=config["mlp:alpha"],
            learning_rate_init=config["mlp:learning_rate_init"],
            # lbfgs converges faster and better on small data (scikit-learn's advice).
            solver="lbfgs" if n_rows < 2000 else "adam",
            max_iter=max(20, int(300 * scale)),
            early_stopping=n_rows >= 2000,
            random_state=seed,
        )
        return MLPClassifier(**kwargs) if classify else MLPRegressor(**kwargs)
    raise ValueError(f"unknown model family {family!r}")


def build_pipeline(config, info, seed=0, budget=None, probabilities=False, X=None):
    pre, n_numeric, n_categorical, n_text = _preprocessor(config, info, X=X)
    model = _estimator(config, info, seed, budget, n_numeric, n_categorical, n_text)
    if probabilities and isinstance(model, SVC):
        model.set_params(probability=True)  # slower: only when probabilities are scored
    pipeline = Pipeline([("preprocess", pre), ("model", model)])
    pipeline.text_columns_ = list(info.get("text_columns", []))  # predict() fills their gaps too
    # CatBoost is told its categorical columns at fit time: as a constructor argument the
    # list would not survive scikit-learn's clone() (CatBoost keeps a copy).
    categories = list(range(n_numeric, n_numeric + n_categorical))
    pipeline.fit_params_ = {"model__cat_features": categories} if config["model"] == "catboost" and categories else {}
    return pipeline


def _scorer(metric, info):
    if metric == "roc_auc" and int(info.get("n_classes", 2)) == 2:
        return "roc_auc"
    return SCORERS[metric]


def _folds(info, y, seed):
    n_splits = int(info.get("cv_folds", 5))
    if info["task"] == "classification":
        smallest = int(np.unique(y, return_counts=True)[1].min())
        return StratifiedKFold(n_splits=max(2, min(n_splits, smallest)), shuffle=True, random_state=seed)
    return KFold(n_splits=n_splits, shuffle=True, random_state=seed)


def _out_of_fold(cv, X, y, info):
    """Each row's prediction by the fold model that did not see it: class probabilities in
    the order of info["classes"] (a hard vote where a model has none), or values. The host
    builds an ensemble from these."""
    classify = info["task"] == "classification"
    classes = list(info.get("classes") or np.unique(y))
    oof = np.zeros((len(y), len(classes))) if classify else np.zeros(len(y))
    for model, rows in zip(cv["estimator"], cv["indices"]["test"], strict=True):
        X_rows = X.iloc[rows] if hasattr(X, "iloc") else X[rows]
        if not classify:
            oof[rows] = model.predict(X_rows)
            continue
        columns = [classes.index(c) for c in model.classes_]
        proba = predict_proba(model, X_rows)
        if proba is None:  # a hard vote: probability 1 for the predicted class
            proba = (model.predict(X_rows)[:, None] == model.classes_[None, :]).astype(float)
        oof[np.ix_(rows, columns)] = proba
    return oof


LATENCY_REPEATS = 3  # the fastest of a few timings: the machine is shared, noise only adds
LATENCY_ROWS = 1000  # one batch of this many rows is timed


def _latency_ms_per_1000(model, X, rows):
    """Milliseconds to predict 1,000 rows, timed on a batch of rows the model did not see
    (repeated to 1,000 when the fold is smaller: a call's fixed cost is not a row's cost)."""
    batch = np.resize(np.asarray(rows), LATENCY_ROWS)
    X_rows = X.iloc[batch] if hasattr(X, "iloc") else X[batch]
    best = float("inf")
    for _ in range(LATENCY_REPEATS):
        started = time.perf_counter()
        predict(model, X_rows)
        best = min(best, time.perf_counter() - started)
    return best * 1000 * 1000 / LATENCY_ROWS


def _costs(cv, X, objectives):
    """The run's extra objectives, measured here in the sandbox: predict_latency on each
    fold's held-out rows (the median over folds), model_size as the bytes of the first fold's
    pickled model (fitted on most of the rows, as the deployed one is on all of them)."""
    costs = {}
    if "predict_latency" in objectives:
        folds = zip(cv["estimator"], cv["indices"]["test"], strict=True)
        costs["predict_latency"] = float(np.median([_latency_ms_per_1000(m, X, rows) for m, rows in folds]))
    if "model_size" in objectives:
        costs["model_size"] = float(len(pickle.dumps(cv["estimator"][0], protocol=pickle.HIGHEST_PROTOCOL)))
    return costs


def train(config, data, seed=0, budget=None):
    info = data.info
    metric = info.get("metric", "accuracy" if info["task"] == "classification" else "r2")
    objectives = list(info.get("objectives", []))  # what the run trades its metric against
    X = _with_text_filled(data.X, info.get("text_columns"))
    pipeline = build_pipeline(config, info, seed, budget, probabilities=metric in ("roc_auc", "log_loss"), X=X)
    started = time.perf_counter()
    keep_models = budget is None or bool(objectives)
    cv = cross_validate(
        pipeline,
        X,
        data.y,
        cv=_folds(info, data.y, seed),
        scoring=_scorer(metric, info),
        error_score="raise",
        return_estimator=keep_models,
        return_indices=keep_models,
        params=pipeline.fit_params_,
    )
    train_seconds = time.perf_counter() - started
    scores = cv["test_score"]
    score = float(np.mean(scores))
    if metric in ERRORS:
        score = -score
        loss = score
    else:
        loss = 1.0 - score
    return {
        "loss": loss,
        "score": score,
        "score_std": float(np.std(-scores if metric in ERRORS else scores)),
        "fold_scores": [float(s) for s in (-scores if metric in ERRORS else scores)],
        "train_seconds": train_seconds,
        # Full-fidelity trials only: an ensemble is built from models as they are deployed.
        "oof": _out_of_fold(cv, X, data.y, info).tolist() if budget is None else None,
        **_costs(cv, X, objectives),
    }


def fit(config, data, seed=0):
    info = dict(data.info)
    X = _with_text_filled(data.X, info.get("text_columns"))
    pipeline = build_pipeline(config, info, seed, probabilities=info["task"] == "classification", X=X)
    return pipeline.fit(X, data.y, **pipeline.fit_params_)


def predict(model, X):
    labels = model.predict(_with_text_filled(X, getattr(model, "text_columns_", None)))
    return np.ravel(labels) if np.ndim(labels) == 2 else labels  # CatBoost's multiclass gives a column


def predict_proba(model, X):
    X = _with_text_filled(X, getattr(model, "text_columns_", None))
    if hasattr(model, "predict_proba"):
        try:
            return model.predict_proba(X)
        except AttributeError:  # e.g. an SVC fitted without probability estimates
            return None
    return None
