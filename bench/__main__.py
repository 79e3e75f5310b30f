"""``python -m customer_management.dev.bench``: see ``run.main``."""

import sys

from customer_management.dev.bench.run import main

if __name__ == "__main__":
    sys.exit(main())
