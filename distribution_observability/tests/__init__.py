from . import test_alerts
from . import test_dashboard
from . import test_endpoints
from . import test_queue_monitor
from . import test_retention
from . import test_security
from . import test_snapshots
from . import test_tracking
