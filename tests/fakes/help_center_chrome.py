"""Docsy's site chrome around each rendered page: navbar, sidebar, breadcrumbs, table of contents,
cookie banner, feedback widget and footer.

Real documentation sites put this boilerplate right next to the content, and extraction must leave it
out; ``CHROME_MARKERS`` are strings that occur in the chrome of every page and in no page's source.
"""

from __future__ import annotations

import html
import posixpath
from collections.abc import Iterable
from datetime import date
from urllib.parse import quote

from fakes.help_center_markdown import Heading, Rendered
from fakes.help_center_pages import SECTIONS, Page, key, sort_key

TRAP_PATH = "/drafts/moderation-secrets/"
SITE_NAME = "Mastodon documentation"
SOURCE_REPO = "https://github.com/mastodon/documentation"

CHROME_MARKERS: tuple[str, ...] = (
    "We use cookies to improve your experience on our documentation.",
    "Accept all cookies",  # plain "Accept all" occurs in admin/prerequisites.md (an iptables comment)
    "Manage preferences",
    "Was this page helpful?",
    "Glad to hear it!",
    "Sorry to hear that. Please tell us how we can improve.",
    "Edit this page on GitHub",
    "Create an issue",
    "Last modified",
    "Documentation licensed under the GNU Free Documentation License",
    "© 2016–2026 Mastodon gGmbH",
    "Internal drafts",
)

NAVBAR_SECTIONS = ("user", "admin", "client", "api", "dev")
_LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="30" height="30" viewBox="0 0 24 24" aria-hidden="true">'
    '<path fill="currentColor" d="M21.3 13.9c-.3 1.5-2.7 3.2-5.5 3.5-1.4.2-2.8.3-4.3.3'
    "-2.4-.1-4.3-.6-4.3-.6v.7c.3 2.4 2.4 2.5 4.3 2.6 2 .1 3.7-.5 3.7-.5l.1 1.8s-1.4.7-3.8.9"
    "c-1.3.1-3-.1-5-.6-4.3-1.1-5-5.6-5.1-10.1V7.5"
    'c0-4.4 2.9-5.7 2.9-5.7C5.8 1.1 9.3.8 12 .8h.1c2.6 0 6.1.3 7.6 1 0 0 2.9 1.3 2.9 5.7 0 0 0 3.2-.4 5.4z"/>'
    "</svg>"
)


