from . import test_triage_flow
from . import test_triage_providers
