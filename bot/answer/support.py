"""Does a passage support a sentence? The verifier behind every citation.

Word overlap alone keeps a copied sentence and a lightly reworded one, but also a sentence with
one name, number or "not" changed, which shares nearly every word with its source; meaning alone
(the embedding model) keeps a paraphrase and misses the same small changes. So the verdict reads
the claim against the passage's sentence windows (one sentence, or two in a row, since a
paraphrase often merges two): the claim must be close in meaning or in rare words to some
window, and it is rejected when it says something its source does not: a number or a name the
source never mentions, a negation or a direction of effect ("more", "weakens") the source lacks,
where swapping it back brings the claim closer to the passage. Each test is calibrated on the
labelled pairs in tests/data/support_pairs.jsonl (`python -m bot.eval.support`; BENCHMARKS.md).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from bot.core.text import STEMMER, WordRarity, content_words, overlap, sentences

# Calibrated on the even-numbered pairs of tests/data/support_pairs.jsonl; the odd ones check them.
CLOSE = 0.55  # cosine similarity to the best window at which a claim reads as restating it
COVERED = 0.5  # or: share (by rarity) of its content words in its closest windows
MIN_COVERED = 0.3  # and never with fewer of its rare words there: a claim must share its substance
FAR = 0.45  # below this similarity a claim is about something else, whatever words it shares
SHIFT = 0.0  # undoing a new negation or direction word must bring the claim at least this much closer
NAME_WINDOWS = 4  # a name must occur in the claim's closest windows, not just somewhere in the source
WINDOWS_CACHE = 20_000
ALIGNED = 2  # the windows closest to a claim, which a flipped claim contradicts
NEGATION_SCOPE = 3  # words after a negation that it governs
DROPPED_SCOPE = 2  # of those, content words a claim must repeat without the negation to deny it
_FUNCTION = frozenset("a an the be is are was were been being to of in on at by for with that this it its as and or".split())

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'’][A-Za-z0-9]+)*")
_NUMBER_WORDS = {w: str(n) for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split()) if w != "one"} | {  # "one" is mostly a pronoun
    "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100",
    "thousand": "1000", "million": "1000000", "billion": "1000000000"}
_NEGATIONS = frozenset("not no never none nothing cannot without neither nor".split())
# Words that give an effect or comparison its direction, with their opposites (read both ways).
_OPPOSITES = """more:less more:fewer higher:lower better:worse larger:smaller bigger:smaller increase:decrease
increases:decreases increased:decreased increasing:decreasing rise:fall rises:falls rose:fell grow:shrink grows:shrinks
grew:shrank growing:shrinking strengthen:weaken strengthens:weakens strengthened:weakened stronger:weaker faster:slower
easier:harder raise:lower raises:lowers raised:lowered improve:worsen improves:worsens improved:worsened upward:downward
most:least safer:riskier earlier:later gained:lost helps:hurts help:hurt boost:reduce boosts:reduces boosted:reduced
reduce:increase reduces:increases reduced:increased reducing:increasing always:never likely:unlikely many:few""".split()
_OPPOSITE: dict[str, set[str]] = {}
for _pair in _OPPOSITES:
    _a, _b = _pair.split(":")
    _OPPOSITE.setdefault(_a, set()).add(_b)
    _OPPOSITE.setdefault(_b, set()).add(_a)


@dataclass(frozen=True)
class Verdict:
    supported: bool
    similarity: float  # cosine to the closest window of the passages
    coverage: float  # share of the claim's content words (weighted by rarity) in the closest windows
    reason: str = ""  # why not: "far", "number", "name", "negation", "direction"


def windows(passages: list[str]) -> list[str]:
    """Each sentence of each passage, and each two neighbouring sentences joined."""
    out: list[str] = []
    for text in passages:
        parts = [s for s in sentences(text) if len(s.split()) >= 3]
        out.extend(parts)
        out.extend(f"{a} {b}" for a, b in zip(parts, parts[1:], strict=False))
    return out


def tokens(text: str) -> list[str]:
    """The words of a text as written, a hyphenated or possessive one whole ("ARC-AGI", "Friston's"):
    a name is judged as one."""
    return _TOKEN.findall(text)


def _words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in tokens(text)]


def _negations(words: list[str]) -> set[str]:
    return {"not" if w.endswith("n't") or w == "cannot" else w for w in words if w in _NEGATIONS or w.endswith("n't")}


def _stem(word: str) -> str:
    return STEMMER.stemWord(re.sub(r"['’]s$", "", word.lower()))


def _names(text: str) -> list[str]:
    """The capitalised words after a sentence's first: names, systems, acronyms (not "I")."""
    return [m.group(0) for i, m in enumerate(_TOKEN.finditer(text))
            if i and m.group(0) != "I" and any(c.isupper() for c in m.group(0))]


