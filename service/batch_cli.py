"""`dispute-guide batch IN -o OUT`: evaluate recorded cases from JSONL or CSV.

(Placeholder: issue 4 fills this in.)
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the `batch` subcommand."""
