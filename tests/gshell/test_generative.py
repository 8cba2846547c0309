"""Generative model of open surfaces: the shape family, the VAE plumbing and the metrics."""

import pytest
import torch

from geomsci.core import geometry as G
from geomsci.gshell.generative import (
    GridVAE,
    generation_metrics,
    grids_to_meshes,
    is_valid_open_manifold,
    open_shape_family,
    sample_grids,
    train_vae,
)


def test_bad_shapes_are_named():
    grids, _ = open_shape_family(2)
    # used to surface as "extract_gshell: msdf must have shape (1331,)", naming neither grids nor resolution
    with pytest.raises(ValueError, match=r"grids_to_meshes: grids must have shape \(B, 2, 11, 11, 11\)"):
        grids_to_meshes(grids, resolution=10)
    with pytest.raises(ValueError, match="sample_grids: train_grids must have shape"):  # was a matmul error
        sample_grids(GridVAE(), 2, torch.zeros(2, 2, 8, 8, 8))
    with pytest.raises(ValueError, match="n_shapes must be a positive int"):  # was "stack expects a non-empty"
        open_shape_family(0)
    with pytest.raises(ValueError, match="reference must hold at least one mesh"):  # was an argmin IndexError
        generation_metrics(grids_to_meshes(grids), [])


def test_family_gives_caps_with_one_loop_and_tubes_with_two():
    grids, kinds = open_shape_family(6, seed=0)
    assert grids.shape == (6, 2, 16, 16, 16) and grids.abs().max() <= 0.3
    for m, k in zip(grids_to_meshes(grids), kinds):
        assert is_valid_open_manifold(m)
        assert len(G.boundary_loops(m.cells)) == (1 if k == 0 else 2)


def test_vae_shapes_training_and_sampling():
    grids, _ = open_shape_family(8, seed=0)
    model, hist = train_vae(grids, steps=3, batch=4, progress=False)
    assert len(hist) == 3 and all(torch.isfinite(torch.tensor(hist)))
    assert sample_grids(model, 2, seed=0).shape == (2, 2, 16, 16, 16)
    assert sample_grids(model, 2, grids, seed=0).shape == (2, 2, 16, 16, 16)
    with pytest.raises(ValueError, match="grids"):
        train_vae(torch.zeros(2, 2, 8, 8, 8), steps=1)


def test_metrics_of_a_set_against_itself():
    grids, _ = open_shape_family(4, seed=3)
    meshes = grids_to_meshes(grids)
    m = generation_metrics(meshes, meshes)
    # MMD of a set against itself is the sampling-noise floor of Chamfer on 1000 points
    assert m["valid"] == 1.0 and m["cov"] == 1.0 and m["mmd"] < 0.06


def test_old_import_paths_of_split_modules_still_work():
    """gshell/fit.py was split (template, training, cleanup, evaluation) and deepmesh's topology /
    quality modules renamed; the old paths re-export the same objects, and ``geomsci.gshell.fit``
    is still the fitting function."""
    import geomsci.gshell as gshell
    from geomsci.deepmesh import evaluation, sdf_fitting, skimage_reference
    from geomsci.deepmesh.quality import skimage_mesh, surface_error
    from geomsci.deepmesh.topology import fit_to_target, surface_metrics
    from geomsci.gshell import cleanup, template
    from geomsci.gshell.evaluation import evaluate
    from geomsci.gshell.fit import _area_per_sample, clean_surface, normalize, polish_nu, template_sdf
    from geomsci.gshell.fit import evaluate as old_evaluate

    assert callable(gshell.fit) and gshell.fit.__name__ == "fit"
    assert old_evaluate is evaluate and gshell.evaluate is evaluate
    assert (clean_surface, polish_nu) == (cleanup.clean_surface, cleanup.polish_nu)
    assert (template_sdf, normalize, _area_per_sample) == (template.template_sdf, template.normalize, template.area_per_sample)
    assert (fit_to_target, surface_metrics) == (sdf_fitting.fit_to_target, evaluation.surface_metrics)
    assert (skimage_mesh, surface_error) == (skimage_reference.skimage_mesh, skimage_reference.surface_error)
