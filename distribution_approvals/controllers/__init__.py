from . import approval_link
