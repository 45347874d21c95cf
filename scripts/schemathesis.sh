#!/usr/bin/env bash
# Installs Schemathesis (the OpenAPI fuzzer the services' tests run against each running
# service, from its own document) from PyPI once per machine, in a virtualenv of its own, and
# prints the path of its command.
#   export SCHEMATHESIS=$(scripts/schemathesis.sh)
source "$(dirname "$0")/lib/common.sh"

SCHEMATHESIS_VERSION=4.32.5
dir="$MARKETPLACE_TOOLS/schemathesis-$SCHEMATHESIS_VERSION"
command="$dir/bin/schemathesis"
# A virtualenv cannot move (its commands name its path), so it is made in place and marked
# complete only once pip has finished.
if [ ! -f "$dir/.installed" ]; then
  have python3 || apt_install python3 python3-venv
  say "installing schemathesis $SCHEMATHESIS_VERSION (PyPI)"
  rm -rf "$dir"
  python3 -m venv "$dir" >&2 || die "python3 could not make a virtualenv"
  "$dir/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >&2 \
    || die "pip could not install schemathesis==$SCHEMATHESIS_VERSION"
  touch "$dir/.installed"
fi
printf '%s\n' "$command"
