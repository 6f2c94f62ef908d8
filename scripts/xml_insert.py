#!/usr/bin/env python3
"""Insert XML records before the closing </odoo> of a data file: `xml_insert.py FILE < records.xml`.

A tiny helper for editing shared data files (crons, server actions, queue monitors) in one step.
"""

import sys
from pathlib import Path

path = Path(sys.argv[1])
text = path.read_text()
index = text.rindex("</odoo>")
path.write_text(text[:index] + sys.stdin.read().rstrip("\n") + "\n" + text[index:])
