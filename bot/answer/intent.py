"""What a message asks for, before anything is retrieved: a question about the field, or a
greeting, thanks, or a task the bot does not do (a poem, a translation, code).

Those get a short reply instead of an "answer" stitched from whatever article shares a word
with them ("write me a poem about reward hacking" is not answered by quoting the article).
And for a plain "What is X?", whether the passages name X at all: articles that merely share a word
with the question do not answer it ("the AI arms race" is not in a passage about robotic arms);
likewise a question naming a term the library never uses that is no common word either ("Roko's
basilisk", "grokking", "Elasticsearch"), or a name it never uses ("Karl Friston"); and for a
question asking for a figure ("How many rats did Olds and Milner test?"), whether some passage
states one about what it asks. An acronym the library uses in few passages ("TAI") marks a
question as one about the field, however its short wording embeds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Container

from bot.answer.support import new_name, stated_numbers, tokens, unnamed
from bot.core.events import Reason
from bot.core.index import SUMMARY_HEADING
from bot.core.markup import plain
from bot.core.text import STEMMER, WordRarity, content_words, overlap, sentences
from bot.core.types import Source

_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening|day)|yo)"
    r"(?:\s+(?:there|all|everyone|alignchat|bot))?[\s!.,:)]*$",
    re.I,
)
_THANKS = re.compile(
    r"^\s*(?:ok(?:ay)?[,.!]?\s+)?(?:great|perfect|nice|cool|awesome)?[,.!]?\s*(?:thanks?|thank you|thx|ty|cheers|much appreciated)"
    r"\b[^?]{0,60}$",
    re.I,
)
_TASK = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:write|compose|generate|make|create|give)\s+(?:me\s+|us\s+)?"
    r"(?:a|an|some|the)?\s*(?:short\s+|funny\s+|little\s+)?"
    r"(?:poem|song|story|haiku|limerick|sonnet|joke|rap|tweet|email|letter|essay|code|program|script|recipe)s?\b"
    r"|^\s*(?:please\s+|can you\s+|could you\s+)?(?:translate|draw|paint|sing)\b"
    r"|^\s*(?:please\s+|can you\s+|could you\s+)?tell me a (?:joke|story)\b",
    re.I,
)
_DEFINITION_QUESTION = re.compile(
    r"^\s*(?:what|who)(?:\s+exactly)?\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+)?(?P<a>.+?)[?.!\s]*$"
    r"|^\s*(?:define|explain|describe)\s+(?P<b>.+?)[?.!\s]*$|^\s*what does (?P<c>.+?) mean[?.!\s]*$",
    re.I,
)
_TERM_END = re.compile(
    r"[,;:(]|\s(?:and|or|but|supposed|meant|in\s+(?:simple|plain|short|practice|general)|exactly|really|anyway|"
    r"about|mean|means|actually|used|for|in\s+(?:ai|alignment|rl|machine learning))\b",
    re.I,
)
# "What is X?", or "What is X, where ...?": the clause after the comma says which X is meant.
_NAMED = re.compile(r"^\s*what(?:\s+is|\s+are|'s|’s)\s+(?:an?\s+|the\s+)?(?P<x>[^?,]+?)\s*(?:,[^?]*)?\?*\s*$", re.I)
_CLAUSE = re.compile(r"\b(?:and|or|but|when|that|which|who|whom|whose|if|for|to|of|in|on|with|about|between|from|by|"
                     r"as|than|so|like|exactly|really|supposed|meant|called|used)\b|[,;:(]", re.I)
MAX_NAME_WORDS = 4
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
MIN_TERM_LETTERS = 4


def not_a_question(message: str) -> Reason | None:
    """The reason to reply briefly instead of answering (None: a question to answer)."""
    if _GREETING.match(message):
        return Reason.GREETING
    if _THANKS.match(message):
        return Reason.THANKS
    if _TASK.match(message):
        return Reason.NOT_A_TASK_WE_DO
    return None


def defined_term(question: str) -> set[str]:
    """The content words of what a "What is X?" question asks to have defined (else empty):
    "What exactly is a 'shard' supposed to be?" asks about {shard}."""
    m = _DEFINITION_QUESTION.match(question)
    if not m:
        return set()
    phrase = re.sub(r"[\"'‘’“”]", " ", next(g for g in m.groups() if g))
    return content_words(_TERM_END.split(phrase, maxsplit=1)[0])


def named_term(question: str) -> set[str]:
    """The content words of X in a plain "What is X?" whose X is a short name ("the AI arms race",
    "Pascal's mugging"), or one a comma-clause describes ("model collapse, where models ..."):
    the question asks about that thing, so passages that do not name it cannot answer it. Empty
    for anything longer or with a clause inside the name."""
    m = _NAMED.match(question)
    if not m or _CLAUSE.search(m.group("x")) or len(m.group("x").split()) > MAX_NAME_WORDS:
        return set()
    return content_words(re.sub(r"[\"'‘’“”]", " ", m.group("x")))


def mentions(sources: list[Source], term: set[str]) -> bool:
    """Whether some passage (with its title and headings) names every word of the term."""
    return any(term <= content_words(" ".join((p.title, *p.headings, p.text))) for s in sources for p in s.passages)


def unknown_terms(question: str, library: Container[str], common: Collection[str]) -> list[str]:
    """The question's words (each part of a hyphenated one) that the library never uses (by stem)
    and that are not common English words: what the question is about, if anything, is not in
    the library. Contractions and short words are never such terms, and without a list of
    common words (an embedding model with no WordPiece vocabulary) no word is reported."""
    if not common:
        return []
    out = []
    for word in _WORD.findall(question):
        word = re.sub(r"['’]s$", "", word.lower()).strip("'’-")
        if "'" in word or "’" in word:
            continue  # "isn't", "they're"
        if "-" in word and STEMMER.stemWord(word) in library:
            continue  # the library writes it whole ("Ctrl-Z")
        for part in word.split("-"):
            if len(part) >= MIN_TERM_LETTERS and part not in common and STEMMER.stemWord(part) not in library:
                out.append(part)
    return out


_ACRONYM = re.compile(r"\b([A-Z]{2,6})s?\b")
RARE_SHARE = 0.1  # a term in at most this share of the library's passages names something particular


def known_acronyms(question: str, library: WordRarity) -> list[str]:
    """The acronyms the question gives that the library uses, and in few passages ("TAI", "ELK";
    not "AI"): a question about one is about the field, however far its short wording embeds
    from every passage ("What does TAI stand for?")."""
    rare = math.log(1 + 1 / RARE_SHARE)
    found = (STEMMER.stemWord(m.lower()) for m in _ACRONYM.findall(question))
    return [w for w in found if w in library and library.get(w) >= rare]


MIN_NAME_LETTERS = 4


def unknown_names(question: str, library: Container[str]) -> list[str]:
    """The names the question gives (capitalised words other than a sentence's first) that the
    library never uses, by stem: "Karl Friston's free energy principle" is not in a library that
    never names Friston, whatever else of the question it shares. A question written in title case
    capitalises everything, so it names nothing this way; numbered names ("GPT-5") are left to
    the figure rules."""
    words = [re.sub(r"['’]s$", "", token) for part in re.split(r"(?<=[.?!:])\s+", question.strip())
             for token in tokens(part)[1:]]
    capitalised = [w for w in words if w[0].isupper()]
    if len(capitalised) * 2 > len(words):
        return []
    out = []
    for name in capitalised:
        if len(name) < MIN_NAME_LETTERS or any(c.isdigit() or c in "'’" for c in name):
            continue
        if STEMMER.stemWord(name.lower()) not in library and \
                any(STEMMER.stemWord(piece) not in library for piece in name.lower().split("-")):
            out.append(name)
    return out


_ASKS_FIGURE = re.compile(r"\bhow\s+(?:many|much|big)\b|\bwhat\s+(?:percentage|percent|share|fraction|proportion|salary)\b"
                          r"|\b(?:in\s+)?(?:what|which)\s+year\b|\bon\s+what\s+date\b|\bwhat\s+value\s+of\b"
                          # a result: "What did X score on Y?", "How did X do on Y?"
                          r"|\bwhat\s+(?:score|rating|accuracy)\b|\bwhat\s+did\s+[^?]{1,60}?\s+score\b"
                          r"|\bhow\s+(?:well\s+)?(?:did|does|do)\s+[^?]{1,60}?\s+(?:do|perform|score|fare)\s+(?:on|in|at|against)\b"
                          r"|\bwhat\s+(?:is|was|are|were)\s+the\s+(?:exact\s+|current\s+|total\s+)?"
                          r"(?:parameter\s+count|phone\s+number|salary|stipend|price|cost|budget|size)\b", re.I)
_HOW_MANY = re.compile(r"\bhow\s+many\s+(?P<noun>[^?,]+?)\s+(?:did|does|do|was|were|is|are|has|have|had|will|would|"
                       r"can|could|should)\b", re.I)
_ASKS_TITLE = re.compile(r"\bwhat\s+(?:was|is|were|are)\s+the\s+(?:exact\s+|full\s+)?(?:title|wording|name)s?\s+of\b"
                         r"|\bwhat\s+did\s+[^?]{1,60}?\s+(?:call|title|name)\b", re.I)
_QUOTATION = re.compile(r"[\"“]([^\"“”]{3,200})[\"”]")
# What a "How big is the X?" or "What is the salary of ...?" measures, which the stating sentence must name.
_MEASURED = re.compile(r"\bhow\s+(?:big|much|large)\s+(?:is|was|are|were)\s+(?:the\s+|a\s+|an\s+)?(?P<noun>[A-Za-z]+)"
                       r"|\bwhat\s+(?:is|was|are|were)\s+the\s+(?:exact\s+|current\s+|total\s+)?"
                       r"(?P<noun2>parameter|salary|stipend|price|cost|budget)\b", re.I)
# "What share of ...?" asks for a proportion, "On what date ...?" for a day: a bare count or year
# is some other figure.
_ASKS_PROPORTION = re.compile(r"\bwhat\s+(?:percentage|percent|share|fraction|proportion)\b", re.I)
_PROPORTION = re.compile(r"\d\s*%|\bper\s*cent\b|\bpercent(?:age)?\b|\b(?:half|halves|thirds?|quarters?|fifths?|tenths?)\b"
                         r"|\b(?:one|\d+)\s+in\s+(?:every\s+)?\w+\b|\bout\s+of\s+\S+|\b\d+\s+of\s+(?:the\s+|its\s+|their\s+)?\d+",
                         re.I)
_ASKS_DATE = re.compile(r"\bon\s+what\s+(?:date|day)\b", re.I)
_DATE = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b"
                   r"|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b|\b\d{4}-\d{2}-\d{2}\b", re.I)
# A number that is part of a name ("GPT-4", "Llama-2") is no figure about anything.
_NAME_NUMBER = re.compile(r"\b[A-Za-z]+-\d+(?:\.\d+)*[A-Za-z]*\b")
_QUESTION_WORDS = content_words("how many much big what which percentage percent share fraction proportion year date "
                                "exact current total score rating accuracy perform fare well")
_TITLE_WORDS = _QUESTION_WORDS | content_words("title titled wording name named call called exact full")
_FIGURE_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z]+(?:-[A-Za-z]+)*")
FIGURE_NEAR = 4  # words between a figure and the noun a "How many ...?" counts
FIGURE_COVERED = 0.5  # share of the question's rare words around the sentence that states the figure


def asks_for_a_figure(question: str) -> bool:
    """"How many ...?", "How much ...?", "How big ...?", "What percentage ...?", "In what year ...?",
    "On what date ...?", "What is the parameter count (salary, phone number, cost...) of ...?", and a
    result: "What did GPT-4 score on TruthfulQA?", "How did o3 do on ARC-AGI?"."""
    return bool(_ASKS_FIGURE.search(question))


def figures(text: str) -> set[str]:
    """The numbers a text states as figures: not those inside a name ("GPT-4 solves programming
    problems" says nothing about how many)."""
    return stated_numbers(_NAME_NUMBER.sub(" ", text))


def _counts_noun(sentence: str, noun: str, asked: set[str]) -> bool:
    """Whether a figure the question does not give stands just before the counted noun ("817 questions")."""
    pieces = _FIGURE_TOKEN.findall(_NAME_NUMBER.sub(" ", sentence))
    for i, token in enumerate(pieces):
        if content_words(token) == {noun}:
            before = pieces[max(0, i - FIGURE_NEAR):i]
            if any(stated_numbers(t) - asked for t in before):
                return True
    return False


def sentence_stating_figure(question: str, sources: list[Source], idf: WordRarity | None) -> str | None:
    """The passage sentence that states what a figure question asks for, if any: a number (a year,
    for "what year"; a percentage or fraction for "what share"; a day for "on what date") that the
    question does not give, in a sentence whose neighbourhood holds most of the question's rare
    words, and for "How many X" just before X. A library that mentions the study a question names,
    but not the figure asked for, does not answer it."""
    asked = stated_numbers(question)
    how_many = _HOW_MANY.search(question)
    noun = sorted(content_words(how_many.group("noun").split()[-1]))[:1] if how_many else []
    year = re.search(r"\byear\b", question, re.I) is not None and not how_many

    measure = _MEASURED.search(question)
    measured = content_words(measure.group("noun") or measure.group("noun2")) if measure else set()

    proportion = _ASKS_PROPORTION.search(question) is not None
    date = _ASKS_DATE.search(question) is not None

    def states(sentence: str) -> bool:
        new = figures(sentence) - asked
        if (proportion and not _PROPORTION.search(sentence)) or (date and not _DATE.search(sentence)):
            return False
        if year:
            new = {n for n in new if re.fullmatch(r"1[0-9]{3}|20[0-9]{2}", n)}
        if measured and not measured <= content_words(sentence):
            return False  # "How big is the stipend?": a figure in a sentence without a stipend is another figure
        return bool(new) and not (noun and not _counts_noun(sentence, noun[0], asked))
    return _stated_near(question, sources, idf, states, neighbours=1, asking=_QUESTION_WORDS)


def asks_for_a_title(question: str) -> bool:
    """"What was the title of ...?", "What did Murphy call his program?", "the exact wording of ..."."""
    return bool(_ASKS_TITLE.search(question))


def sentence_stating_title(question: str, sources: list[Source], idf: WordRarity | None) -> str | None:
    """The passage sentence quoting a title or wording the question does not give, if any: one
    that itself holds most of the question's rare words: the library writes titles in quotation
    marks, in the sentence that names the work. A sentence naming Goodhart's 1975 paper without its
    title does not answer "What was the title of Goodhart's 1975 paper?", nor does the quotation
    in the sentence after it."""
    given = {q.lower() for q in _QUOTATION.findall(question)}
    return _stated_near(question, sources, idf, neighbours=0, asking=_TITLE_WORDS, states=lambda sentence: any(
        len(q.split()) >= 2 and q.lower() not in given for q in _QUOTATION.findall(sentence)))


# "Who ...?" asks for someone, unless it asks about someone named ("Who is Nick Bostrom?"); so does
# "Which <kind of thing with a name> ...?" ("Which studio ...?", "Besides Tetris, what other NES games
# ...?"). Not a second question after "and": "What does TAI stand for, and who ...?" is answered
# for what the library says.
_ASKS_WHO = re.compile(r"(?:^|[,;]\s*)who\b(?!['’]s\b)"
                       r"(?!\s+(?:is|was|are|were)\s+(?!the\b|an?\b|some\b|those\b))", re.I)
_NAMED_KINDS = ("company companies lab labs organisation organisations organization organizations group groups team teams "
                "studio studios university universities college colleges city cities country countries journal journals "
                "conference conferences convention conventions game games model models paper papers book books language "
                "languages person people researcher researchers author authors story stories firm firms institute "
                "institutes agency agencies website websites platform platforms benchmark benchmarks chatbot chatbots")
_NOT_A_KIND = r"(?!of\b|is\b|are\b|was\b|were\b|has\b|have\b|had\b|do\b|does\b|did\b|can\b|could\b|will\b|would\b)"
_ASKS_WHICH = re.compile(r"(?:^|[,;]\s*)(?:which|what)\s+" + _NOT_A_KIND +
                         r"(?:other\s+)?(?:(?!of\b)[\w'’-]+\s+){0,2}?(?:" + "|".join(_NAMED_KINDS.split()) + r")\b", re.I)
# "Bostrom or Yudkowsky?", "Which of these books ...?": the answer is one the question gives.
_ALTERNATIVES = re.compile(r"\b[A-Z][\w'’-]*\s+or\s+[A-Z]|\b(?i:which)\s+of\b")
_MONTHS = frozenset("january february march april may june july august september october november december".split())
NAME_COVERED = 0.1  # share of the question's rare words in the sentence (and title) that gives a name


def asks_for_a_name(question: str) -> bool:
    """"Who made CoinRun?", "Which university ...?", "Besides X, what other games ...?": the
    answer is a name; not "Who is Nick Bostrom?", nor a choice between names the question gives."""
    if _ALTERNATIVES.search(question):
        return False
    return bool(_ASKS_WHO.search(question) or _ASKS_WHICH.search(question))


def _names_given(sentence: str, library: WordRarity | None, common: Collection[str]) -> list[str]:
    """The names a sentence gives: its capitalised words (its first only when that is no common
    word: "The", "In"), not months, and none the library uses in many passages ("AI")."""
    rare = math.log(1 + 1 / RARE_SHARE)
    out = []
    for i, token in enumerate(tokens(sentence)):
        word = re.sub(r"['’]s$", "", token.lower())
        if len(token) < 2 or not any(c.isupper() for c in token) or word in _MONTHS or (i == 0 and word in common):
            continue
        stem = STEMMER.stemWord(word)
        if library is not None and stem in library and library.get(stem) < rare:
            continue
        out.append(token)
    return out


def _stems(words: str) -> frozenset[str]:
    return frozenset(STEMMER.stemWord(w) for w in words.split())


# The role a "Who founded ...?" asks about (the words that ask it), and the words with which a
# sentence gives someone that role: a sentence naming the CoinRun researchers does not say who
# made the game, nor one naming Christiano's university who supervised his PhD, nor one saying
# who published a post "called" something who made what it is about.
_ROLES = [(_stems(asking), _stems(asking + " " + giving)) for asking, giving in [
    ("found founded cofounded co-founded start started create created make made build built develop developed "
     "invent invented design designed launch launched came",
     "founder founders creator creators inventor designer developer developers establish established set origin originally"),
    ("coin coined introduce introduced propose proposed name named came", "term called origin originally"),
    ("wrote write written author authored co-authored coauthored",
     "essay essays post posts paper papers book books article articles series blog letter thesis report published"),
    ("lead leads led run runs ran head heads headed chair chairs chaired direct directs directed",
     "chief ceo president director executive founder leader leaders"),
    ("supervise supervised supervisor advise advised advisor", "mentor mentored student students"),
]]


def _role_words(question: str) -> frozenset[str]:
    """The words one of which a sentence must use to give the role the question asks about (none
    asked: any)."""
    asked = {STEMMER.stemWord(w.lower()) for w in tokens(question)}
    return frozenset().union(*(giving for asking, giving in _ROLES if asking & asked))


def sentence_stating_name(question: str, sources: list[Source], idf: WordRarity | None,
                          common: Collection[str]) -> str | None:
    """The passage sentence that names someone or something the question does not, with every name
    the question gives and some of its rare words (in the sentence and its article's title), if
    any: the best covered. A library that tells of CoinRun but never says who made it, or of
    Christiano's PhD but never who supervised it in a sentence naming anyone, does not answer
    "Who ...?"."""
    role = _role_words(question)

    def names_someone(sentence: str) -> bool:
        if role and not role & {STEMMER.stemWord(w.lower()) for w in tokens(sentence)}:
            return False
        return bool(unnamed(_names_given(sentence, idf, common), question))
    return _stated_near(question, sources, idf, neighbours=0, asking=_QUESTION_WORDS | content_words("who which"),
                        covered=NAME_COVERED, states=names_someone)


# "See "Specification gaming" for ...": a pointer to other articles states nothing itself.
_POINTER = re.compile(r"\s*(?:see|for more(?: on)?|related:)\s", re.I)


def _stated_near(question: str, sources: list[Source], idf: WordRarity | None, states: Callable[[str], bool],
                 neighbours: int, asking: set[str], covered: float = FIGURE_COVERED) -> str | None:
    """The passage sentence that `states` what the question asks with a `covered` share (by
    rarity) of the question's words (other than the `asking` ones: "how many", "title") and every
    name it gives in it and its `neighbours` sentences on either side (and its article's title);
    of those, the best covered,
    and on a tie the one holding most of those words itself ("He earned his PhD ... as of 2025"
    shares its neighbours with the sentence giving the year of his essay). None when no sentence
    qualifies: a figure about MIRI's funder in general does not say what it gave MIRI."""
    focus = content_words(question) - asking
    best, best_key = None, (covered, -1.0)
    for source in sources:
        for passage in source.passages:
            if passage.headings == (SUMMARY_HEADING,):
                continue  # about the article, and never quoted in an answer
            parts = sentences(plain(passage.text))
            for i, sentence in enumerate(parts):
                if _POINTER.match(sentence) or not states(sentence):
                    continue
                around = " ".join((passage.title, *parts[max(0, i - neighbours):i + neighbours + 1]))
                key = (overlap(focus, content_words(around), idf), overlap(focus, content_words(sentence), idf))
                if key[0] >= covered and key > best_key and not new_name(question, around):
                    best, best_key = sentence, key
    return best
