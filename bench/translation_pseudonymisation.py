"""Pseudonymising a long transcript with a large key, against a floor measured in the
same run: one regular-expression pass over the words of the same text.

    .venv/bin/python bench/translation_pseudonymisation.py [lines] [terms]

Target: within 15x the floor (one pass over the words, whatever the key's size).
"""

from __future__ import annotations

import random
import sys
import time

from trialdm.translation.pseudonymisation import WORD_RUN, KeyTerm, pseudonymise

TARGET_RATIO = 15.0


def best_of(runs: int, func) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def main(lines: int = 20_000, key_size: int = 500) -> None:
    rng = random.Random(1)
    words = [
        "the",
        "group",
        "helped",
        "me",
        "and",
        "we",
        "talked",
        "about",
        "work",
        "Okello",
        "home",
        "clinic",
        "Grace",
    ]
    text = "\n".join(
        "R: " + " ".join(rng.choice(words) for _ in range(15)) + "." for _ in range(lines)
    )
    terms = [KeyTerm(i, f"Name{i} Surname{i}", f"[P{i}]") for i in range(key_size)]
    terms += [KeyTerm(-1, "Okello", "BU-0001"), KeyTerm(-2, "Grace", "[PSW]")]
    floor = best_of(3, lambda: sum(1 for _ in WORD_RUN.finditer(text)))
    result = None

    def run() -> None:
        nonlocal result
        result = pseudonymise(text, terms)

    elapsed = best_of(3, run)
    ratio = elapsed / floor
    print(
        f"{len(text) / 1e6:.1f} MB, {len(terms)} key terms, {len(result.replacements)} "
        f"replacements: {elapsed:.2f} s; floor {floor:.3f} s; ratio {ratio:.1f} "
        f"(target <= {TARGET_RATIO:.0f}) {'OK' if ratio <= TARGET_RATIO else 'SLOW'}"
    )


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
