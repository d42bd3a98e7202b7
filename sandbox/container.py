"""The Docker backend (placeholder until the Docker sandbox lands): reports itself unavailable."""

from __future__ import annotations


def docker_unavailable_reason() -> str | None:
    return "the Docker backend is not built yet"
