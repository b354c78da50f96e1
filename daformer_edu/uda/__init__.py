"""DAFormer's training strategies, one small module each (DAFormer Sec. 3.1 and 3.3).

- ``pseudo_label``  teacher argmax p_T and confidence weight q_T                (notebook 05)
- ``ema``           mean-teacher update φ ← αφ + (1 − α)θ                       (notebook 05)
- ``dacs``          ClassMix masks, domain mixing, colour jitter + blur          (notebook 05)
- ``losses``        the pixel-weighted cross-entropy                             (notebook 05)
- ``rcs``           Rare Class Sampling: f_c, P(c), the sampler                  (notebook 06)
- ``fd``            thing-class masks and the ImageNet feature distance          (notebooks 07, 08)
- ``schedule``      warmup + poly learning rate, AdamW parameter groups          (notebook 08)
- ``step``          one DAFormer iteration from all of the above: ``daformer_step`` (notebook 09)

Import from the submodules, e.g. ``from daformer_edu.uda.pseudo_label import pseudo_label``. Nothing is
re-exported here: ``daformer_edu.uda.pseudo_label`` must stay the module, not the function of the same name.
"""

__all__: list[str] = []
