"""The error every configuration problem raises."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration problem, found before any job runs.

    The message starts with the dotted path of the offending key
    (``experiments.tiny.runs[0].input: ...``) and says how to fix it.
    """
