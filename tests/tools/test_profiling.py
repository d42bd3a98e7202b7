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


def test_dates_written_as_text_are_told_from_categories_and_codes():
    days = pd.date_range("2021-01-01", periods=60, freq="D")
    table = pd.DataFrame(
        {
            "day": days.strftime("%Y-%m-%d"),
            "stamp": days.strftime("%m/%d/%Y %H:%M"),  # US order, with a time
            "utc": days.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "month": days.strftime("%b"),  # "Jan": a category, no year in it
            "phone": [f"555-01{i:02d}" for i in range(60)],
            "size": range(60),
        }
    )
    table.loc[::9, "day"] = None  # gaps do not hide a date
    facts = profile(table, [0, 1] * 30, "classification", "tabular")
    assert facts["date_columns"] == ["day", "stamp", "utc"]
    assert facts["date_formats"] == {"day": "%Y-%m-%d", "stamp": "%m/%d/%Y %H:%M", "utc": "%Y-%m-%dT%H:%M:%S%z"}
    assert facts["categorical_columns"] == ["month", "phone"] and facts["text_columns"] == []
