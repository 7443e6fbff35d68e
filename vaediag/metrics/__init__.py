"""Pure metric functions of numpy arrays, one module per family (no torch, no I/O).

- :mod:`~vaediag.metrics.latent`     separation of digits in latent space (silhouette, kNN, DB, CH, pairs)
- :mod:`~vaediag.metrics.usage`      latent usage (active units, per-dim KL, total correlation, q(z) vs prior)
- :mod:`~vaediag.metrics.generation` class-histogram metrics of generated digits, prior samples, latent grids
- :mod:`~vaediag.metrics.frechet`    Fréchet distance in classifier-feature space
- :mod:`~vaediag.metrics.prdc`       precision / recall / density / coverage (Naeem et al. 2020)

Each public function's docstring gives its range, the better direction and how to read the value.
"""

from vaediag.metrics.frechet import feature_statistics, frechet_distance, frechet_distance_from_stats
from vaediag.metrics.generation import (
    class_counts,
    class_share_intervals,
    class_shares,
    entropy_norm_interval,
    labels_entropy_norm_interval,
    histogram_metrics,
    inside_fraction,
    inside_share_per_class,
    linear_grid,
    quantile_grid,
    sample_prior,
    with_prefix,
)
from vaediag.metrics.latent import (
    KnnResult,
    knn_accuracy_interval,
    knn_scores,
    most_mixed_pair,
    pair_confusion,
    per_class_silhouette,
    separation_scores,
    silhouette_values,
)
from vaediag.metrics.prdc import compute_prdc, nearest_neighbour_radii
from vaediag.metrics.usage import (
    active_units,
    aggregate_posterior_moments,
    gaussian_total_correlation,
    kl_dim_columns,
    kl_per_dim,
)

__all__ = [
    "KnnResult",
    "active_units",
    "aggregate_posterior_moments",
    "class_counts",
    "class_share_intervals",
    "class_shares",
    "compute_prdc",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_stats",
    "gaussian_total_correlation",
    "entropy_norm_interval",
    "labels_entropy_norm_interval",
    "histogram_metrics",
    "inside_fraction",
    "inside_share_per_class",
    "kl_dim_columns",
    "kl_per_dim",
    "knn_accuracy_interval",
    "knn_scores",
    "linear_grid",
    "most_mixed_pair",
    "nearest_neighbour_radii",
    "pair_confusion",
    "per_class_silhouette",
    "quantile_grid",
    "sample_prior",
    "separation_scores",
    "silhouette_values",
    "with_prefix",
]
