import sys

from evalql.cli import main

sys.exit(main())
