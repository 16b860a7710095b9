"""The targets of issue #5, each a ratio of two figures measured in the same run (or, for
memory, a bound), and how one is judged: met, missed (by how much), or not measured (why)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

X = "\u00d7"  # the multiplication sign, spelled out for the linter


@dataclass(frozen=True)
class Figure:
    family: str
    key: str  # measurement key within the family
    metric: str


@dataclass(frozen=True)
class Target:
    id: str
    text: str
    numerator: Figure
    op: str  # ">=", "<=" or "<"
    threshold: float
    unit: str  # X for ratios, "MiB" for bounds
    denominator: Figure | None = None  # None: an absolute bound, judged on the worst run


def _ratio(
    id: str, text: str, family: str, num: tuple[str, str], den: tuple[str, str], op: str,
    threshold: float,
) -> Target:
    return Target(id, text, Figure(family, *num), op, threshold, X, Figure(family, *den))


def _rss(id: str, text: str, family: str, key: str) -> Target:
    return Target(id, text, Figure(family, key, "rss_growth_mib"), "<", 20.0, "MiB")


TARGETS: tuple[Target, ...] = (
    _ratio("mint-vs-serializer",
           f"Minter.mint costs at most 1.5{X} URLSafeTimedSerializer.dumps of the same claims",
           "minting", ("inproc.minter_mint", "us"), ("inproc.serializer", "us"), "<=", 1.5),
    _ratio("mint-vs-presign",
           f"minting is at least 20{X} faster than boto3 generate_presigned_url",
           "minting", ("inproc.presign", "us"), ("inproc.minter_mint", "us"), ">=", 20.0),
    _ratio("batch-vs-single",
           f"GET /api/v1/files?filter[id]=<100 ids> costs at most 5{X} "
           "one GET /api/v1/files/{id}",
           "minting", ("api.batch", "ms"), ("api.single", "ms"), "<=", 5.0),
    _ratio("stream-4k-vs-naive",
           f"4 KiB downloads, stream mode: at least 2{X} the naive Flask app's requests/s",
           "downloads", ("stream.small", "rps"), ("naive.small", "rps"), ">=", 2.0),
    _ratio("accel-1m-vs-nginx",
           "1 MiB downloads, accel mode: at least 60% of nginx secure_link's requests/s",
           "downloads", ("accel.medium", "rps"), ("nginx.medium", "rps"), ">=", 0.6),
    _ratio("slow-clients-stream",
           "stream mode: 4 KiB requests/s with 4 slow clients at least 80% of unloaded",
           "slow_clients", ("stream.loaded", "rps"), ("stream.unloaded", "rps"), ">=", 0.8),
    _ratio("slow-clients-accel",
           "accel mode: 4 KiB requests/s with 4 slow clients at least 80% of unloaded",
           "slow_clients", ("accel.loaded", "rps"), ("accel.unloaded", "rps"), ">=", 0.8),
    _ratio("big-local-throughput",
           "1 GiB local download: at least 90% of nginx's throughput",
           "streams", ("local.stream", "mb_s"), ("local.nginx", "mb_s"), ">=", 0.9),
    _ratio("big-s3-throughput",
           "1 GiB S3 download: at least 90% of boto3's direct read",
           "streams", ("s3.stream", "mb_s"), ("s3.direct", "mb_s"), ">=", 0.9),
    _ratio("edge-4k-vs-nginx",
           "4 KiB through the front tier, lookup cached: at least 50% of nginx secure_link's "
           "requests/s", "edge", ("edge.small", "rps"), ("nginx.small", "rps"), ">=", 0.5),
    _ratio("edge-1m-vs-nginx",
           "1 MiB local through the front tier: at least 90% of nginx secure_link's requests/s",
           "edge", ("edge.medium", "rps"), ("nginx.medium", "rps"), ">=", 0.9),
    _ratio("edge-s3-vs-direct",
           "1 GiB from S3 through the front tier: at least 90% of boto3's direct read",
           "edge", ("s3.edge", "mb_s"), ("s3.direct", "mb_s"), ">=", 0.9),
    _ratio("edge-slow-clients",
           "front tier: 4 KiB requests/s under the slow-client load of its tests at least 80% "
           "of unloaded", "edge", ("edge.loaded", "rps"), ("edge.unloaded", "rps"), ">=", 0.8),
    _rss("rss-local-download", "1 GiB local download: worker RSS growth under 20 MiB",
         "streams", "local.stream"),
    _rss("rss-s3-download", "1 GiB S3 download: worker RSS growth under 20 MiB",
         "streams", "s3.stream"),
    _rss("rss-local-upload", "1 GiB local upload: worker RSS growth under 20 MiB",
         "streams", "upload.local"),
    _rss("rss-s3-upload", "1 GiB S3 upload: worker RSS growth under 20 MiB",
         "streams", "upload.s3"),
    _ratio("upload-url-vs-api",
           "1 GiB local upload through an upload URL: at least 95% of POST /api/v1/files' "
           "throughput", "uploads", ("upload.url", "mb_s"), ("upload.api", "mb_s"), ">=", 0.95),
    _rss("rss-upload-url", "1 GiB upload through an upload URL: worker RSS growth under 20 MiB",
         "uploads", "upload.url"),
    _ratio("mint-upload-vs-download",
           f"minting an upload URL costs at most 1.5{X} minting a download URL "
           "(POST /api/v1/upload-urls against GET /api/v1/files/{id})",
           "uploads", ("mint.upload_url", "ms"), ("mint.download_url", "ms"), "<=", 1.5),
)


def paired_ratio(
    numerator: dict[str, Any], denominator: dict[str, Any], metric: str
) -> float | None:
    """The median of the per-run ratios: run i of a figure and run i of its baseline were
    measured back to back, so each pair saw the same moment of a noisy machine. Falls back to
    the ratio of the medians where the runs do not pair up."""
    nums = [r.get(metric) for r in numerator["runs"]]
    dens = [r.get(metric) for r in denominator["runs"]]
    if nums and len(nums) == len(dens) and all(nums) and all(dens):
        return float(statistics.median(n / d for n, d in zip(nums, dens, strict=True)))
    n, d = numerator["median"].get(metric), denominator["median"].get(metric)
    return n / d if n and d else None


def _measurement(families: dict[str, Any], figure: Figure) -> tuple[dict[str, Any] | None, str]:
    """The figure's measurement, or None and why it is missing."""
    family = families.get(figure.family)
    if family is None:
        return None, f"the {figure.family} family was not run"
    if family.get("error"):
        return None, f"the {figure.family} family failed: {family['error']}"
    measurement = family["measurements"].get(figure.key)
    if measurement is None or not measurement["runs"]:
        return None, f"{figure.key} was not measured"
    return measurement, ""


