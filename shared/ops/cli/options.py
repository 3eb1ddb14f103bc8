"""Options every command shares: ``--home`` decides the settings."""

from __future__ import annotations

import argparse

from shared.settings import Settings


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings for ``--home`` if given, else the environment's (MLOPS_HOME or .mlops)."""
    home = getattr(args, "home", None)
    return Settings(home=home) if home else Settings()
