#!/bin/sh
# check_svg_render.sh MLP_NAMES - mlp_names' SVG plots are well-formed and
# render to something that is not blank.
#
# Trains briefly on a small built-in word list with --plot-loss and
# --plot-emb (10-dim embedding: PCA; and 2-dim: the raw coordinates), then for
# each SVG: `xmllint --noout` (well-formed XML), and headless Chromium renders
# it to a PNG whose non-white pixels tools/png_ink.py counts; a blank SVG
# rendered the same way must count 0 and each plot at least 2% of the page.
# Exits 77 (CTest's skip) with a message when chromium is not installed.
set -eu
mlp=$1
here=$(cd "$(dirname "$0")" && pwd)
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "SKIP: chromium is not installed (Debian: apt-get install chromium); SVG render check not run"
  exit 77
fi
if ! command -v python3 >/dev/null; then
  echo "SKIP: python3 (standard library, for tools/png_ink.py) is not installed; SVG render check not run"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
while [ $i -lt 20 ]; do
  printf 'emma\nolivia\nava\nisabella\nsophia\ncharlotte\nmia\namelia\nharper\nevelyn\n'
  i=$((i + 1))
done > "$tmp/words.txt"
"$mlp" --data "$tmp/words.txt" --steps 3000 --eval-every 500 --samples 0 --quiet \
  --plot-loss "$tmp/loss.svg" --plot-emb "$tmp/emb10.svg" >/dev/null
"$mlp" --data "$tmp/words.txt" --steps 500 --emb 2 --samples 0 --quiet --plot-emb "$tmp/emb2.svg" >/dev/null
printf '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="500"/>\n' > "$tmp/blank.svg"

render() { # svg png
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$tmp/profile" --window-size=800,500 --screenshot="$2" "file://$1" >/dev/null 2>&1
  [ -s "$2" ] || { echo "FAIL: $browser wrote no screenshot for $1"; exit 1; }
}

status=0
for name in blank loss emb10 emb2; do
  svg=$tmp/$name.svg
  if command -v xmllint >/dev/null; then
    xmllint --noout "$svg" || { echo "FAIL: $name.svg is not well-formed XML"; status=1; }
  else
    echo "SKIP: xmllint not installed (Debian: libxml2-utils); $name.svg not checked for well-formedness"
  fi
  render "$svg" "$tmp/$name.png"
  set -- $(python3 "$here/png_ink.py" "$tmp/$name.png")
  w=$2 h=$3 ink=$4
  min=$(( w * h / 50 ))
  if [ "$name" = blank ]; then
    [ "$ink" -eq 0 ] || { echo "FAIL: a blank SVG renders with $ink inked pixels"; status=1; }
  elif [ "$ink" -lt "$min" ]; then
    echo "FAIL: $name.svg renders nearly blank: $ink of $((w * h)) pixels inked (want >= $min)"; status=1
  fi
  echo "$name.svg: $(wc -c < "$svg") bytes, well-formed; rendered ${w}x${h}, $ink pixels inked ($((ink * 100 / (w * h)))%)"
done
exit $status
