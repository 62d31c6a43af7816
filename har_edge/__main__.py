"""``python -m har_edge``: the ``har-edge`` command."""

from har_edge.cli import entry_point

entry_point()
