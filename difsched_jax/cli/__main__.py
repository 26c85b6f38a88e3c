"""`python -m difsched_jax.cli ...`, the same as `difsched ...`."""

import sys

from difsched_jax.cli import main

sys.exit(main())
