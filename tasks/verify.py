"""``courseware verify FILE``: any media file against the profile's format clauses (D2–D10).

Probes the file (demux only, see :mod:`courseware.probe`) and reports the ``format.*``
checks as a QC report (shared/DESIGN.md).
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from courseware.probe import probe_media
from courseware.report import Report
from encoder_profiles import Profile
from qc_metrics.format import check_format


def verify_file(path: Path, *, profile: Profile, lecture: str | None = None) -> Report:
    """The format report of ``path`` (D2–D10); raises MissingSourceError / CorruptMediaError
    when the file is absent or unreadable."""
    probe = probe_media(path, window_s=profile.delivery.bitrate_window_s, lecture=lecture)
    return Report(file=str(path), profile=profile.name, duration_s=probe.duration_s,
                  checks=tuple(check_format(probe, profile)))


# A path says nothing about the file's content: never serve a cached verdict.
verify_task = task(name="verify", cache_policy=NO_CACHE)(verify_file)
