"""Typed errors. The CLI turns every :class:`VaediagError` into a one-line message and exit code 2."""


class VaediagError(Exception):
    """Base class for every error vaediag reports to a user (never a traceback)."""


class ConfigError(VaediagError):
    """An option or configuration value is invalid (unknown model, latent dim < 1, ...)."""


class DataError(VaediagError):
    """The dataset cannot be provisioned, verified or loaded."""


class CheckpointError(VaediagError):
    """A checkpoint is missing, truncated, corrupt or of the wrong format."""


class RunDirError(VaediagError):
    """A run directory is unusable (is a file, not empty without --resume, has no checkpoints...)."""


class TrainingDivergedError(VaediagError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""
