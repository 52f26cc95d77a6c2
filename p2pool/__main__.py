import sys

from p2pool.cli import main

sys.exit(main())
