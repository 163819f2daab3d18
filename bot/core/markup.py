"""Readable plain text from the Markdown and HTML that real articles are written in.

Chunks are stored as written (the article view shows the source as its author wrote it);
everything a reader sees inside an answer, a quote or a prompt goes through `plain` first, so
posts ingested from the web do not leave `<br/>`, `> [!info]` callouts, footnote markers,
emphasis marks or raw LaTeX in answers. LaTeX is kept readable (`$\\pi$` becomes π), not dropped.
"""

from __future__ import annotations

import html
import re

_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
    "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ", "chi": "χ",
    "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Pi": "Π",
    "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
_SYMBOLS = {
    "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "sim": "∼",
    "times": "×", "cdot": "·", "infty": "∞", "in": "∈", "notin": "∉", "sum": "Σ", "prod": "∏",
    "to": "→", "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒", "mid": "|", "partial": "∂",
    "nabla": "∇", "forall": "∀", "exists": "∃", "neg": "¬", "land": "∧", "lor": "∨", "ldots": "…",
    "dots": "…", "cdots": "⋯", "pm": "±", "propto": "∝", "subset": "⊂", "cup": "∪", "cap": "∩",
    "log": "log", "exp": "exp", "max": "max", "min": "min", "arg": "arg", "sqrt": "√",
}
_LATEX_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(?=\S)([^$\n]+?)(?<=\S)\$(?!\d)|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_WRAPPER = re.compile(
    r"\\(?:mathbb|mathcal|mathrm|mathbf|mathit|text|textbf|textit|operatorname|boldsymbol|hat|bar|tilde|vec)\s*\{([^{}]*)\}"
)
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_BREAK_TAGS = re.compile(r"<\s*(?:br|hr|/p|p|/div|div|/li|li|/h[1-6]|h[1-6]|/tr|tr)\b[^>]*>", re.I)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_HTML_HEADING = re.compile(r"<h([1-6])\b[^>]*>.*?</h\1\s*>", re.S | re.I)
_CALLOUT = re.compile(r"^\s*>\s*\[![A-Za-z-]+\][+-]?[^\n]*\n?", re.M)  # the marker line holds only a title
_QUOTE_MARK = re.compile(r"^\s*>\s?", re.M)
_FOOTNOTE = re.compile(r"\[\^[^\]\s]+\](?!:)")
_FOOTNOTE_DEF = re.compile(r"^\[\^[^\]\s]+\]:\s*", re.M)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]+|\([^)]*\))+(?:\s+\"[^\"]*\")?\)")
# Emphasis opens after a space, a bracket or another mark and closes before one (or punctuation):
# identifiers such as window.__name or snake_case_name and products such as 2*3*4 stay as written.
_EMPHASIS = re.compile(
    r"(?<![^\s(\[*_~\"'])(\*\*\*|\*\*|__|~~)(?=\S)(.+?)(?<=\S)\1(?![^\s.,;:!?)\]*_~\"'])"
    r"|(?<![^\s(\[*_~\"'])([*_])(?=[^\s*_])(.+?)(?<=[^\s*_])\3(?![^\s.,;:!?)\]*_~\"'])"
)
_CODE = re.compile(r"`([^`]+)`")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s[^\n]*\n?", re.M)  # a heading is not a sentence of the text
_RUN_IN_HEADING = re.compile(r"^(\*\*|__)[^*_\n]{1,90}?\1[ \t]+(?=\S)", re.M)  # "**Whose volition?** Should..."
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.M)


def _latex(expression: str) -> str:
    """A formula as readable text: Greek letters and symbols as characters, fractions as a/b."""
    text = _FRAC.sub(r"(\1)/(\2)", expression)
    for _ in range(3):  # nested wrappers such as \mathbb{E}_{\pi}
        text = _WRAPPER.sub(r"\1", text)

    def command(m: re.Match[str]) -> str:
        name = m.group(1)
        return _GREEK.get(name) or _SYMBOLS.get(name) or name

    text = _COMMAND.sub(command, text)
    text = re.sub(r"\\[,;:! ]", " ", text)
    text = re.sub(r"[{}]", "", text)
    return " ".join(text.split())


def _emphasis(text: str) -> str:
    for _ in range(3):  # nested marks such as _**emphasis**_
        stripped = _EMPHASIS.sub(lambda m: m.group(2) if m.group(2) is not None else m.group(4), text)
        if stripped == text:
            break
        text = stripped
    return text


def plain(text: str) -> str:
    """`text` without markup, paragraphs kept as blank-line breaks (sentence splitting needs them)."""
    text = _COMMENT.sub("", text)
    text = _HEADING.sub("\n", text)
    text = _HTML_HEADING.sub("\n\n", text)
    text = _RUN_IN_HEADING.sub("", text)
    text = _LATEX_SPAN.sub(lambda m: _latex(next(g for g in m.groups() if g is not None)), text)
    text = _BREAK_TAGS.sub("\n", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = _CALLOUT.sub("", text)
    text = _QUOTE_MARK.sub("", text)
    text = _FOOTNOTE_DEF.sub("", text)
    text = _FOOTNOTE.sub("", text)
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _CODE.sub(lambda m: m.group(1), text)
    text = _emphasis(text)
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def strip_bullet(sentence: str) -> str:
    """A list item's text without its bullet or number, to read inside prose."""
    return _BULLET.sub("", sentence, count=1)
