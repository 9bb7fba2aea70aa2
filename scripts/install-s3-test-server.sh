#!/usr/bin/env bash
# Install the S3-compatible server the backup-target tests run on loopback:
# moto's server mode (`moto_server`, from PyPI), pinned, in a virtualenv of
# its own. Idempotent: an existing install of the pinned version is kept.
#
# Why moto: it is installable from a registry this machine reaches (PyPI;
# no container image can be pulled), it speaks the S3 REST protocol on a
# real HTTP port (SigV4-signed requests, path-style buckets, PUT/GET/HEAD,
# multipart uploads, ListObjectsV2, DELETE), which is all compartment's
# S3 client (opendal) uses. It is a stand-in, not AWS: it does not check
# signatures against real accounts, enforce IAM or replicate. See
# docs/operations.md ("Copies off the machine").
#
# Usage: bash scripts/install-s3-test-server.sh
# Env:   COMPARTMENT_TEST_S3_VENV  where to install (default /opt/compartment-test/moto)
set -Eeuo pipefail

VENV="${COMPARTMENT_TEST_S3_VENV:-/opt/compartment-test/moto}"
PIN="moto[server]==5.2.5"

if [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" -c 'import moto, sys; sys.exit(moto.__version__ != "5.2.5")' 2>/dev/null; then
  echo "[install-s3-test-server] $PIN already in $VENV"
  exit 0
fi
command -v python3 >/dev/null 2>&1 || { echo "[install-s3-test-server] python3 is needed" >&2; exit 1; }
echo "[install-s3-test-server] installing $PIN into $VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "$PIN" </dev/null
"$VENV/bin/moto_server" --help >/dev/null
echo "[install-s3-test-server] done: $VENV/bin/moto_server"
