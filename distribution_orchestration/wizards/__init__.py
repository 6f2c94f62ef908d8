from . import distribution_outbound_discard_wizard
from . import distribution_release_wizard
