"""Files written by other tools (meshio, trimesh, gmsh, pyvista, hand-made byte layouts) load as
those tools hold them: counts, coordinates in the file's precision, cells and fields.

The cases live in io_corpus.py, which also prints the table of docs/io.md; the last test checks
that the table there says what the run found (regenerate it with ``python tests/core/io_corpus.py``).
"""

from pathlib import Path

import pytest

from tests.core.io_corpus import CASES, check_case, table_row

RESULTS = {}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "io.md"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_file_loads_as_the_tool_holds_it(case, tmp_path):
    if case.needs:
        pytest.importorskip(case.needs)
    RESULTS[case.id] = table_row(case.tool, case.fmt, case.variant, check_case(case, tmp_path))
    print(RESULTS[case.id])


def test_docs_table_matches_the_corpus():
    if not RESULTS:
        pytest.skip("run together with the corpus cases")
    text = DOCS.read_text()
    stale = [row for row in RESULTS.values() if row not in text]
    assert not stale, f"docs/io.md is out of date (python tests/core/io_corpus.py); first stale row: {stale[0]}"
