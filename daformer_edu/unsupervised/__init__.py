"""Unsupervised semantic segmentation: STEGO (Hamilton et al., ICLR 2022) and the probes that score it.

``stego``: frozen backbone features → trainable head → low-dimensional code, trained by distilling feature
correlations. ``probe``: cosine k-means + Hungarian matching (unsupervised mIoU) and a linear probe.

Taught in: notebooks/11_unsupervised_stego.ipynb
"""

from .probe import assign_clusters, hungarian_match, kmeans_cosine, train_linear_probe, unsupervised_scores
from .stego import (
    StegoConfig,
    StegoHead,
    backbone_features,
    correlation,
    derangement,
    knn_table,
    predict_codes,
    sample_points,
    spatial_centering,
    stego_correlation_loss,
    stego_loss,
    train_stego,
)

__all__ = [
    "StegoConfig",
    "StegoHead",
    "backbone_features",
    "sample_points",
    "correlation",
    "spatial_centering",
    "stego_correlation_loss",
    "knn_table",
    "derangement",
    "stego_loss",
    "train_stego",
    "predict_codes",
    "kmeans_cosine",
    "assign_clusters",
    "hungarian_match",
    "unsupervised_scores",
    "train_linear_probe",
]
