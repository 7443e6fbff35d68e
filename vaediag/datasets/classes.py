"""The classes of each dataset and how the tables, the report and the claims name them.

A dataset's classes are numbered 0-9 in every table (``per_class.csv`` column ``class``); their names are
what a person reads: the digits "0"-"9" for MNIST, "T-shirt/top", "Trouser", ... for Fashion-MNIST
(torchvision's names, in label order).

    names = class_names("fashion-mnist")
    names.label(6)            # 'Shirt'            (MNIST: 'digit 6')
    names.labels([0, 6])      # 'T-shirt/top and Shirt'   (MNIST: 'digits 0 and 6')
    names.pair(0, 6)          # 'T-shirt/top & Shirt'     (MNIST: '0-6')
    names.index("shirt")      # 6   (a name, case-insensitive, or an index 0-9)

Torch-free: the CLI and the claims parser import it at start-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class ClassNames:
    """The names of one dataset's classes, and the words the report uses for them."""

    dataset: str
    title: str  # "MNIST", "Fashion-MNIST"
    names: tuple[str, ...]  # by label
    noun: str  # "digit" (MNIST) or "class": what one class is called in sentences
    item: str  # "digit" / "image": what one example is called in sentences
    short: tuple[str, ...] = ()  # names short enough for a heat map's ticks (default: the names)

    @property
    def tick_labels(self) -> tuple[str, ...]:
        """The names for tight figure axes (at most about 8 characters each)."""
        return self.short or self.names

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def plural(self) -> str:
        return self.noun + "s"

    @property
    def numeric(self) -> bool:
        """True when the names are the labels themselves (digits): sentences then say 'digit 3'."""
        return all(name == str(i) for i, name in enumerate(self.names))

    def name(self, index: int) -> str:
        """The class's name: '3' / 'Shirt'."""
        return self.names[int(index)]

    def label(self, index: int) -> str:
        """The class in a sentence: 'digit 3' / 'Shirt'."""
        return f"{self.noun} {self.name(index)}" if self.numeric else self.name(index)

    def labels(self, indices: Iterable[int]) -> str:
        """Several classes in a sentence: 'digits 3, 5 and 8' / 'Shirt, Pullover and Coat'; '' when none."""
        names = [self.name(i) for i in indices]
        if not names:
            return ""
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        if not self.numeric:
            return listed
        return f"{self.noun if len(names) == 1 else self.plural} {listed}"

    def pair(self, a: int, b: int) -> str:
        """A pair as the tables write it: '4-9' (MNIST), 'Pullover & Shirt' (names that hold '-' or '/')."""
        return f"{self.name(a)}-{self.name(b)}" if self.numeric else f"{self.name(a)} & {self.name(b)}"

    def index(self, value: int | str) -> int:
        """The label of a class given by index (0-9, or its string) or by name (case-insensitive; the short
        names of the figures, "Boot", count too); :class:`ValueError` naming the valid names when there is none."""
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a {self.noun} of {self.title}")
        if isinstance(value, int):
            if 0 <= value < self.n:
                return value
            raise ValueError(f"{self.noun} {value} does not exist in {self.title} (0-{self.n - 1})")
        if isinstance(value, str):
            text = value.strip()
            for names in (self.names, self.short):  # the full names, or the short ones the figures show
                folded = [name.casefold() for name in names]
                if text.casefold() in folded:
                    return folded.index(text.casefold())
            if text.isdigit() and int(text) < self.n:
                return int(text)
        raise ValueError(f"{value!r} is not a {self.noun} of {self.title} "
                         f"(one of {', '.join(repr(n) for n in self.names)} or 0-{self.n - 1})")


MNIST_CLASSES = ClassNames("mnist", "MNIST", tuple(str(i) for i in range(10)), "digit", "digit")
FASHION_MNIST_CLASSES = ClassNames(
    "fashion-mnist", "Fashion-MNIST",
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "class", "image",
    ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"))

# ---------------------------------------------------------------------------------------------- wording
_ITEMS = re.compile(r"\b(test|real|training|generated|unseen|seen|handwritten|its training|the run's) digit(s?)\b")
_NUMBERED = re.compile(r"\b[Dd]igit (\d)\b")
_WORDS = [(re.compile(r"\bdigits\b"), "classes"), (re.compile(r"\bDigits\b"), "Classes"),
          (re.compile(r"\bdigit\b"), "class"), (re.compile(r"\bDigit\b"), "Class")]


def reword(text: str, classes: ClassNames) -> str:
    """``text`` (written about MNIST's digits) in the words of ``classes``; unchanged for MNIST: "test digits"
    -> "test images", "digit 6" -> "Shirt", any other "digit(s)" -> "class(es)"."""
    if classes.numeric or not text:
        return text
    text = _ITEMS.sub(lambda m: f"{m.group(1)} {classes.item}{m.group(2)}", text)
    text = _NUMBERED.sub(lambda m: classes.name(int(m.group(1))), text)
    for pattern, word in _WORDS:
        text = pattern.sub(word, text)
    return text
