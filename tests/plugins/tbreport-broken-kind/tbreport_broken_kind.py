"""A data kind installed without its dependency (pip --no-deps): importing it fails."""

import tbreport_broken_dependency  # noqa: F401  (not installed anywhere, on purpose)

KIND = None