def new_name(claim: str, source: str) -> bool:
    """Whether the claim names someone or something the source does not."""
    return bool(unnamed(_names(claim), source))


def unnamed(names: list[str], source: str) -> list[str]:
    """The names the source does not give: each part of a hyphenated name must occur, and an
    acronym may stand for words the source spells out."""
    stems = {_stem(part) for w in _words(source) for part in [w, *re.split(r"[-'’]", w)] if part}
    initials = "".join(w[0] for w in _TOKEN.findall(source)).lower()
    out = []
    for name in names:
        parts = [p for p in re.split(r"[-'’]", re.sub(r"['’]s$", "", name)) if p]
        if any(_stem(part) not in stems and not (part.isupper() and 2 <= len(part) <= 6 and part.lower() in initials)
               for part in parts):
            out.append(name)
    return out


def stated_numbers(text: str) -> set[str]:
    """The numbers a text states, in digits or in words ("five" is 5)."""
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    return found | {_NUMBER_WORDS[w] for w in _words(text) if w in _NUMBER_WORDS}


def _scoped(words: list[str]) -> set[str]:
    """The stems of the words a negation governs: the few after each "not", "never"...."""
    out: set[str] = set()
    for i, word in enumerate(words):
        if _negations([word]):
            out |= {_stem(w) for w in words[i + 1:i + 1 + NEGATION_SCOPE] if w not in _FUNCTION}
    return out


# Comparatives that point down: "less robust than", "more slowly than" compare the other way round.
_LESSER = frozenset("less fewer lower worse smaller weaker slower slowly harder least".split())
COMPARED = 6  # content words on each side of a "than" that say what is compared with what
SWAPPED = 2  # how many more of them must match crosswise than straight for the sides to be swapped


def _comparisons(words: list[str]) -> list[tuple[int, set[str], set[str]]]:
    """Each comparison a sentence makes: its direction (-1 for "less ... than") and the content
    words just before and just after its "than"."""
    stems = [sorted(content_words(w)) for w in words]
    out = []
    for i, word in enumerate(words):
        if word == "than":
            sign = -1 if _LESSER & set(words[max(0, i - 4):i]) else 1
            before = [s for found in stems[:i] for s in found][-COMPARED:]
            after = [s for found in stems[i + 1:] for s in found][:COMPARED]
            out.append((sign, set(before), set(after)))
    return out


def _compares_backwards(claim: list[str], window: list[str]) -> bool | None:
    """Whether the claim makes one of the window's comparisons the other way round: it swaps what
    stands on either side of the "than" ("the policy mattered more than the reward model" against
    "the reward model mattered more than the policy"), or keeps the sides and turns "more" into
    "less"; both at once say the same again. None when they share no comparison. What follows a
    "than" tells the sides apart; what precedes it also holds what the two sentences share ("may
    be easier for a network to latch onto than")."""
    found = None
    for sign, before, after in _comparisons(claim):
        for their_sign, their_before, their_after in _comparisons(window):
            straight = 2 * len(after & their_after)
            crossed = len(after & their_before) + len(their_after & before)
            swapped = crossed >= straight + SWAPPED
            if swapped or straight >= SWAPPED:
                if swapped != (sign != their_sign):
                    return True
                found = False
    return found


def _contradicts(claim: str, aligned: list[str], compared: list[bool | None]) -> str:
    """"negation" or "direction" when the claim flips what the windows it restates say: it negates
    words those windows state plainly ("can be a complete answer" → "cannot be"), repeats what the
    closest one denies without its "not" ("the goals we pursue are not inclusive genetic
    fitness"), makes one of their comparisons the other way round, or uses the opposite of their
    direction word ("faster" → "slower") without the word itself. These are the windows closest
    to the claim: a "not" or a "slower" elsewhere in the passage says nothing about it, yet was
    enough to let such a claim through. `compared` holds `_compares_backwards` for each window."""
    words = _words(claim)
    near = [w for window in aligned for w in _words(window)]
    near_set = set(near)
    if _negations(words) and not _negations(near) and _scoped(words) & {_stem(w) for w in near}:
        return "negation"
    if not _negations(words) and _negations(_words(aligned[0])):
        scoped = _scoped(_words(aligned[0]))
        if len(scoped) >= DROPPED_SCOPE and scoped <= {_stem(w) for w in words}:
            return "negation"  # the claim repeats what the closest window denies, without its "not"
    if True in compared:
        return "direction"
    if False not in compared and any(word not in near_set and _OPPOSITE.get(word, set()) & near_set for word in words):
        return "direction"  # unless it is a comparison turned round whole ("less ... than", sides swapped)
    return ""


