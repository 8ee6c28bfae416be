"""``python -m api.commands``: the ``carecenter`` command, for processes started without the console script."""

import sys

from api.commands import main

sys.exit(main())
