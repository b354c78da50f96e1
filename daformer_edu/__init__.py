"""daformer_edu — DAFormer built piece by piece.

The library that the notebooks in ``notebooks/`` derive step by step:

- ``daformer_edu.models``  Mix Transformer encoder, SegFormer and DAFormer heads, weight converters
- ``daformer_edu.data``    the embedded synthetic source→target pair and the real GTA/Synthia/Cityscapes loaders
- ``daformer_edu.uda``     DACS self-training pieces: pseudo-labels, EMA teacher, ClassMix, RCS, FD, schedules
- ``daformer_edu.train``   the trainer that composes them (also ``python -m daformer_edu.train``)
- ``daformer_edu.metrics`` / ``daformer_edu.viz``  evaluation and plots
- ``daformer_edu.checks``  ``compare(name, theirs, reference)`` for checking your own answers
"""

__version__ = "0.1.0"
__all__: list[str] = []
