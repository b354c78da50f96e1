"""The network DAFormer is made of: Mix Transformer encoder, SegFormer / DAFormer heads, weight loading.

``build_segmentor("mit_b5", "daformer", num_classes=19, pretrained=None)`` gives DAFormer's network.

Taught in: notebooks/03_mix_ffn.ipynb
"""

from .heads import DAFormerHead, SegFormerHead
from .mit import MixTransformer, mit_b0, mit_b1, mit_b2, mit_b3, mit_b4, mit_b5
from .segmentor import EncoderDecoder, build_segmentor
from .weights import load_encoder_weights

__all__ = [
    "build_segmentor",
    "EncoderDecoder",
    "MixTransformer",
    "mit_b0",
    "mit_b1",
    "mit_b2",
    "mit_b3",
    "mit_b4",
    "mit_b5",
    "SegFormerHead",
    "DAFormerHead",
    "load_encoder_weights",
]
