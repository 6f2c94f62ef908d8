from . import test_dispatch
from . import test_exceptions
from . import test_notifications
from . import test_pipeline_cost
from . import test_stock_sourcing
from . import test_validation
