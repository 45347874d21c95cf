#!/usr/bin/env bash
# Writes each service's OpenAPI document, as the service serves it at `GET /openapi.json`,
# into docs/openapi/<service>.json. Run it after changing a handler or a wire type; the
# services' tests fail while a kept document differs from the served one.
source "$(dirname "$0")/lib/common.sh"
cd "$PROJECT_ROOT"

scripts/infra.sh up
eval "$(scripts/infra.sh env)"
OPENAPI_WRITE=1 cargo test --locked -q \
  -p user-service -p inventory-service -p transaction-service -p receipt-service \
  -p notification-service --test api openapi::serves_the_document_the_repository_keeps
git status --short docs/openapi
