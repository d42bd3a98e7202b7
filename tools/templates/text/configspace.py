"""Configuration space: text classification with TF-IDF features and a linear model.

Written by the built-in coder from an expert template. Features are word n-grams,
character n-grams (within word boundaries) or both side by side, with the usual TF-IDF
knobs (sublinear term frequency, document-frequency cut-offs, vocabulary size). The
models are the strong linear baselines for sparse text: logistic regression, a linear
SVM, complement naive Bayes and SGD with a searched loss.
"""

from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    InCondition,
    Integer,
)

# Filled in by the built-in coder from the plan and the data profile.
FAMILIES = ["linear_svm", "logreg", "complement_nb", "sgd"]
N_ROWS = 1000


def _only_when(cs, parent, value, *hyperparameters):
    cs.add(*hyperparameters)
    cs.add(*(EqualsCondition(hp, parent, value) for hp in hyperparameters))


def get_configspace() -> ConfigurationSpace:
    cs = ConfigurationSpace(seed=0)
    families = list(FAMILIES)
    model = Categorical("model", families, default=families[0])
    analyzer = Categorical("tfidf:analyzer", ["word", "char_wb", "word+char"], default="word")
    cs.add(model, analyzer)
    word = [
        Integer("tfidf:word_ngram_max", (1, 3), default=2),
        Categorical("tfidf:stop_words", ["none", "english"], default="none"),
    ]
    char = [
        Integer("tfidf:char_ngram_min", (1, 3), default=2),
        Integer("tfidf:char_ngram_span", (1, 4), default=3),  # max = min + span
    ]
    cs.add(*word, *char)
    cs.add(*(InCondition(hp, analyzer, ["word", "word+char"]) for hp in word))
    cs.add(*(InCondition(hp, analyzer, ["char_wb", "word+char"]) for hp in char))
    # Document-frequency floors as counts scale badly with corpus size: searched as a share.
    cs.add(
        Float("tfidf:min_df", (1e-5, 1e-2), log=True, default=1e-4),
        Float("tfidf:max_df", (0.3, 1.0), default=0.9),
        Categorical("tfidf:sublinear_tf", [True, False], default=True),
        Integer("tfidf:max_features", (5000, 300000), log=True, default=100000),
    )
    if "linear_svm" in families:
        _only_when(
            cs,
            model,
            "linear_svm",
            Float("linear_svm:C", (1e-2, 100.0), log=True, default=1.0),
            Categorical("linear_svm:class_weight", ["none", "balanced"], default="none"),
        )
    if "logreg" in families:
        _only_when(
            cs,
            model,
            "logreg",
            Float("logreg:C", (1e-1, 1e3), log=True, default=10.0),
            Categorical("logreg:class_weight", ["none", "balanced"], default="none"),
        )
    if "complement_nb" in families:
        _only_when(
            cs,
            model,
            "complement_nb",
            Float("complement_nb:alpha", (1e-3, 1.0), log=True, default=0.1),
            Categorical("complement_nb:norm", [False, True], default=False),
        )
    if "sgd" in families:
        _only_when(
            cs,
            model,
            "sgd",
            Categorical("sgd:loss", ["hinge", "modified_huber", "log_loss"], default="modified_huber"),
            Float("sgd:alpha", (1e-7, 1e-3), log=True, default=1e-5),
            Categorical("sgd:penalty", ["l2", "elasticnet"], default="l2"),
            Integer("sgd:max_iter", (10, 100), log=True, default=30),
        )
    return cs
