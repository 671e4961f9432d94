"""``python -m mds``: the same as the ``mds`` script, for where the script is not on PATH."""

import sys

from mds.cli import main

sys.exit(main())
