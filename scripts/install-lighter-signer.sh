#!/usr/bin/env bash
# Installs Lighter's own transaction signer (the C-ABI library shipped in the lighter-sdk wheel
# on PyPI) into $NMRPERP_HOME/lib, pinned by version and sha256 (issue 13; notes: lighter-live.md
# §8.1). Nothing is installed with pip and no Python runs at trading time: the wheel is only
# downloaded, checked, and the library and its header extracted. The binary is never committed.
#
#   bash scripts/install-lighter-signer.sh            # into ${NMRPERP_HOME:-$HOME/.nmrperp}/lib
#   NMRPERP_HOME=/somewhere bash scripts/install-lighter-signer.sh
set -euo pipefail

version=1.1.8
wheel_sha256=c0bc2ce48aec9f3cbb5bd7c492e41b73d1717861c194a4869aae6e36c0d46097
library_sha256=7f107a0e2240aa40c9f0ae8aba396380fe62892fe199dd3691e3103fc9a6fd8e
header_sha256=e060d6a15e9e5ca79b5a03c22c192f26a2182346d359b6f1d2d24a1046847302
library=lighter-signer-linux-amd64.so
header=lighter-signer-linux-amd64.h

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "install-lighter-signer: only linux x86_64 is pinned here (this is $(uname -s)-$(uname -m))" >&2
  exit 1
fi
destination="${NMRPERP_HOME:-$HOME/.nmrperp}/lib"
if [[ -f "$destination/$library" && -f "$destination/$header" ]] &&
  echo "$library_sha256  $destination/$library" | sha256sum -c --status - &&
  echo "$header_sha256  $destination/$header" | sha256sum -c --status -; then
  echo "install-lighter-signer: lighter-sdk $version signer already in $destination"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: "lighter-sdk==$version" -d "$work"
wheel="$work/lighter_sdk-$version-py3-none-any.whl"
echo "$wheel_sha256  $wheel" | sha256sum -c --quiet -
python3 - "$wheel" "$work" "$library" "$header" <<'PYTHON'
import os, sys, zipfile
wheel, out, *names = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive:
    for name in names:
        with open(os.path.join(out, name), "wb") as target:
            target.write(archive.read("lighter/signers/" + name))
PYTHON
echo "$library_sha256  $work/$library" | sha256sum -c --quiet -
echo "$header_sha256  $work/$header" | sha256sum -c --quiet -
mkdir -p "$destination"
install -m 0644 "$work/$library" "$destination/$library.tmp"
install -m 0644 "$work/$header" "$destination/$header.tmp"
mv -f "$destination/$library.tmp" "$destination/$library"
mv -f "$destination/$header.tmp" "$destination/$header"
echo "install-lighter-signer: lighter-sdk $version signer installed in $destination (sha256 checked)"
