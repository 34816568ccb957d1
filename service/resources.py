"""Files the service ships with: the bundled rules, the contract, the gunicorn settings.

They are edited in one place, at the top of the source tree (`rules/`, `openapi.yaml`);
building the wheel copies them into the package as `service/bundled/` (see setup.py), so
an installed service finds them through its own package whatever the working folder.
A source checkout (an editable install, or `python -m service.cli` in the tree) has no
`service/bundled/`: there the top-level originals are used.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BUNDLED = "bundled"
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def bundled(name: str) -> Path:
    """The shipped file or folder `name` (`rules`, `openapi.yaml`)."""
    packaged = resources.files("service").joinpath(BUNDLED, name)
    if packaged.is_file() or packaged.is_dir():
        return Path(str(packaged))
    return SOURCE_ROOT / name
