"""`python -m frontdesk` runs the same command line as the `frontdesk` script."""

import sys

from frontdesk.cli import main

sys.exit(main())
