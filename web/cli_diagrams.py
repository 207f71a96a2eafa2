"""The ``shebao`` diagrams commands (registered on the main group by ``web.cli``)."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
