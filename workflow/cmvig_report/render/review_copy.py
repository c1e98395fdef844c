"""The review copy's parts: the manuscript without its supplement, and the supplement alone.

A journal that takes supplementary material as a file of its own (profile
``supplementary.in_manuscript: false``) gets the rendered manuscript cut in two where the
supplement starts: Supplementary Table S1 and the appendices, which the templates print after
the figures. The HTML is cut at the first element of class ``supplement`` or ``appendix``
inside ``<main>``, the Quarto source at the pipe table of Supplementary Table S1. The
supplement gets an opening of its own (templates/submission/supplementary.md.j2).

The counts a journal wants on the first page (``first_page_counts``) go under the title page
in both formats; figure legends printed without their figures follow one another.
"""

from __future__ import annotations

import html as html_lib
import re

_SUPPLEMENT = re.compile(r'<(?:figure|section)\b[^>]*\bclass="[^"]*\b(?:supplement|appendix)\b')
_BODY = re.compile(r"<body\b[^>]*>")
_RUNNING_HEAD = re.compile(r'<div class="running-head">.*?</div>', re.S)
S1_CAPTION = ": **Supplementary Table S1.**"
# The supplement's first element starts a page in the manuscript; in a file of its own it
# follows the opening.
_SUPPLEMENT_CSS = ("<style>main > .supplementary-head + * { break-before: auto }"
                   ".supplementary-head { margin-bottom: 5mm }</style>")


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def markdown_to_html(markdown: str) -> str:
    """The few Markdown forms of the package's short templates as HTML: ``# heading`` lines
    and paragraphs, text escaped."""
    blocks = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        text = " ".join(block.split())
        if text.startswith("# "):
            blocks.append(f"<h1>{html_lib.escape(_plain(text[2:]))}</h1>")
        elif text:
            blocks.append(f"<p>{html_lib.escape(_plain(text))}</p>")
    return "\n".join(blocks)


def split_html(html: str, opening: str) -> tuple[str, str]:
    """(the manuscript without its supplement, the supplement as a document of its own with
    ``opening`` (Markdown) before it); the supplement is "" when there is none."""
    start = _SUPPLEMENT.search(html)
    end = html.rfind("</main>")
    body = _BODY.search(html)
    if start is None or end < start.start() or body is None:
        return html, ""
    head = _RUNNING_HEAD.search(html)
    supplement = (html[:body.start()].replace("</head>", _SUPPLEMENT_CSS + "</head>", 1)
                  + "<body>" + (head.group() if head else "") + "<main>"
                  + f'<header class="supplementary-head">{markdown_to_html(opening)}</header>'
                  + html[start.start():end] + html[end:])
    return html[:start.start()] + html[end:], supplement


def split_markdown(qmd: str, opening: str) -> tuple[str, str]:
    """As :func:`split_html` for the Quarto source: cut at Supplementary Table S1's table."""
    lines = qmd.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if line.startswith(S1_CAPTION)), None)
    if at is None:
        return qmd, ""
    start = at - 1
    while start >= 0 and not lines[start].strip():
        start -= 1
    while start > 0 and lines[start - 1].startswith("|"):
        start -= 1
    return "".join(lines[:start]), opening.rstrip() + "\n\n" + "".join(lines[start:])


def legends_together(html: str) -> str:
    """``html`` with the figure legends one after another: without their figures (the
    journal takes them as files) they need not start a page each."""
    return html.replace("</head>", "<style>figure.figure + figure.figure "
                        "{ break-before: auto }</style></head>", 1)


def counts_in_html(html: str, counts: str) -> str:
    """``html`` with the paragraph ``counts`` (Markdown) after the title page."""
    at = html.find("</header>")
    if at < 0:
        return html
    at += len("</header>")
    line = html_lib.escape(_plain(" ".join(counts.split())))
    return f'{html[:at]}\n<p class="counts">{line}</p>{html[at:]}'


def counts_in_markdown(qmd: str, counts: str) -> str:
    """The Quarto source with the paragraph ``counts`` after its front matter."""
    if qmd.startswith("---\n"):
        end = qmd.find("\n---\n", 4)
        if end > 0:
            end += len("\n---\n")
            return f"{qmd[:end]}\n{' '.join(counts.split())}\n{qmd[end:]}"
    return f"{' '.join(counts.split())}\n\n{qmd}"
