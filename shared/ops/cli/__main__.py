"""`python -m shared.ops.cli`, the same as the `mlops` script."""

from shared.ops.cli import main

raise SystemExit(main())
