"""Files written by other tools (meshio, trimesh, gmsh, pyvista, hand-made byte layouts) load as
those tools hold them: counts, coordinates in the file's precision, cells and fields.

The cases live in io_corpus.py, which also prints the table of docs/io.md.
"""
import importlib

import pytest

from tests.core.io_corpus import CASES, check_case

RESULTS = {}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_file_loads_as_the_tool_holds_it(case, tmp_path):
    if case.needs:
        pytest.importorskip(case.needs)
    RESULTS[case.id] = check_case(case, tmp_path)
    print(f"{case.id}: {RESULTS[case.id]}")
