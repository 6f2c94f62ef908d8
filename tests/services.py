"""Load an addon's pure services module by path: the addon package itself imports Odoo."""

import importlib.util
import sys

from .conftest import ROOT


def load_service(addon, name):
    module_name = f"_services_{addon}_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / addon / "services" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