class Chrome:
    """The chrome of every page of the set: the navbar, sidebar and breadcrumbs link to the others."""

    def __init__(self, pages: Iterable[Page]) -> None:
        self.pages = sorted(pages, key=lambda page: page.url)
        self.by_key = {key(page.url): page for page in self.pages}
        self.landing = {
            section: min((p for p in self.pages if p.source_dir == section), key=sort_key)
            for section in SECTIONS
            if any(p.source_dir == section for p in self.pages)
        }
        self._sidebars: dict[str, str] = {}

    def page_html(self, page: Page, rendered: Rendered) -> str:
        """The full HTML document: Docsy's chrome around the rendered body."""
        title, description = html.escape(page.title), html.escape(page.description or _SITE_DESCRIPTION)
        lead = f'<div class="lead">{html.escape(page.description)}</div>\n' if page.description else ""
        edit_url = f"{SOURCE_REPO}/edit/main/content/en/{quote(page.source)}"
        issue_url = f"{SOURCE_REPO}/issues/new?title={quote('Docs: ' + page.title)}"
        modified = date.fromisoformat(page.lastmod)
        nav_items = "\n".join(
            f'          <li class="nav-item mr-4 mb-2 mb-lg-0"><a class="nav-link{_active(s, page)}" '
            f'href="{self.landing[s].url}"><span>{SECTIONS[s]}</span></a></li>'
            for s in NAVBAR_SECTIONS
            if s in self.landing
        )
        return f"""<!doctype html>
<html itemscope itemtype="http://schema.org/WebPage" lang="en" class="no-js">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, shrink-to-fit=no">
<meta name="generator" content="Hugo 0.128.0">
<link rel="canonical" type="text/html" href="{page.url}">
<link rel="shortcut icon" href="/favicons/favicon.ico">
<title>{title} | {SITE_NAME}</title>
<meta name="description" content="{description}">
<meta property="og:title" content="{title}">
<meta property="og:description" content="{description}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="{SITE_NAME}">
<meta property="article:modified_time" content="{page.lastmod}T00:00:00+00:00">
<link rel="preload" href="/scss/main.min.css" as="style">
<link href="/scss/main.min.css" rel="stylesheet" integrity="">
<script src="/js/jquery-3.7.1.min.js" integrity="" crossorigin="anonymous"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag() {{ dataLayer.push(arguments); }}
  gtag('consent', 'default', {{ analytics_storage: 'denied', ad_storage: 'denied' }});
</script>
</head>
<body class="td-page td-documentation">
<div class="cookie-consent" role="dialog" aria-live="polite" aria-label="Cookie consent" data-nosnippet>
  <div class="cookie-consent__body">
    <p class="cookie-consent__text">We use cookies to improve your experience on our documentation.
      Analytics cookies are only set with your consent; you can change your mind at any time.</p>
    <div class="cookie-consent__actions">
      <button type="button" class="btn btn-primary cookie-consent__accept"
        data-consent="all">Accept all cookies</button>
      <button type="button" class="btn btn-link cookie-consent__manage"
        data-consent="manage">Manage preferences</button>
    </div>
  </div>
</div>
<header>
  <nav class="td-navbar js-navbar-scroll" data-bs-theme="dark">
    <div class="container-fluid flex-column flex-md-row">
      <a class="navbar-brand" href="/"><span class="navbar-brand__logo navbar-logo">{_LOGO}</span><span
        class="navbar-brand__name">{SITE_NAME}</span></a>
      <div class="td-navbar-nav-scroll ms-md-auto" id="main_navbar">
        <ul class="navbar-nav">
{nav_items}
          <li class="nav-item mr-4 mb-2 mb-lg-0"><a class="nav-link" href="https://github.com/mastodon/mastodon"
            target="_blank" rel="noopener"><i class="fa-brands fa-github"></i><span>GitHub</span></a></li>
        </ul>
      </div>
      <div class="d-none d-lg-block">
        <div class="td-search td-search--offline">
          <form class="td-search__form" action="/search/" method="get" role="search">
            <div class="td-search__icon"></div>
            <input type="search" class="td-search__input form-control" name="q"
              placeholder="Search this site…" aria-label="Search this site…" autocomplete="off">
          </form>
        </div>
      </div>
    </div>
  </nav>
</header>
<div class="container-fluid td-outer">
  <div class="td-main-wrapper">
    <div class="row flex-xl-nowrap">
      <div class="col-12 col-md-3 col-xl-2 td-sidebar d-print-none">
{self.sidebar(page)}
      </div>
      <div class="d-none d-xl-block col-xl-2 td-toc d-print-none">
        <div class="td-page-meta ms-2 pb-1 pt-2 mb-0">
          <a href="{edit_url}" class="td-page-meta--edit" target="_blank" rel="noopener"><i
            class="fa-solid fa-pen-to-square fa-fw"></i> Edit this page on GitHub</a>
          <a href="{html.escape(issue_url)}" class="td-page-meta--issue" target="_blank" rel="noopener"><i
            class="fa-solid fa-list-check fa-fw"></i> Create an issue</a>
        </div>
        <div class="td-toc__title">On this page</div>
{_toc_html(rendered.toc)}
      </div>
      <main role="main" class="td-main col-12 col-md-9 col-xl-8 ps-md-5">
{self.breadcrumb(page)}
        <div class="td-content">
<h1>{title}</h1>
{lead}{rendered.body}
          <div class="d-print-none">
            <h2 class="feedback--title">Feedback</h2>
            <div class="feedback--prompt">Was this page helpful?</div>
            <button class="btn btn-primary mb-4 feedback--answer feedback--answer-yes">Yes</button>
            <button class="btn btn-primary mb-4 feedback--answer feedback--answer-no">No</button>
            <p class="feedback--response feedback--response-yes">Glad to hear it!</p>
            <p class="feedback--response feedback--response-no">
              Sorry to hear that. Please tell us how we can improve.</p>
          </div>
          <div class="td-page-meta__lastmod">Last modified {modified:%B} {modified.day}, {modified.year}</div>
        </div>
      </main>
    </div>
  </div>
  <footer class="td-footer row d-print-none">
    <div class="container-fluid">
      <div class="row mx-md-2">
        <div class="td-footer__left col-6 col-sm-4 order-sm-1">
          <ul class="td-footer__links-list">
            <li class="td-footer__links-item" title="Mastodon"><a target="_blank" rel="noopener"
              href="https://mastodon.social/@Mastodon" aria-label="Mastodon"><i
              class="fa-brands fa-mastodon"></i></a></li>
          </ul>
        </div>
        <div class="td-footer__right col-6 col-sm-4 order-sm-3">
          <ul class="td-footer__links-list">
            <li class="td-footer__links-item" title="GitHub"><a target="_blank" rel="noopener"
              href="{SOURCE_REPO}" aria-label="GitHub"><i class="fa-brands fa-github"></i></a></li>
          </ul>
        </div>
        <div class="td-footer__center col-12 col-sm-4 py-2 order-sm-2">
          <span class="td-footer__copyright">© 2016–2026 Mastodon gGmbH</span>
          <span class="td-footer__license">
            Documentation licensed under the GNU Free Documentation License 1.3.</span>
          <ul class="td-footer__links">
            <li><a href="https://joinmastodon.org/privacy-policy">Privacy policy</a></li>
            <li><a href="https://joinmastodon.org/terms-of-service">Terms of service</a></li>
            <li><a href="https://status.joinmastodon.org/">Status</a></li>
            <li><a href="{TRAP_PATH}" class="td-footer__staff">Internal drafts</a></li>
          </ul>
        </div>
      </div>
    </div>
  </footer>
</div>
<script src="/js/main.min.js" integrity="" crossorigin="anonymous"></script>
<script>
  document.querySelectorAll('.feedback--answer').forEach((button) => button.addEventListener('click', () => {{
    const answer = button.classList.contains('feedback--answer-yes') ? 'yes' : 'no';
    document.querySelector('.feedback--response-' + answer).classList.add('feedback--response__visible');
  }}));
</script>
</body>
</html>
"""

    def breadcrumb(self, page: Page) -> str:
        """Docs › section › subsection › page, each level linking to the page that stands for it."""
        crumbs: list[tuple[str, str | None]] = [("Docs", "/")]
        parts = page.url.strip("/").split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if depth == 1:
                landing = self.landing.get(folder)
                crumbs.append((SECTIONS.get(folder, _label(folder)), landing.url if landing else None))
            else:
                index = self.by_key.get(folder.lower())
                crumbs.append(
                    (index.title if index else _label(parts[depth - 1]), index.url if index else None)
                )
        items = [
            f'            <li class="breadcrumb-item"><a href="{href}">{html.escape(label)}</a></li>'
            if href
            else f'            <li class="breadcrumb-item">{html.escape(label)}</li>'
            for label, href in (crumbs if page.url != "/" else [])
        ]
        current = html.escape(page.title)
        items.append(f'            <li class="breadcrumb-item active" aria-current="page">{current}</li>')
        lines = "\n".join(items)
        return (
            '        <nav aria-label="breadcrumb" class="td-breadcrumbs">\n'
            f'          <ol class="breadcrumb">\n{lines}\n          </ol>\n        </nav>'
        )

    def sidebar(self, page: Page) -> str:
        """Every section as a tree root; the current section expanded with all its pages."""
        if page.section not in self._sidebars:
            self._sidebars[page.section] = self._sidebar_html(page.section)
        return self._sidebars[page.section].replace(
            f'href="{page.url}" class="td-sidebar-link td-sidebar-link__page"',
            f'href="{page.url}" class="td-sidebar-link td-sidebar-link__page active" aria-current="page"',
        )

    def _sidebar_html(self, current: str) -> str:
        out = [
            '        <div id="td-sidebar-menu" class="td-sidebar__inner">',
            '          <nav class="td-sidebar-nav collapse" id="td-section-nav">',
            '            <ul class="td-sidebar-nav__section ul-0">',
        ]
        for section, landing in self.landing.items():
            active = " active-path" if section == current else ""
            out.append(f'              <li class="td-sidebar-nav__section-title with-child{active}">')
            out.append(
                f'                <a href="{landing.url}" class="td-sidebar-link td-sidebar-link__section '
                f'tree-root"><span>{SECTIONS[section]}</span></a>'
            )
            if section == current:
                out.extend(self._section_tree(section))
            out.append("              </li>")
        out += ["            </ul>", "          </nav>", "        </div>"]
        return "\n".join(out)

    def _section_tree(self, section: str) -> list[str]:
        def link(p: Page) -> str:
            return (
                f'<li class="td-sidebar-nav__page"><a href="{p.url}" '
                f'class="td-sidebar-link td-sidebar-link__page"><span>{html.escape(p.title)}</span></a></li>'
            )

        members = [p for p in self.pages if p.section == section]
        direct = sorted((p for p in members if p.source_dir == section), key=sort_key)
        out = ['                <ul class="ul-1">', *(f"                  {link(p)}" for p in direct)]
        for folder in sorted({p.source_dir for p in members} - {section}):
            pages = sorted((p for p in members if p.source_dir == folder), key=sort_key)
            index = next((p for p in pages if p.is_index), None)
            label = index.title if index else _label(posixpath.basename(folder))
            href = (index or pages[0]).url
            out.append('                  <li class="td-sidebar-nav__section with-child">')
            out.append(
                f'                    <a href="{href}" class="td-sidebar-link td-sidebar-link__section">'
                f"<span>{html.escape(label)}</span></a>"
            )
            out.append('                    <ul class="ul-2">')
            out.extend(f"                      {link(p)}" for p in pages if not p.is_index)
            out += ["                    </ul>", "                  </li>"]
        out.append("                </ul>")
        return out


