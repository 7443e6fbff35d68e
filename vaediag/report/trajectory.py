"""A metric's whole path over the checkpoints, in words: "rises at each checkpoint", "peaks at epoch 50,
then falls", "stays flat within its CI".

:func:`trajectory_words` is pure: a sequence of (epoch, value) or (epoch, value, low, high) in, sentence parts
(text and epoch tags) out. A step between two checkpoints counts as a rise or a fall only when it is larger
than the larger half-width of the two values' intervals, or, where either has none, than ``tolerance``
(:func:`vaediag.judgement.rules.trajectory_segments`).
"""

from __future__ import annotations

from typing import Sequence

from .findings import Part, const_tag, epoch_tag
from vaediag.judgement.rules import CI_TEXT, trajectory_segments, trajectory_shape

VERBS = {1: "rises", -1: "falls", 0: "stays flat"}
MAX_SEGMENTS = 3  # paths of more stretches than this are summarised ("rises overall …", "peaks at …")


def _has_intervals(points: Sequence[tuple]) -> bool:
    return all(len(p) >= 4 for p in points) and all(p[2] == p[2] and p[3] == p[3] for p in points)


def trajectory_words(points: Sequence[tuple], tolerance: float, tolerance_text: str = "") -> list[Part]:
    """Parts describing the path of ``points`` (sorted by epoch): "rises at each checkpoint", "falls at each
    checkpoint", "stays flat within its 95 % CI" (or "within <tolerance_text>"), "rises to a peak at epoch
    P, then falls", "falls to its lowest at epoch P, then rises", "rises overall from epoch A to epoch B, not
    at every checkpoint" (more than MAX_SEGMENTS stretches), else each stretch in turn: "rises from epoch A
    to epoch B, then stays flat to epoch C". One point: [] (no path). Each step is judged against the last
    value that registered a change (:func:`vaediag.judgement.rules.trajectory_steps`)."""
    points = sorted(points, key=lambda p: p[0])
    shape = trajectory_shape(points, tolerance)
    if shape == "single":
        return []
    noise: list[Part] = (["within its ", const_tag(CI_TEXT)] if _has_intervals(points)
                         else ["within ", const_tag(tolerance_text or f"{tolerance:g}")])
    segments = trajectory_segments(points, tolerance)
    if shape == "flat":
        return ["stays flat ", *noise, " from ", epoch_tag(segments[0].start), " to ", epoch_tag(segments[-1].end)]
    if shape in ("rises", "falls") and len(segments) == 1:
        verb = VERBS[segments[0].direction]
        if len(points) > 2:
            return [f"{verb} at each checkpoint"]
        return [f"{verb} from ", epoch_tag(segments[0].start), " to ", epoch_tag(segments[0].end)]
    if shape in ("rises", "falls") and len(segments) > MAX_SEGMENTS:
        return [f"{VERBS[1 if shape == 'rises' else -1]} overall from ", epoch_tag(segments[0].start), " to ",
                epoch_tag(segments[-1].end), ", not at every checkpoint"]
    if shape in ("peak", "valley") and (len(segments) == 2 or len(segments) > MAX_SEGMENTS):
        pick = max if shape == "peak" else min
        turn = int(pick(points, key=lambda p: p[1])[0])
        if shape == "peak":
            return ["rises to a peak at ", epoch_tag(turn), ", then falls"]
        return ["falls to its lowest at ", epoch_tag(turn), ", then rises"]
    parts: list[Part] = []
    for i, segment in enumerate(segments):
        verb: list[Part] = [VERBS[segment.direction]] + ([" (", *noise, ")"] if segment.direction == 0 else [])
        if i == 0:
            parts += [*verb, " from ", epoch_tag(segment.start), " to ", epoch_tag(segment.end)]
        else:
            parts += [", then ", *verb, " to ", epoch_tag(segment.end)]
    return parts
