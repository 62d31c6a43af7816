"""Write a study's report folder, all or nothing: ``transfer.json`` (validated first), ``transfer.csv``,
the PNGs of ``har_edge.transfer.plots`` and ``transfer.md`` (which links them)."""

from __future__ import annotations

from pathlib import Path

from har_edge.fsutil import atomic_directory, atomic_write_text
from har_edge.transfer import plots as plotting
from har_edge.transfer.report import (
    CSV_FILE,
    JSON_FILE,
    MARKDOWN_FILE,
    render_markdown,
    report_csv,
    report_json,
)


def write_outputs(document: dict, folder: str | Path, *, plots: bool = True) -> list[Path]:
    """Replace ``folder`` with the study's files; returns their paths."""
    text = report_json(document)
    folder = Path(folder)
    with atomic_directory(folder, overwrite=True) as staging:
        atomic_write_text(staging / JSON_FILE, text)
        atomic_write_text(staging / CSV_FILE, report_csv(document))
        drawn = plotting.draw_all(document, staging) if plots else []
        atomic_write_text(staging / MARKDOWN_FILE, render_markdown(document, drawn))
    return [folder / name for name in (JSON_FILE, CSV_FILE, *drawn, MARKDOWN_FILE)]
