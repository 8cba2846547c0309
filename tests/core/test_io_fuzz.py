"""Mutated files (truncated, bit-flipped, header numbers edited) load as a valid Mesh or fail with one
ValueError line naming the file, within a time bound. The thousands-case run is io_fuzz.py (slow test)."""
import pytest

from tests.core.io_fuzz import check_one, make_cases, run_many, seed_files


def test_mutated_files_give_a_mesh_or_one_line_naming_the_file(tmp_path):
    cases = make_cases(seed_files(tmp_path / "seeds"), tmp_path / "cases", 300, seed=1)
    results = [(how, *check_one(path, seconds=10.0)) for path, how in cases]
    bad = [r for r in results if r[1] not in ("mesh", "error")]
    assert not bad, bad[:5]
    kinds = {r[1] for r in results}
    assert kinds == {"mesh", "error"}  # the mutations both break files and leave some loadable


@pytest.mark.slow
def test_thousands_of_mutated_files_in_a_restarting_worker(tmp_path):
    report = run_many(3000, seed=7, folder=tmp_path)
    print(report["tried"], report["counts"])
    assert report["tried"] == 3000 and not report["findings"], report["findings"][:10]
