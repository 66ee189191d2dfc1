"""Entry point of ``python -m cv_textbook``."""

import sys

from cv_textbook.cli import main

sys.exit(main())
