#!/bin/sh
# The UI's browser tests drive Debian's Chromium (/usr/bin/chromium) through Playwright for
# Python; Playwright's own browser builds are never downloaded. `make unit` runs this: it
# installs the package when it is missing (as root, from the Debian archive).
set -eu
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install_browser.sh: /usr/bin/chromium is missing; as root: apt-get install -y chromium" >&2
    exit 0
fi
echo "install_browser.sh: installing Debian's chromium for the UI's browser tests" >&2
DEBIAN_FRONTEND=noninteractive apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