class Verifier:
    """Judges claims against passages with the bundled embedding model (any LangChain
    `Embeddings`) and the library's word rarities. Vectors are cached by text, so checking the
    sentences of one answer against the same sources embeds each window once."""

    def __init__(self, embeddings) -> None:
        self.embeddings = embeddings
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def vectors(self, texts: list[str]) -> list[np.ndarray]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, vector in zip(missing, self.embeddings.embed_documents(missing), strict=True):
                self._cache[text] = np.asarray(vector, dtype=np.float32)  # 1.5 KB each, not 9 KB of floats
            while len(self._cache) > WINDOWS_CACHE:
                self._cache.popitem(last=False)
        return [self._cache[t] for t in texts]

    def _similarities(self, texts: list[str], found: list[str]) -> list[list[float]]:
        """Cosine similarity of each text to each of `found` (the vectors are normalised)."""
        vectors = np.stack(self.vectors([*texts, *found]))
        return (vectors[:len(texts)] @ vectors[len(texts):].T).tolist()

    def judge(self, claim: str, passages: list[str], idf: WordRarity | None = None,
              min_covered: float = MIN_COVERED) -> Verdict:
        """Whether `passages` (the cited source's) support `claim`; `idf` weighs rare words. A
        higher `min_covered` asks for more of the claim's rare words in the passage (for a small
        model, which writes fluent sentences that are close in meaning and say little)."""
        found = windows(passages)
        if not found:
            return Verdict(False, 0.0, 0.0, "far")
        source = " ".join(passages)
        (scores,) = self._similarities([claim], found)
        ranked = sorted(range(len(found)), key=scores.__getitem__, reverse=True)
        similarity = scores[ranked[0]]
        coverage = overlap(content_words(claim), content_words(" ".join(found[i] for i in ranked[:3])), idf)
        if similarity < FAR or coverage < min_covered or (similarity < CLOSE and coverage < COVERED):
            return Verdict(False, similarity, coverage, "far")
        if not stated_numbers(claim) <= stated_numbers(source):
            return Verdict(False, similarity, coverage, "number")
        if new_name(claim, " ".join(found[i] for i in ranked[:NAME_WINDOWS])):
            return Verdict(False, similarity, coverage, "name")
        aligned = [found[i] for i in ranked[:ALIGNED]]
        compared = [_compares_backwards(_words(claim), _words(window)) for window in aligned]
        reason = _contradicts(claim, aligned, compared) or \
            self._reversal(claim, aligned[0], source, found, turned_round=compared[0] is False)
        return Verdict(not reason, similarity, coverage, reason)

    def _reversal(self, claim: str, best: str, source: str, found: list[str], turned_round: bool) -> str:
        """"negation" or "direction" when the claim adds a negation or a direction word its source
        lacks, or drops the negation of the window closest to it, and undoing that change brings
        claim and passage closer: the claim then says the opposite of what the source says. A
        comparison `turned_round` whole ("less ... than", sides swapped) keeps its direction word."""
        words, source_words, best_words = _words(claim), set(_words(source)), _words(best)
        claims: list[tuple[str, str]] = []  # (reason, the claim with the change undone)
        if _negations(words) - _negations(list(source_words)):
            claims.append(("negation", " ".join(w for w in words if not _negations([w]))))
        for i, word in enumerate(words):
            opposite = sorted(_OPPOSITE.get(word, set()) & source_words)
            if word not in source_words and opposite and not turned_round:
                claims.append(("direction", " ".join([*words[:i], opposite[0], *words[i + 1:]])))
        dropped = bool(_negations(best_words)) and not _negations(words)
        if not claims and not dropped:
            return ""
        as_written = " ".join(words)
        texts = [as_written, *(c for _, c in claims)]
        rows = self._similarities(texts, [*found, " ".join(w for w in best_words if not _negations([w]))])
        base = max(rows[0][:-1])
        for (reason, _), row in zip(claims, rows[1:], strict=True):
            if max(row[:-1]) > base + SHIFT:
                return reason
        if dropped and rows[0][-1] > rows[0][found.index(best)] + SHIFT:
            return "negation"  # the claim reads as the closest window without its "not"
        return ""
