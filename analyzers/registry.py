"""Finding analyzers: built-ins and plug-ins through the ``clearinghouse.analyzers``
entry-point group, and the SHA-256 of an analyzer's code that the manifest declares.

The digest covers every ``.py`` file of the package (or module) the analyzer class
is defined in, by relative path and content, so any change to its code changes
the digest and a node running other code than declared refuses to start.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from importlib.metadata import entry_points
from pathlib import Path

from clearinghouse.analyzers.base import Analyzer

__all__ = ["ENTRY_POINT_GROUP", "AnalyzerNotFound", "available", "code_digest", "load"]

ENTRY_POINT_GROUP = "clearinghouse.analyzers"


class AnalyzerNotFound(LookupError):
    pass


def available() -> dict[str, str]:
    """Installed analyzers: id -> ``module:Class``."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load(analyzer_id: str) -> Analyzer:
    """An instance of the installed analyzer ``analyzer_id``.

    Raises :class:`AnalyzerNotFound` naming the installed ones.
    """
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == analyzer_id]
    if not found:
        known = ", ".join(sorted(available())) or "none"
        raise AnalyzerNotFound(
            f"no analyzer {analyzer_id!r} is installed (entry points "
            f"{ENTRY_POINT_GROUP!r}: {known})"
        )
    cls = found[0].load()
    analyzer = cls()
    if not isinstance(analyzer, Analyzer) or analyzer.id != analyzer_id:
        raise AnalyzerNotFound(
            f"entry point {analyzer_id!r} gives {cls!r}, whose id is {getattr(cls, 'id', None)!r}"
        )
    return analyzer


def code_digest(analyzer: Analyzer | type) -> str:
    """SHA-256 (hex) over the files of the analyzer's package (code and bundled data).

    For an analyzer defined in a package (``analyzers.security_risk``, or a
    plug-in's own package), every file below the package folder counts; for one
    defined in a lone module, that module's file.
    """
    cls = analyzer if isinstance(analyzer, type) else type(analyzer)
    module = importlib.import_module(cls.__module__)
    package = module.__package__
    if package and package != "clearinghouse.analyzers":
        root = Path(inspect.getfile(importlib.import_module(package))).parent
        files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    else:
        source = Path(inspect.getfile(module))
        root, files = source.parent, [source]
    digest = hashlib.sha256()
    for path in files:
        data = path.read_bytes()
        name = path.relative_to(root).as_posix().encode()
        digest.update(len(name).to_bytes(4, "big") + name + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()
