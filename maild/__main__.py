"""`python -m maild` runs the `maild` program (maild.entry)."""

import sys

from maild.entry import main

sys.exit(main())