def evaluate(target: Target, families: dict[str, Any]) -> dict[str, Any]:
    """The target's verdict: status, measured value, and the margin in words."""
    row: dict[str, Any] = {
        "id": target.id, "text": target.text, "op": target.op, "threshold": target.threshold,
        "unit": target.unit, "family": target.numerator.family,
    }
    value: float | None = None
    numerator, why = _measurement(families, target.numerator)
    if target.denominator is None:  # an absolute bound, judged on the worst run
        if numerator is not None:
            value = max(r[target.numerator.metric] for r in numerator["runs"])
    else:
        denominator, why_den = _measurement(families, target.denominator)
        why = why or why_den
        if numerator is not None and denominator is not None:
            value = paired_ratio(numerator, denominator, target.numerator.metric)
    if value is None:
        return {**row, "status": "not measured", "value": None, "margin": why}
    t = target.threshold
    met = {">=": value >= t, "<=": value <= t, "<": value < t}[target.op]
    if target.denominator is None:  # an absolute bound
        margin = f"{'met' if met else 'missed'}: {abs(t - value):.1f} {target.unit} " + (
            "under the bound" if met else "over the bound")
    elif met:  # how far above (or below) the threshold, relative to it
        relative = value / t - 1 if target.op == ">=" else (t / value - 1 if value else math.inf)
        margin = f"met with {relative:.0%} to spare"
    elif target.op == ">=":
        margin = f"missed: {1 - value / t:.0%} short (needs {t / value:.2f}{X} the measured)"
    else:
        margin = f"missed: {value / t - 1:.0%} over"
    return {**row, "status": "met" if met else "missed", "value": value, "margin": margin}


def evaluate_all(families: dict[str, Any]) -> list[dict[str, Any]]:
    return [evaluate(t, families) for t in TARGETS]
