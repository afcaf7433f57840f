"""``python -m tbreport``: the same as the ``tbreport`` command."""

from tbreport.cli import main

main()
