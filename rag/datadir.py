"""The data folder (VIDRAG_DATA_DIR) must be writable before anything is stored in it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rag.errors import VidragError


def check_writable(folder: Path) -> None:
    """Create `folder` if needed and prove it takes a file; else one line naming it. Trying it
    (not os.access) answers for whichever user this process really runs as."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        reason = "permission denied" if isinstance(e, PermissionError) else (e.strerror or type(e).__name__).lower()
        raise VidragError(
            f"the data folder {folder} is not writable ({reason}): fix its permissions, or set VIDRAG_DATA_DIR "
            "to a folder this user can write"
        ) from e
