"""The extraction options ``bench/extraction.py`` compares: each turns one page's raw HTML into Markdown
(see that bench's doc for what each is and why ``both`` maps trafilatura's XML back onto HTML)."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable
from typing import Any

import trafilatura
from lxml import etree

from rag.extract import extract

TRAFILATURA_OPTIONS: dict[str, Any] = {
    "include_tables": True,
    "include_formatting": True,
    "include_links": False,
    "favor_recall": True,
}


def run_ours(html: str) -> str:
    """What ingestion does today."""
    return extract(html).markdown


def run_trafilatura(html: str) -> str:
    """trafilatura end to end, its Markdown unpatched (None, for nothing found, counts as empty)."""
    return trafilatura.extract(html, output_format="markdown", **TRAFILATURA_OPTIONS) or ""


_HI_TAGS = {"#b": "strong", "#i": "em", "#t": "code", "#u": "u", "#sup": "sup", "#sub": "sub"}
_XML_TAGS = {"list": "ul", "item": "li", "row": "tr", "quote": "blockquote", "lb": "br", "ref": "a"}
_XML_TAGS |= {"graphic": "img", "main": "article", "p": "p", "table": "table", "del": "del", "div": "div"}
_CODE_BLOCK = re.compile(r"<pre\b[^>]*>\s*<code\b([^>]*)>(.*?)</code>", re.S | re.I)
_INVISIBLE = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]+")
_LANGUAGE_CLASS = re.compile(r"""class\s*=\s*["'][^"']*?\b(?:language|lang)-([\w+#.-]+)""", re.I)


def _code_key(text: str) -> str:
    """Code text without whitespace or zero-width characters, which trafilatura strips from code."""
    return _INVISIBLE.sub("", text)


def _code_languages(html: str) -> dict[str, str]:
    """The page's own code blocks, by their whitespace-free text → language class (trafilatura drops it)."""
    languages: dict[str, str] = {}
    for attributes, body in _CODE_BLOCK.findall(html):
        match = _LANGUAGE_CLASS.search(attributes)
        if match:
            text = htmllib.unescape(re.sub(r"<[^>]+>", "", body))
            languages.setdefault(_code_key(text), match.group(1))
    return languages


def _xml_to_html(main: etree._Element, languages: dict[str, str]) -> str:
    """trafilatura's XML element names → the HTML tags ``rag.extract`` converts."""
    blocks = {  # decided before renaming: a code block is multi-line or stands alone between blocks
        code
        for code in main.iter("code")
        if "\n" in "".join(code.itertext()).strip()
        or (code.getparent() is not None and code.getparent().tag in ("main", "quote", "div"))
    }
    for element in list(main.iter()):
        tag, rend = element.tag, element.get("rend") or ""
        if tag == "head":
            element.tag = rend if re.fullmatch(r"h[1-6]", rend) else "h2"
        elif tag == "list":
            element.tag = "ol" if rend == "ol" else "ul"
        elif tag == "hi":
            element.tag = _HI_TAGS.get(rend, "span")
        elif tag == "cell":
            element.tag = "th" if element.get("role") == "head" else "td"
        elif tag == "code":
            text = "".join(element.itertext())
            if element in blocks:
                code = etree.Element("code")
                code.text, element.text = element.text, None
                code.extend(list(element))
                element.append(code)
                element.tag = "pre"
                language = languages.get(_code_key(text))
                if language:
                    code.set("class", f"language-{language}")
        else:
            element.tag = _XML_TAGS.get(tag, "div")
        for name in [n for n in element.attrib if n != "class"]:
            del element.attrib[name]
    return f"<html><body>{etree.tostring(main, method='html', encoding='unicode')}</body></html>"


def run_both(html: str) -> str:
    """trafilatura picks what is content; our converter writes the Markdown the chunker expects."""
    xml = trafilatura.extract(html, output_format="xml", **TRAFILATURA_OPTIONS)
    if not xml:
        return ""
    main = etree.fromstring(xml.encode()).find("main")
    if main is None:
        return ""
    return extract(_xml_to_html(main, _code_languages(html))).markdown


RUNNERS: dict[str, Callable[[str], str]] = {
    "ours": run_ours,
    "trafilatura": run_trafilatura,
    "both": run_both,
}
