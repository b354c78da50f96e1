"""pytest --nbval on the notebooks alone (``pytest --nbval notebooks/09_full_uda.ipynb``): run 09 with the smoke preset.

Notebook 09 is committed with ``preset = "auto"`` (the real run for a person with papermill); ``auto`` reads
``DAFORMER_EDU_AUTO_PRESET`` (``daformer_edu.train.resolve_auto_preset``), and the kernels nbval starts inherit it.
``tests/conftest.py`` sets the same for the whole suite.
"""
import os

os.environ.setdefault("DAFORMER_EDU_AUTO_PRESET", "smoke")
