#!/usr/bin/env bash
# Vendor onnxruntime-web's WebAssembly CPU runtime into static/ort/, where Streamlit's static serving
# (server.enableStaticServing) hands it to the Playground's browser inference. Community Cloud has no npm, so the
# files are committed; this script is how they are made and updated (static/ort/README.md says what they are).
#
#   bash scripts/vendor_ort_web.sh 1.30.0                  # npm pack onnxruntime-web@1.30.0 (needs npm + network)
#   bash scripts/vendor_ort_web.sh 1.30.0 path/to/onnxruntime-web-1.30.0.tgz   # from a tarball npm pack made
#   bash scripts/vendor_ort_web.sh --check                 # only check static/ort/ against its SHA256SUMS
#
# It takes only what the wasm CPU backend needs: dist/ort.wasm.bundle.min.mjs (the JavaScript API with the
# Emscripten glue bundled in, so nothing else is fetched) and dist/ort-wasm-simd-threaded.wasm, stored gzipped
# (gzip -9 -n: the same bytes every time) and inflated in the page with DecompressionStream. The package's licence
# (MIT) goes beside them; the npm package of 1.30.0 ships no LICENSE file, so the one already in static/ort/ (the
# onnxruntime repository's MIT licence) is kept unless the package brings its own. Then VERSION and SHA256SUMS are
# written and checked, and the sizes printed for static/ort/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=static/ort
FILES=(ort.wasm.bundle.min.mjs ort-wasm-simd-threaded.wasm.gz LICENSE VERSION)

check() {
  (cd "$DEST" && sha256sum --check --strict --quiet SHA256SUMS) || { echo "static/ort: checksum mismatch" >&2; exit 1; }
  local listed
  listed=$(cd "$DEST" && awk '{print $2}' SHA256SUMS | sort | tr '\n' ' ')
  local want
  want=$(printf '%s\n' "${FILES[@]}" | sort | tr '\n' ' ')
  [ "$listed" = "$want" ] || { echo "static/ort/SHA256SUMS lists: $listed; expected: $want" >&2; exit 1; }
  echo "static/ort: $(cat "$DEST/VERSION"), every file matches SHA256SUMS"
}

if [ "${1:-}" = "--check" ]; then check; exit 0; fi
VERSION="${1:?usage: bash scripts/vendor_ort_web.sh VERSION [TARBALL] | --check}"
TARBALL="${2:-}"
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "VERSION must look like 1.30.0, got $VERSION" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$TARBALL" ]; then
  command -v npm >/dev/null || { echo "npm is needed (or pass the tarball npm pack made)" >&2; exit 1; }
  (cd "$work" && npm pack --silent "onnxruntime-web@$VERSION" >/dev/null)
  TARBALL=$(ls "$work"/onnxruntime-web-"$VERSION".tgz)
  echo "npm registry integrity: $(npm view "onnxruntime-web@$VERSION" dist.integrity)"
fi
echo "tarball sha512 (npm's integrity): sha512-$(openssl dgst -sha512 -binary "$TARBALL" | base64 -w0)"
tar -xzf "$TARBALL" -C "$work"
pkg="$work/package"
got=$(node -p "require('$pkg/package.json').version" 2>/dev/null || python3 -c "import json;print(json.load(open('$pkg/package.json'))['version'])")
licence=$(python3 -c "import json;print(json.load(open('$pkg/package.json'))['license'])")
[ "$got" = "$VERSION" ] || { echo "the tarball is onnxruntime-web $got, not $VERSION" >&2; exit 1; }
[ "$licence" = "MIT" ] || { echo "onnxruntime-web $VERSION is licensed $licence, not MIT: read it before vendoring" >&2; exit 1; }
grep -q "ONNX Runtime Web v$VERSION" "$pkg/dist/ort.wasm.bundle.min.mjs" || { echo "bundle header lacks v$VERSION" >&2; exit 1; }

mkdir -p "$DEST"
cp "$pkg/dist/ort.wasm.bundle.min.mjs" "$DEST/"
gzip -9 -n -c "$pkg/dist/ort-wasm-simd-threaded.wasm" > "$DEST/ort-wasm-simd-threaded.wasm.gz"
for name in LICENSE LICENSE.txt LICENSE.md; do
  if [ -f "$pkg/$name" ]; then cp "$pkg/$name" "$DEST/LICENSE"; break; fi
done
[ -f "$DEST/LICENSE" ] || { echo "no LICENSE in the package nor in $DEST: add onnxruntime's MIT licence" >&2; exit 1; }
echo "$VERSION" > "$DEST/VERSION"
# anything else in static/ort/ (an older version's files) goes
for f in "$DEST"/*; do
  case "$(basename "$f")" in README.md|SHA256SUMS|ort.wasm.bundle.min.mjs|ort-wasm-simd-threaded.wasm.gz|LICENSE|VERSION) ;;
    *) rm -f "$f"; echo "removed $(basename "$f")" ;;
  esac
done
(cd "$DEST" && sha256sum "${FILES[@]}" > SHA256SUMS)
check
raw=$(stat -c %s "$pkg/dist/ort-wasm-simd-threaded.wasm")
echo "sizes for static/ort/README.md:"
echo "  ort.wasm.bundle.min.mjs          $(stat -c %s "$DEST/ort.wasm.bundle.min.mjs") bytes (gzipped: $(gzip -9 -n -c "$DEST/ort.wasm.bundle.min.mjs" | wc -c))"
echo "  ort-wasm-simd-threaded.wasm      $raw bytes raw, stored gzipped: $(stat -c %s "$DEST/ort-wasm-simd-threaded.wasm.gz")"
echo "  ort-wasm-simd-threaded.wasm sha256 (inflated): $(sha256sum "$pkg/dist/ort-wasm-simd-threaded.wasm" | cut -c1-64)"
echo "Update the version and the sizes in static/ort/README.md, then run the tests: tests/ui/test_vendored_runtime.py"
