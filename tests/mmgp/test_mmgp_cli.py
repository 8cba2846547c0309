"""The file-based workflow end to end, and one-line errors with exit code 2."""

import subprocess
import sys
from pathlib import Path

import pytest

from geomsci.core.io import load, read_table
from tests.mmgp.cli_run import run_cli as _main


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("mmgp_cli")
    assert (
        _main(
            [
                "mmgp",
                "make-dataset",
                str(d),
                "--n-train",
                "10",
                "--n-test",
                "2",
                "--n-ood",
                "1",
                "--h-min",
                "0.09",
                "--h-max",
                "0.11",
            ]
        )
        == 0
    )
    return d


def test_make_fit_predict(dataset, tmp_path):
    assert len(list((dataset / "train").glob("*.vtu"))) == 10
    assert (dataset / "ood_wedge" / "inputs.csv").exists()
    model = tmp_path / "model.pt"
    assert (
        _main(
            [
                "mmgp",
                "fit",
                str(dataset / "train"),
                "--inputs",
                "inputs.csv",
                "--outputs",
                "outputs.csv",
                "--fields",
                "u1,u2",
                "-o",
                str(model),
                "--iters",
                "15",
                "--polish",
                "10",
                "--restarts",
                "1",
                "--shape-modes",
                "3",
                "--amplitude-shape-modes",
                "1",
            ]
        )
        == 0
    )
    assert model.exists()
    out = tmp_path / "pred"
    assert _main(["mmgp", "predict", str(model), str(dataset / "test"), "--inputs", "inputs.csv", "-o", str(out)]) == 0
    mesh = load(out / "sample_0001.vtu")
    assert {"u1_mean", "u1_std", "u2_lo95", "u2_hi95"} <= set(mesh.point_data)
    table = read_table(out / "predictions.csv")
    assert list(table["id"]) == ["sample_0000", "sample_0001"]
    assert {"max_von_mises", "max_top_u2_std", "max_top_u2_lo95"} <= set(table)


def test_error_exit_code_via_subprocess(dataset):
    exe = Path(sys.executable).with_name("geomsci")
    r = subprocess.run(
        [str(exe), "mmgp", "fit", str(dataset / "train"), "--inputs", "nope.csv", "--fields", "u1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "nope.csv" in r.stderr


def test_errors_are_one_line(dataset, tmp_path, capsys):
    bad = tmp_path / "inputs.csv"
    text = (dataset / "test" / "inputs.csv").read_text().splitlines()
    bad.write_text("\n".join([text[0], text[1].replace("sample_0000", "sample_9999")] + text[2:]) + "\n")
    cases = [
        (["fit", str(dataset / "train"), "--outputs", "outputs.csv", "--fields", "stress"], "no point field 'stress'"),
        (["predict", str(tmp_path / "missing.pt"), str(dataset / "test")], "no model file"),
        (["fit", str(dataset / "test"), "--inputs", str(bad), "--fields", "u1"], "sample 'sample_9999' has no mesh file"),
        (["fit", str(tmp_path / "nodir"), "--fields", "u1"], "no such folder"),
        (["fit", str(dataset / "train")], "nothing to learn"),
    ]
    for args, needle in cases:
        capsys.readouterr()
        assert _main(["mmgp", *args]) == 2, args
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("geomsci: error:")]
        assert len(err) == 1 and needle in err[0], (args, err)


def test_missing_column_and_unknown_id(dataset, tmp_path):
    from geomsci.mmgp.files import read_table_by_id

    with pytest.raises(ValueError, match=r"missing column\(s\) \['stress'\]"):
        read_table_by_id(dataset / "train" / "outputs.csv", columns=["max_von_mises", "stress"])
    with pytest.raises(ValueError, match="no row for sample 'sample_0042'"):
        read_table_by_id(dataset / "test" / "inputs.csv", ids=["sample_0000", "sample_0042"])


def test_inputs_table_with_text_numbers_and_semicolons(dataset, tmp_path):
    from geomsci.mmgp.files import read_table_by_id

    (tmp_path / "zeros.csv").write_text("id,pressure\ns0,007\ns1,2\n")  # "007" stays text in read_table
    ids, cols = read_table_by_id(tmp_path / "zeros.csv")  # was a bare StopIteration
    assert ids == ["s0", "s1"] and cols["pressure"].tolist() == [7.0, 2.0]
    (tmp_path / "semi.csv").write_text("id;pressure\ns0;1\n")
    with pytest.raises(ValueError, match="seems to use ';' or tabs"):
        read_table_by_id(tmp_path / "semi.csv")
