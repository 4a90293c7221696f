#!/usr/bin/env bash
# Fetches the real documents the ingestion tests read, from Debian's documentation packages,
# into the cache folder $1 (kept between runs): PDF manuals with bookmarks, EPUBs, HTML books,
# a plain-text FAQ, and a Markdown folder that pandoc converts from one of the HTML books.
# Prints nothing on success; exits non-zero (and says why) when a document cannot be had.
set -euo pipefail
cache="${1:?usage: corpus.sh CACHE_DIR}"
packages=(maint-guide debian-policy developers-reference debian-faq bash-doc debian-reference-en)
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
[ -f "$docs/.complete" ] && exit 0
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
touch "$docs/.complete"
