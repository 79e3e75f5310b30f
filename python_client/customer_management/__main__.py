"""Let ``python -m customer_management`` behave like the ``customer-management`` script."""

import sys

from customer_management.cli import main

if __name__ == "__main__":
    sys.exit(main())
