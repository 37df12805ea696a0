"""``python -m stockline.entrypoints.cli``, as the ``stockline`` script."""

from stockline.entrypoints.cli import main

main()
