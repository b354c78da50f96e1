"""Domain generalisation: BlindNet (CVPR 2024) — train on the source only, be blind to the target's style.

``losses`` holds the four losses (CML, CCL on shallow encoder maps; CWCL, SDCL on decoder embeddings),
``augment`` the two views of a crop, ``blindnet`` the network wrapper and a small training loop that never
sees a target image.

Taught in: notebooks/10_domain_generalization.ipynb
"""

from .augment import ORIGINAL_VIEW, STYLE_VIEW, PhotometricAugment, make_views
from .blindnet import (
    BlindNet,
    BlindNetConfig,
    BlindNetResult,
    ProjectionHead,
    decode_with_features,
    evaluate_target,
    train_blindnet,
)
from .losses import (
    class_wise_contrastive_loss,
    covariance_matching_loss,
    covariance_matrix,
    cross_covariance_loss,
    cross_covariance_matrix,
    info_nce,
    instance_normalize,
    sample_class_anchors,
    semantic_disentanglement_contrastive_loss,
)

__all__ = [
    "instance_normalize",
    "covariance_matrix",
    "cross_covariance_matrix",
    "covariance_matching_loss",
    "cross_covariance_loss",
    "info_nce",
    "sample_class_anchors",
    "class_wise_contrastive_loss",
    "semantic_disentanglement_contrastive_loss",
    "PhotometricAugment",
    "ORIGINAL_VIEW",
    "STYLE_VIEW",
    "make_views",
    "BlindNetConfig",
    "ProjectionHead",
    "BlindNet",
    "decode_with_features",
    "BlindNetResult",
    "train_blindnet",
    "evaluate_target",
]
