#!/usr/bin/env bash
# Fetches the real documents the ingestion tests read, from Debian's documentation packages,
# into the cache folder $1 (kept between runs): PDF manuals with bookmarks, EPUBs, HTML books,
# a plain-text FAQ, and a Markdown folder that pandoc converts from one of the HTML books; then
# books split across many HTML files by other generators (DocBook, Texinfo, Sphinx), folders
# holding a book in several languages, and an EPUB 2 that pandoc makes from a Texinfo page.
# Prints nothing on success; exits non-zero (and says why) when a document cannot be had.
set -euo pipefail
cache="${1:?usage: corpus.sh CACHE_DIR}"
packages=(maint-guide debian-policy developers-reference debian-faq bash-doc debian-reference-en
  debmake-doc harden-doc m4-doc diffutils-doc python-click-doc gnu-standards)
mkdir -p "$cache/debs" "$cache/docs"
cd "$cache/debs"
missing=()
for package in "${packages[@]}"; do
  ls "${package}"_*.deb >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! apt-get download "${missing[@]}" >/dev/null 2>download.log; then
    # a fresh machine may have no package lists yet
    if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null; fi
    apt-get download "${missing[@]}" >/dev/null 2>download.log || { cat download.log >&2; exit 1; }
  fi
fi
docs="$cache/docs"
[ -f "$docs/.complete-2" ] && exit 0  # bumped whenever the documents below change
rm -rf "$cache/tree" && mkdir -p "$cache/tree"
for deb in ./*.deb; do dpkg -x "$deb" "$cache/tree"; done
tree="$cache/tree/usr/share"
cp "$tree/doc/maint-guide/maint-guide.en.pdf" "$docs/"
cp "$tree/debian-reference/debian-reference.en.pdf" "$docs/"
cp "$tree/doc/debian-policy/policy.epub" "$docs/"
cp "$tree/developers-reference/developers-reference.epub" "$docs/"
cp "$tree/doc/bash-doc/bashref.html" "$docs/"
gzip -dc "$tree/doc/debian/FAQ/debian-faq.en.txt.gz" > "$docs/debian-faq.txt"
rm -rf "$docs/debian-faq-html" && cp -r "$tree/doc/debian/FAQ" "$docs/debian-faq-html"  # links kept as links
if ! command -v pandoc >/dev/null; then
  echo "pandoc is needed to make the Markdown test book (apt-get install pandoc)" >&2
  exit 1
fi
rm -rf "$docs/maint-guide-md" && mkdir -p "$docs/maint-guide-md"
for page in "$tree"/doc/maint-guide/html/*.en.html; do
  name=$(basename "$page" .en.html)
  pandoc -f html -t gfm-raw_html "$page" | sed 's/\.en\.html/.md/g' > "$docs/maint-guide-md/$name.md"
done
copy_html() {  # copy_html FROM TO: the HTML files of a folder, keeping its subfolders
  rm -rf "$2" && mkdir -p "$2"
  (cd "$1" && find . -name '*.html' -print0 | xargs -0 cp --parents -t "$2")
}
cp "$tree/doc/debmake-doc/debmake-doc.en.epub" "$docs/"
copy_html "$tree/doc/debmake-doc/html" "$docs/debmake-html"     # ch01.en.html beside ch01.fr.html
copy_html "$tree/doc/harden-doc/html" "$docs/harden-html"       # en-US/ beside fr-FR/, DocBook chunks
copy_html "$tree/doc/m4" "$docs/m4-html"                        # Texinfo, a page per node
copy_html "$tree/doc/diffutils" "$docs/diffutils-html"          # Texinfo, a page per chapter
copy_html "$tree/doc/python-click-doc/html" "$docs/click-html"  # Sphinx
gzip -dc "$tree/doc/gnu-standards/standards.pdf.gz" > "$docs/standards.pdf"
pandoc -f html -t epub2 -o "$docs/maintain.epub" "$tree/doc/gnu-standards/maintain.html"
touch "$docs/.complete-2"
