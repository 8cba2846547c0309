"""Each package's ``__all__`` names exactly what it offers: every listed name resolves, and every public
class or function the package defines or re-exports is listed."""

import importlib
import inspect

import pytest

PACKAGES = ["geomsci", "geomsci.core", "geomsci.deepmesh", "geomsci.gshell", "geomsci.pig", "geomsci.mmgp"]
PACKAGES += ["geomsci.wing", "geomsci.nbody"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_complete(name):
    module = importlib.import_module(name)
    listed = set(module.__all__)
    assert len(listed) == len(module.__all__), f"{name}.__all__ lists a name twice"
    assert not [n for n in listed if not hasattr(module, n)], f"{name}.__all__ names what the package lacks"
    offered = {
        k
        for k, v in vars(module).items()
        if not k.startswith("_") and not inspect.ismodule(v) and getattr(v, "__module__", "").startswith("geomsci")
    }
    assert offered <= listed, f"{name} offers {sorted(offered - listed)} without listing them in __all__"


@pytest.mark.parametrize("name", [p for p in PACKAGES if p.count(".") == 1 and p != "geomsci.core"])
def test_stub_lists_what_the_package_loads(name):
    """A method subpackage loads its names on first use from the imports of its ``__init__.pyi``; the stub's
    ``__all__`` (what type checkers and IDEs read) must name the same set."""
    import ast
    from pathlib import Path

    module = importlib.import_module(name)
    stub = ast.parse(Path(module.__file__).with_suffix(".pyi").read_text())
    listed = next(n.value for n in stub.body if isinstance(n, ast.Assign) and n.targets[0].id == "__all__")
    assert set(ast.literal_eval(listed)) == set(module.__all__)


def test_lazy_names_stay_what_they_are():
    """A function that shares its module's name (``geomsci.pig.train``, ``geomsci.gshell.fit``) is the function,
    also when its module was imported first (the import system then sets the package attribute to the
    module; lazy_loader >= 0.6 guards against it). In a fresh process, submodules first."""
    from tests.fresh_python import run_fresh_python

    out = run_fresh_python(
        """
        import importlib, inspect, pkgutil
        bad = []
        for pkg in ("deepmesh", "gshell", "pig", "wing", "mmgp", "nbody"):
            name = "geomsci." + pkg
            module = importlib.import_module(name)
            for info in pkgutil.iter_modules(module.__path__):
                if info.name not in ("env", "dqn", "rules"):  # gymnasium-only modules may be absent
                    importlib.import_module(name + "." + info.name)
            for attr in module.__all__:
                value = getattr(module, attr)
                if inspect.ismodule(value) and attr != "problems":  # geomsci.pig.problems is a subpackage on purpose
                    bad.append(name + "." + attr)
        print(bad)
        """
    )
    assert out.strip() == "[]", out
