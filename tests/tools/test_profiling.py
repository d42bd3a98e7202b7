"""The profile tells free text from categories."""

from __future__ import annotations

import pandas as pd

from tools.profiling import profile

SENTENCES = [f"message {i} says the launch window opens at dawn near orbit {i % 7}" for i in range(60)]


def test_free_text_is_told_from_categories_and_codes():
    table = pd.DataFrame(
        {
            "note": SENTENCES,
            "city": ["Paris", "Lyon", "Nice"] * 20,  # a category: short, few values
            "code": [f"A{i:04d}" for i in range(60)],  # distinct but one word: an identifier, not text
            "size": range(60),
        }
    )
    facts = profile(table, [0, 1] * 30, "classification", "tabular")
    assert facts["text_columns"] == ["note"]
    assert facts["categorical_columns"] == ["city", "code"] and facts["numeric_columns"] == ["size"]


def test_short_labels_stay_categories():
    table = pd.DataFrame({"colour": ["dark red", "light blue", "pale green", "deep blue"] * 15})
    assert profile(table, [0, 1] * 30, "classification", "tabular")["text_columns"] == []
