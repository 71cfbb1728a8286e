"""``python -m skyfit.cli``: the ``skyfit`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
