#!/usr/bin/env bash
# Build a self-contained tarball of the reconciler for Nomad's `exec` driver (via an
# `artifact` block) or any host with a matching python3: the package and all its
# dependencies, runnable from the extracted directory with no install step.
#
#   deploy/tarball/build.sh [OUT_DIR]      (default: dist/)
#
# Output: OUT_DIR/nomad-reconciler-VERSION-linux-ARCH-pyXY.tar.gz and a .sha256 beside it
# (paste it into the artifact's `checksum = "sha256:..."`).  Layout inside:
#   nomad-reconciler/bin/nomad-reconciler   launcher (POSIX sh)
#   nomad-reconciler/lib/                   the package and its dependencies
# Compiled dependencies are built for the python3 that runs this script, so the
# launcher checks that the host's python3 has the same major.minor version.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$here/dist}" && cd "${1:-$here/dist}" && pwd)
python=${PYTHON:-python3}

version=$("$python" -c 'import re,sys; print(re.search(r"__version__ = \"(.+?)\"", open(sys.argv[1]).read()).group(1))' "$here/reconciler/__init__.py")
pyver=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
name="nomad-reconciler-${version}-linux-$(uname -m)-py${pyver/./}"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/nomad-reconciler"
mkdir -p "$root/bin" "$root/lib"

"$python" -m pip install --quiet --disable-pip-version-check --no-compile --no-warn-conflicts \
    --root-user-action=ignore \
    --target "$root/lib" "$here"

cat > "$root/bin/nomad-reconciler" <<LAUNCHER
#!/bin/sh
# nomad-reconciler ${version}, built for Python ${pyver}.
root=\$(cd "\$(dirname "\$0")/.." && pwd)
python=\${NOMAD_RECONCILER_PYTHON:-python3}
if ! "\$python" -c 'import sys; sys.exit(sys.version_info[:2] != (${pyver/./, }))' 2>/dev/null; then
    echo "nomad-reconciler: needs Python ${pyver} (\$python is \$("\$python" -V 2>&1)); set NOMAD_RECONCILER_PYTHON" >&2
    exit 1
fi
# -s: no user site-packages; -P: not the working directory either. Only what the tarball
# carries is imported.
PYTHONPATH="\$root/lib" exec "\$python" -s -P -m reconciler "\$@"
LAUNCHER
chmod +x "$root/bin/nomad-reconciler"
printf '%s\n' "$version" > "$root/VERSION"

tarball="$out/$name.tar.gz"
# Sorted, owner-neutral entries so the same inputs give the same archive listing.
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$stage" -czf "$tarball" nomad-reconciler
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "$tarball"
