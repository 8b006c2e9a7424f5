#!/bin/sh
# Run one process of the service baked into this image:
#   otd-entrypoint api|relay|consumer|migrate|recon-daily   ->  python -m <package> <command>
# OTD_SERVICE is set by the Dockerfile from the SERVICE build argument.
set -eu
: "${OTD_SERVICE:?OTD_SERVICE is not set (the Dockerfile sets it from SERVICE)}"
package="$(printf '%s' "${OTD_SERVICE}" | tr '-' '_')"
exec python -m "${package}" "$@"
