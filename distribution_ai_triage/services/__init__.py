# Pure Python: no odoo import here; the models call these functions.
