"""Typed errors. The CLI turns every :class:`VaediagError` into a one-line message and exit code 2."""

import re


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (its type name when empty): keeps errors one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def load_reason(exc: BaseException, what: str = "checkpoint") -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in a few words of one line. torch's own message
    advises loading with ``weights_only=False``, which would run whatever code the file holds: that advice (and
    its terminal colour codes) is never passed on; only the offending global or a short reason is."""
    text = str(exc)
    if "Weights only load failed" in text:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if found:
            return f"it refers to {found.group(1)}, which a {what} may not hold"
        detail = re.search(r"WeightsUnpickler error: ([^\n.]*)", text)
        return "it holds something other than tensors and plain containers" + (
            f" ({_printable(detail.group(1).strip())})" if detail and detail.group(1).strip() else "")
    line = re.sub(r"^\[enforce fail at [^\]]*\]\s*\.?\s*", "", first_line(exc))
    return _printable(line.split(". ")[0].strip()) or type(exc).__name__


def _printable(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", "", text)


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
class NonFiniteError(VaediagError):
    """A model's weights or outputs hold NaN or infinite values, so its metrics would be meaningless (names the
    checkpoint or epoch and what is not finite); nothing is published."""
