"""Plots for the notebooks: pure functions ``plot_*(...) -> matplotlib.figure.Figure``, one module per topic.

- ``common``            the figure style (``new_figure``, ``image_panel``, ``add_colorbar``, ``label_axes``,
                        ``place_legend``, ``finish_figure``: dpi ≥ 100, ≥ 7 inches wide, one font size),
                        colours (``colorize``, ``overlay``), legend, image rows and grids
- ``encoder``           patch footprints, token grids, attention cost and maps, stage maps, parameter
                        counts, probe scores                                        (notebooks 01–03, 08 §0)
- ``decoder``           receptive fields of the decode heads                       (notebook 04)
- ``self_training``     pseudo-labels and q_T, ClassMix, schedules                 (notebook 05)
- ``sampling``          Rare Class Sampling: f_c, P(c), the classes drawn          (notebooks 06, 09)
- ``feature_distance``  thing mask on the feature grid, ImageNet feature distance  (notebooks 07, 08)
- ``runs``              training curves, prediction grids, pseudo-label evolution, IoU bars and tables
                                                                                    (notebook 09)
- ``siblings``          BlindNet and STEGO plots, the closing setting table        (notebooks 10, 11)

Every public name is re-exported here, so ``from daformer_edu.viz import plot_iou_bars`` works. Images may
be uint8 ``[H, W, 3]`` arrays or normalised ``[3, H, W]`` tensors; labels ``[H, W]`` trainIds (255 = ignore).
A new plot goes into the module of its topic and into that module's ``__all__``; then import it below.
"""

from . import common, decoder, encoder, feature_distance, runs, sampling, self_training, siblings
from .common import (
    DPI,
    FONT_SIZE,
    MIN_PANEL,
    MIN_WIDTH,
    SERIES_COLOURS,
    SIGNED_CMAP,
    VALUES_CMAP,
    add_colorbar,
    colorize,
    figure_dpi,
    finish_figure,
    image_panel,
    label_axes,
    new_figure,
    overlay,
    place_legend,
    plot_class_legend,
    plot_domain_grid,
    plot_image_grid,
    plot_image_row,
    plot_segmentation,
)
from .decoder import plot_receptive_fields
from .encoder import (
    plot_attention_cost,
    plot_attention_map,
    plot_param_breakdown,
    plot_patch_footprints,
    plot_probe_scores,
    plot_stage_maps,
    plot_token_grids,
)
from .feature_distance import plot_feature_distance, plot_thing_mask
from .runs import (
    format_comparison_table,
    plot_comparison_table,
    plot_iou_bars,
    plot_prediction_grid,
    plot_pseudo_label_evolution,
    plot_training_curves,
)
from .sampling import plot_class_draws, plot_rcs_probabilities
from .self_training import plot_classmix, plot_pseudo_labels, plot_schedule
from .siblings import (
    format_setting_table,
    plot_cluster_maps,
    plot_contrastive_samples,
    plot_correlation_volume,
    plot_covariance_matrices,
    plot_setting_table,
    plot_shift_effect,
)

__all__: list[str] = []  # the union of the modules' own lists, in the order of the course
__all__ += common.__all__
__all__ += encoder.__all__
__all__ += decoder.__all__
__all__ += self_training.__all__
__all__ += sampling.__all__
__all__ += feature_distance.__all__
__all__ += runs.__all__
__all__ += siblings.__all__
