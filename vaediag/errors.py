"""Typed errors. The CLI turns every :class:`VaediagError` into a one-line message and exit code 2."""


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (its type name when empty): keeps errors one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


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


class ProtocolError(ConfigError):
    """A user's model does not satisfy :class:`vaediag.models.protocol.VAEModel` (names the method and what it returned)."""


class MissingExtraError(VaediagError):
    """A command needs an optional dependency that is not installed; the message names the extra to install."""
