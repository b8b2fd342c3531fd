"""``python -m vision.synth synth ...`` (before the project CLI is wired)."""

import sys

from .cli import main

sys.exit(main())
