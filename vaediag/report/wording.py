"""The report's words for a run's classes: the findings are written once, about digits, and reworded here for a
dataset whose classes have names (Fashion-MNIST: "Shirt" where MNIST says "digit 6", "test images" where it
says "test digits").

For MNIST (:attr:`ClassNames.numeric`) every function returns its input unchanged, so an MNIST report reads
exactly as before; for a named dataset:

- a class tag (``Tag("digit", "6")``) shows the class's name ("Shirt"), a pair tag ("4↔9") both names, and
  the word "digit" / "digits" just before a class tag is dropped ("prior samples show Shirt most often");
- "digit 6" in plain text becomes the class's name; "test digits", "real digits", ... become "... images";
  any other "digit(s)" becomes "class(es)".
"""

from __future__ import annotations

import re

from vaediag.datasets.classes import ClassNames, reword  # noqa: F401  (reword: re-exported)

from .findings import Part, Sentence, Tag

_BEFORE_TAG = re.compile(r"\b[Dd]igits? $")  # "digit " just before a class tag

def _tag(tag: Tag, classes: ClassNames) -> Tag:
    if tag.kind == "digit" and tag.text.isdigit():
        return Tag(tag.kind, classes.name(int(tag.text)), tag.how)
    if tag.kind == "pair":
        a, sep, b = tag.text.partition("↔")
        if sep and a.isdigit() and b.isdigit():
            return Tag(tag.kind, f"{classes.name(int(a))} ↔ {classes.name(int(b))}", tag.how)
    return Tag(tag.kind, reword(tag.text, classes), tag.how) if tag.kind == "const" else tag


def reword_sentence(sentence: Sentence, classes: ClassNames) -> Sentence:
    """``sentence`` in the words of ``classes`` (its quoted numbers untouched); the same object for MNIST."""
    if classes.numeric:
        return sentence
    parts: list[Part] = []
    for i, part in enumerate(sentence.parts):
        if isinstance(part, str):
            following = sentence.parts[i + 1] if i + 1 < len(sentence.parts) else None
            if isinstance(following, Tag) and following.kind == "digit":
                part = _BEFORE_TAG.sub("", part)
            parts.append(reword(part, classes))
        elif isinstance(part, Tag):
            parts.append(_tag(part, classes))
        else:
            parts.append(part)
    return Sentence(parts)


def reword_sections(sections: dict[str, list[Sentence]], classes: ClassNames) -> dict[str, list[Sentence]]:
    """Every section's sentences reworded (:func:`reword_sentence`)."""
    return {key: [reword_sentence(s, classes) for s in sentences] for key, sentences in sections.items()}
