"""Entry point of ``python -m cv_textbook``."""

import os
import sys

# Keep TensorFlow's start-up chatter out of a student's terminal unless they ask for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cv_textbook.cli import main  # noqa: E402  (after the logging setting above)

sys.exit(main())
