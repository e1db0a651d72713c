"""The generator evaluation's figures as flat columns (the runs DataFrame) and W&B summary keys, from a record's
``generator_eval`` (birsweep/gen_eval/). One list, so the DataFrames and W&B carry the same figures."""

from __future__ import annotations

from typing import Any, Dict, Mapping

# figure in the record -> what it means (docs/method.md, Generator evaluation)
GEN_SCALARS = {
    "ll": "test log-likelihood (importance sampling)",
    "ll_sd": "its sd over test samples",
    "recon_error": "reconstruction error per unit",
    "recon_error_sd": "its sd over test samples",
    "is": "inception score (evaluation classifier)",
    "fid": "Frechet distance (evaluation classifier's features)",
}
COLUMN_PREFIX = "gen_"  # runs DataFrame: gen_ll, gen_fid, ..., gen_skipped
SUMMARY_PREFIX = "gen/"  # W&B summary: gen/ll, gen/fid, ..., gen/skipped


def generator_columns(data: Mapping[str, Any], prefix: str = COLUMN_PREFIX) -> Dict[str, Any]:
    """The figures of one record (none for a record without the evaluation); ``<prefix>skipped`` says why the
    whole evaluation, or ``<prefix>image_metrics_skipped`` why IS/FID/PR, did not run."""
    entry = data.get("generator_eval")
    if not isinstance(entry, Mapping):
        return {}
    out: Dict[str, Any] = {f"{prefix}{key}": entry.get(key) for key in GEN_SCALARS}
    out[f"{prefix}skipped"] = entry.get("skipped")
    out[f"{prefix}image_metrics_skipped"] = entry.get("image_metrics_skipped")
    return out


def from_summary(summary: Mapping[str, Any]) -> Dict[str, Any] | None:
    """A record's ``generator_eval`` back from a W&B summary's ``gen/*`` keys (the curves stay in W&B's plot)."""
    entry = {k[len(SUMMARY_PREFIX) :]: v for k, v in summary.items() if k.startswith(SUMMARY_PREFIX)}
    return entry or None
