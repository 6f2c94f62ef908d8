from . import distribution_alert_incident
from . import distribution_alert_rule
from . import distribution_metric_snapshot
from . import distribution_queue_monitor
from . import distribution_workflow
from . import distribution_workflow_run
from . import res_company
from . import res_config_settings
