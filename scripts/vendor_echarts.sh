#!/usr/bin/env bash
# Vendor Apache ECharts for the finance console: the built dist/echarts.min.js and the
# package's LICENSE and NOTICE, from the npm package (`npm pack`, the ordinary client),
# into services/finance-console/src/finance_console/static/vendor/echarts/, with the
# version recorded in VERSION. Usage: scripts/vendor_echarts.sh [version]
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${1:-6.1.0}"
DEST=services/finance-console/src/finance_console/static/vendor/echarts
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "echarts@${VERSION}" > pack.txt)
tar -xzf "$WORK/$(tail -n1 "$WORK/pack.txt")" -C "$WORK"
mkdir -p "$DEST"
cp "$WORK/package/dist/echarts.min.js" "$DEST/echarts.min.js"
cp "$WORK/package/LICENSE" "$DEST/LICENSE"
[ -f "$WORK/package/NOTICE" ] && cp "$WORK/package/NOTICE" "$DEST/NOTICE"
printf 'echarts %s (npm package, dist/echarts.min.js)\nsha256 %s\n' "$VERSION" \
  "$(sha256sum "$DEST/echarts.min.js" | cut -d' ' -f1)" > "$DEST/VERSION"
echo "vendored echarts ${VERSION} into ${DEST}"
