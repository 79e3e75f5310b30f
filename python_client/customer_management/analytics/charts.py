"""Charts of the analytics views as PNG files: account sources, the merge rate over time and
completeness. matplotlib (the ``bench`` extra) is imported here only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

from customer_management.analytics.views import ViewTable, as_text, plain


def _pyplot() -> Any:
    """pyplot on the file-only backend (no display needed)."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_charts(tables: list[ViewTable], directory: Path) -> list[Path]:
    """Draw the three charts into ``directory``; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    by_name = {t.name: t for t in tables}
    written = [
        _bars(
            by_name["customer_journey"],
            "sources",
            "customer_count",
            "Customers by account sources",
            directory / "account_sources.png",
        ),
        _merge_rate(by_name["daily_merge_rate"], directory / "merge_rate.png"),
        _bars(
            by_name["account_completeness"],
            "account_type",
            "count",
            "Account completeness",
            directory / "completeness.png",
        ),
    ]
    return written


def _column(table: ViewTable, name: str) -> list[object]:
    """One column's values."""
    index = table.columns.index(name)
    return [plain(row[index]) for row in table.rows]


def _bars(table: ViewTable, label: str, value: str, title: str, path: Path) -> Path:
    """A bar chart of one count per label."""
    plt = _pyplot()
    labels = [as_text(v) or "(none)" for v in _column(table, label)]
    values = [float(str(v)) for v in _column(table, value)]
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.bar(labels, values, color="#3ecf8e")
    axes.set_title(title)
    axes.set_ylabel(value.replace("_", " "))
    axes.tick_params(axis="x", labelrotation=20)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _merge_rate(table: ViewTable, path: Path) -> Path:
    """Accounts created per day and the share seen on several channels."""
    plt = _pyplot()
    rows = sorted(zip(_column(table, "date"), _column(table, "merge_percentage"), strict=True))
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(
        [str(d) for d, _ in rows], [float(str(p)) for _, p in rows], marker="o", color="#3ecf8e"
    )
    axes.set_title("Accounts seen on several channels (% of accounts created that day)")
    axes.set_ylabel("percent")
    axes.tick_params(axis="x", labelrotation=45)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
