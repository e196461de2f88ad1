#!/usr/bin/env bash
# Packs the kdrift Pulumi resource provider as a plugin tarball for
#   pulumi plugin install resource kdrift <version> --file <tarball>
# The engine runs `pulumi-resource-kdrift` from the plugin's directory: a launcher at the tarball's root that starts
# bin/pulumi-resource-kdrift with the node on PATH; dist/ and the runtime node_modules come along.
# Usage: bash scripts/pulumi-plugin.sh [OUT_DIR]    (after npm run build; prints the tarball's path)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/stacks/provider/main.js ] || { echo "pulumi-plugin.sh: dist/ is missing: run npm run build first" >&2; exit 1; }
version=$(node -p "require('./package.json').version")
out_dir=${1:-.}
mkdir -p "$out_dir"
tarball="$(cd "$out_dir" && pwd)/pulumi-resource-kdrift-v${version}-linux-$(node -p 'process.arch === "x64" ? "amd64" : process.arch').tar.gz"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cat > "$stage/pulumi-resource-kdrift" <<'LAUNCHER'
#!/bin/sh
# kdrift provider plugin launcher: the real entry is bin/pulumi-resource-kdrift beside this file.
exec node "$(dirname "$0")/bin/pulumi-resource-kdrift" "$@"
LAUNCHER
chmod 755 "$stage/pulumi-resource-kdrift"
tar -czf "$tarball" --exclude='dist/test' --exclude='*.tar.gz' \
  package.json bin/pulumi-resource-kdrift dist node_modules -C "$stage" pulumi-resource-kdrift
echo "$tarball"