def _active(section: str, page: Page) -> str:
    return " active" if page.section == section else ""


def _label(folder: str) -> str:
    return folder.replace("-", " ").replace("_", " ").capitalize()


def _toc_html(toc: list[Heading]) -> str:
    """Hugo's ``.TableOfContents``: h2 entries, each with its h3 entries nested."""
    lines = ['        <nav id="TableOfContents">']
    if toc:
        lines.append("          <ul>")
        open_sub = False
        for i, heading in enumerate(toc):
            link = f'<a href="#{html.escape(heading.anchor)}">{html.escape(heading.text)}</a>'
            if heading.level == 3 and open_sub:
                lines.append(f"                <li>{link}</li>")
                continue
            if open_sub:
                lines.append("              </ul>\n            </li>")
                open_sub = False
            nested = i + 1 < len(toc) and toc[i + 1].level == 3
            if heading.level == 2 and nested:
                lines.append(f"            <li>{link}\n              <ul>")
                open_sub = True
            else:
                lines.append(f"            <li>{link}</li>")
        if open_sub:
            lines.append("              </ul>\n            </li>")
        lines.append("          </ul>")
    lines.append("        </nav>")
    return "\n".join(lines)


_SITE_DESCRIPTION = "Learn about Mastodon, the free, open-source decentralized social network."
