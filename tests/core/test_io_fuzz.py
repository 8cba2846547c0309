"""Mutated files (truncated, bit-flipped, header numbers edited) load as a valid Mesh or fail with one
ValueError line naming the file, within a time bound. The thousands-case run is io_fuzz.py (slow test)."""

import pytest

from tests.core.io_fuzz import IN_PROCESS, check_one, make_cases, run_many, seed_files


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return seed_files(tmp_path_factory.mktemp("seeds"), with_pyvista=False)


@pytest.mark.parametrize("chunk", range(4))
def test_mutated_files_give_a_mesh_or_one_line_naming_the_file(seeds, tmp_path, chunk):
    # 4 x 75 cases over the formats parsed in-process; VTK's child-process readers are in the slow run
    cases = make_cases([p for p in seeds if p.suffix in IN_PROCESS], tmp_path, 75, seed=100 + chunk)
    results = [(how, *check_one(path, seconds=10.0)) for path, how in cases]
    bad = [r for r in results if r[1] not in ("mesh", "error")]
    assert not bad, bad[:5]
    assert {r[1] for r in results} == {"mesh", "error"}  # the mutations both break files and leave some loadable


def test_mutated_vtk_files_through_the_child_process_reader(seeds, tmp_path):
    cases = make_cases([p for p in seeds if p.suffix == ".vtk"], tmp_path, 4, seed=5)
    results = [(how, *check_one(path, seconds=20.0)) for path, how in cases]
    assert all(r[1] in ("mesh", "error") for r in results), results


@pytest.mark.slow
@pytest.mark.parametrize("formats,count", [("in-process", 3000), ("vtk", 300)])
def test_thousands_of_mutated_files_in_a_restarting_worker(tmp_path, formats, count):
    report = run_many(count, seed=7, folder=tmp_path, formats=formats)
    print(report["tried"], report["counts"])
    assert report["tried"] == count and not report["findings"], report["findings"][:10]
