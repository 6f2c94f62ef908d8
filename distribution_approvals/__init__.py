from . import controllers
from . import models
from . import wizards


def post_init_hook(env):
    """The starter policy of this addon is data for the main company: copy it into the other companies
    that are already there (a company made later gets it when it is created)."""
    env["res.company"].search([])._distribution_copy_starter_policy(module="distribution_approvals")
