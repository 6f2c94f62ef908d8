"""Load an addon's pure services module by path: the addon package itself imports Odoo."""

import importlib.util
import sys

from .conftest import ROOT


def load_service(addon, name):
    """The module ``name`` of the addon's services, inside a package of their own, so that one service
    imports another as the addon does (``from .days import zone``)."""
    package = f"_services_{addon}"
    if package not in sys.modules:
        folder = ROOT / addon / "services"
        spec = importlib.util.spec_from_file_location(
            package, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[package] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"{package}.{name}")
