"""Import cycles between modules, a package's ``__init__`` included.

The ``acyclic_siblings`` contract compares siblings only, so a module importing its own
package (``mdsd/connectors/ids.py`` doing ``import mdsd.connectors``, whose ``__init__``
imports every connector) escapes it; a cycle between any two modules does not escape this.
Run as a script from a source root, it prints that root's cycles as JSON, which lets a test
point it at a planted copy of the tree instead of the installed packages.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path

import grimp


def root_packages(root: Path) -> list[str]:
    """The packages the import contracts cover, read from the one place that names them."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    return list(config["tool"]["importlinter"]["root_packages"])


def module_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """One import path per cycle, first module repeated at the end, each cycle once."""
    seen: set[frozenset[str]] = set()
    cycles: list[list[str]] = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(imported, importer)
            if back and frozenset(back) not in seen:
                seen.add(frozenset(back))
                cycles.append([importer, *back])
    return cycles


if __name__ == "__main__":
    # Like lint-imports: the packages under the working directory, not the installed ones.
    sys.path.insert(0, os.getcwd())
    graph = grimp.build_graph(*root_packages(Path.cwd()), cache_dir=None)
    print(json.dumps(module_cycles(graph)))
