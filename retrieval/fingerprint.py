"""A cheap fingerprint of the source folder: what watch mode compares to notice changes.

It costs one stat() per entry and reads no file, so an unchanged folder costs next to
nothing to check however large it is. Names, sizes, modification times and inodes are
hashed: a new, changed (rewritten or replaced), renamed or removed file changes it. Hidden
entries are left out, as indexing skips them (an editor's swap file is not a change).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def folder_fingerprint(folder: Path) -> str:
    """Return a digest that changes whenever a visible file under `folder` does."""
    digest = hashlib.blake2b(digest_size=16)
    # Walk without following folder links (a link loop would never end); a link's own
    # target is stat()ed, so a changed target file still changes the fingerprint.
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in [*dirs, *sorted(f for f in files if not f.startswith("."))]:
            path = Path(root, name)
            rel = path.relative_to(folder).as_posix()
            try:
                info = path.stat()
            except OSError:  # a broken link, or a file gone since the listing
                digest.update(f"{rel}\0gone\n".encode("utf-8", "surrogateescape"))
                continue
            line = f"{rel}\0{info.st_mode}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ino}\n"
            digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
