"""``python -m mds.cli``: the same as the ``mds`` script."""

import sys

from . import main

sys.exit(main())
