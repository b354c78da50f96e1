"""``python -m daformer_edu.data.synthetic export DIR --layout gta|cityscapes --n N``: the command line of ``export.py``."""

import sys

from .export import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
