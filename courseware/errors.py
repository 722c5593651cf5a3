"""One root error for the pipeline, with builtin mixins (as PyAV does).

Messages say which file, which lecture, what was found and what to do. Only entry
points (the CLI, flows) turn these into exit codes or failed states.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Root of every error this pipeline raises on purpose."""


class ProfileError(PipelineError, ValueError):
    """A delivery profile or layout file is malformed or unknown."""


class CourseFileError(PipelineError, ValueError):
    """The course description (course.yaml) is malformed or inconsistent."""


class MissingSourceError(PipelineError, FileNotFoundError):
    """A source named in the course file does not exist."""


class CorruptMediaError(PipelineError, ValueError):
    """A media file cannot be read, or holds no usable stream."""


class FontError(PipelineError, LookupError):
    """The configured font is missing or lacks glyphs for the text to draw."""


class StoreError(PipelineError, OSError):
    """Publishing to or reading from a store failed."""


class BankError(PipelineError, ValueError):
    """A question bank file cannot be read (missing, not CSV/XLSX, wrong encoding)."""
