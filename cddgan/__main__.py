"""`python -m cddgan` runs the command line (the Snakemake rules call it this way)."""

import sys

from cddgan.cli import main

sys.exit(main())
