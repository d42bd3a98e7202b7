"""Images: a PyTorch CNN with epochs as SMAC's fidelity, or PCA + SVM / boosting."""

from __future__ import annotations

from tools.templates.base import TaskTemplate

LARGE_IMAGES = 20_000  # above this, fewer epochs per trial and in the final fit
SEARCH_ROWS = 10_000  # images a search trial trains on


def epochs(n_rows: int) -> int:
    return 6 if n_rows >= LARGE_IMAGES else 8


class Image(TaskTemplate):
    priority = 10
    families = ("cnn", "classical")
    facade = "multi_fidelity"

    def matches(self, profile: dict) -> bool:
        return profile.get("modality") == "image"

    def fidelity(self, profile: dict) -> tuple[dict, str]:
        n = epochs(int(profile["n_rows"]))
        return (
            {"min_budget": 1.0, "max_budget": float(n)},
            f"budget = epochs from 1 to {n} (Hyperband, eta 3); the final model trains {n} epochs on all images",
        )

    def settings(self, profile: dict, scenario: dict | None = None) -> dict:
        """Epochs (the multi-fidelity budget's top is the epochs of the final fit) and the
        number of images a search trial trains on."""
        n = int((scenario or {}).get("max_budget") or epochs(int(profile["n_rows"])))
        return {"MAX_EPOCHS": n, "FINAL_EPOCHS": n, "SEARCH_ROWS": SEARCH_ROWS}

    def validation(self, cv_folds: int, settings: dict) -> str:
        return (
            "a stratified holdout split inside the training split (a network trained "
            "k times would cost k times the search)"
        )

    def parameters(self, profile: dict, plan: dict, component: str) -> dict:
        if component == "train":
            return dict(plan.get("template_parameters") or self.settings(profile, plan.get("scenario")))
        return {
            "FAMILIES": list(plan["families"]),
            "N_ROWS": int(profile["n_rows"]),
            "IMAGE_SHAPE": list(profile.get("shape", [28, 28])),
        }


TEMPLATE = Image()
