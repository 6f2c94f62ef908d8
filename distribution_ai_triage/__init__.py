from . import models


def post_init_hook(env):
    """The shipped labels get their seed examples and rules (data/triage_seed.json), and the starter policy
    of this addon (the breaker alert) is copied into the companies already there."""
    env["distribution.triage.label"]._load_seed()
    env["res.company"].search([])._distribution_copy_starter_policy(module="distribution_ai_triage")
