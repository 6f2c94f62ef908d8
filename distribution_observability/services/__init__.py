# Pure Python: no odoo import here (see shared conventions); the models call these functions.
