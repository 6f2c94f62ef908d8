from . import distribution_release_wizard
