"""PNG plots: files are written, pixels show the field's colours, bad input is refused."""

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from geomsci.core import shapes
from geomsci.core.mesh import Mesh
from geomsci.core.plot import plot_field_2d, plot_images, plot_mesh


def _colourful(path) -> int:
    """Number of distinct colours in a PNG (a blank or one-colour figure has very few)."""
    img = imread(path)[..., :3]
    return len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0))


def test_plot_mesh_with_point_field_and_views(tmp_path):
    t = shapes.torus_mesh(1.0, 0.35, 24, 12)
    t.set_point_field("height", t.points[:, 2])
    path = plot_mesh(t, tmp_path / "sub" / "torus.png", field="height", title="z", views=2)
    assert path.exists() and path.suffix == ".png"
    img = imread(path)
    assert img.shape[1] > img.shape[0]  # two views side by side
    assert _colourful(path) > 50


def test_plot_mesh_variants(tmp_path):
    s = shapes.icosphere(2)
    plot_mesh((s.points, s.cells), tmp_path / "plain.png")
    plot_mesh(s, tmp_path / "cells.png", field=torch.arange(s.n_cells, dtype=torch.float32), cmap="magma")
    plot_mesh(s, tmp_path / "vec.png", field=s.points)  # vectors drawn as length (constant: still works)
    tet = Mesh(
        torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]),
        torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]),
        "tetra",
    )
    plot_mesh(tet, tmp_path / "tet.png", field=torch.arange(5.0))
    plot_mesh(Mesh(torch.rand(50, 3)), tmp_path / "cloud.png")
    for name in ("plain", "cells", "vec", "tet", "cloud"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_plot_field_2d_point_and_cell_fields(tmp_path):
    p = shapes.plane_mesh(8, 6, dim=2)
    u = torch.sin(3 * p.points[:, 0]) * p.points[:, 1]
    assert _colourful(plot_field_2d(p, u, tmp_path / "u.png", title="u", show_edges=True)) > 50
    plot_field_2d(p, torch.arange(p.n_cells, dtype=torch.float32), tmp_path / "k.png")
    # a 2-D mesh given to plot_mesh goes to plot_field_2d
    assert plot_mesh(p, tmp_path / "via_mesh.png", field=u).exists()


def test_plot_images_grid(tmp_path):
    imgs = [torch.rand(16, 16), np.zeros((16, 16)), torch.rand(16, 16, 3)]
    path = plot_images(imgs, tmp_path / "grid.png", titles=["a", "b", "rgb"], colorbar=True)
    assert path.exists()


def test_plot_errors(tmp_path):
    s = shapes.icosphere(1)
    with pytest.raises(ValueError, match="no field named 'nope'"):
        plot_mesh(s, tmp_path / "x.png", field="nope")
    with pytest.raises(ValueError, match="field has 7 values, expected 42"):
        plot_mesh(s, tmp_path / "x.png", field=torch.zeros(7))
    with pytest.raises(ValueError, match="must end in .png"):
        plot_mesh(s, tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="expected a Mesh or a"):
        plot_mesh(s.points, tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"image 0 has shape \(4,\)"):
        plot_images([np.zeros(4)], tmp_path / "x.png")
    with pytest.raises(ValueError, match="2 titles for 1 images"):
        plot_images([np.zeros((4, 4))], tmp_path / "x.png", titles=["a", "b"])
