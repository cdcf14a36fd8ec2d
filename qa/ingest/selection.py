"""Which files in a folder are read as articles: walked in a stable order, no hidden files, no README
or licence, include and exclude globs."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

logger = logging.getLogger(__name__)

# Files that travel with a collection of articles without being one ("README.TXT", "LICENSE.md").
NOT_ARTICLE_NAMES = frozenset({"readme", "license", "licence", "copying", "changelog", "notice"})


def is_not_an_article(name: str) -> bool:
    """True for a README, LICENSE, COPYING, CHANGELOG or NOTICE file, whatever its case or suffix."""
    return name.split(".", 1)[0].lower() in NOT_ARTICLE_NAMES


def _matches(relative: PurePosixPath, pattern: str) -> bool:
    """A glob matches a file's path below the folder, one of its folders, or its name."""
    pattern = pattern.strip("/")
    candidates = [relative.as_posix(), relative.name, *(p.as_posix() for p in relative.parents if p.name)]
    return any(fnmatchcase(c, pattern) for c in candidates)


@dataclass(frozen=True, slots=True)
class FileSelection:
    """``--include`` and ``--exclude`` globs; without includes every article file is taken."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def leave_out(self, path: Path, folder: Path) -> str | None:
        """Why a file found in ``folder`` is not read (None: read it). Files named directly always are."""
        relative = PurePosixPath(path.relative_to(folder).as_posix())
        if any(_matches(relative, g) for g in self.exclude):
            return "excluded"
        if self.include and not any(_matches(relative, g) for g in self.include):
            return "not included"
        if is_not_an_article(relative.name):
            return "not an article"
        return None


ALL_ARTICLES = FileSelection()


def iter_files(root: Path) -> Iterator[Path]:
    """Files below ``root`` in a stable order, skipping hidden ones and never following symlink loops."""
    if not root.is_dir():
        yield root
        return
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=_log_walk_error):
        try:
            info = os.stat(dirpath)
        except OSError:
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen:  # a symlink loop or a second link to the same folder
            logger.warning("%s: skipped, folder already visited (symlink loop?)", dirpath)
            dirnames[:] = []
            continue
        seen.add(key)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def _log_walk_error(error: OSError) -> None:
    logger.warning("%s: skipped, %s", error.filename, error.strerror or error)
