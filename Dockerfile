# syntax=docker/dockerfile:1
# One Dockerfile for the whole marketplace. The builder compiles every binary and the
# hydrated site once; the final stages copy out what one container needs:
#   docker build --target service --build-arg BIN=user-service -t marketplace/user .
#   docker build --target gateway -t marketplace/gateway .
# docker-compose.yml builds them all (the builder stage is shared and cached).

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN} AS builder
# cmake builds librdkafka; node/npm fetch wasm-opt; brotli precompresses the site.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake nodejs npm brotli \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/root/.cache/marketplace-tools \
    --mount=type=cache,target=/src/target \
    scripts/build-site.sh \
 && cargo build --locked --release --bins \
 && mkdir -p /out/bin \
 && cp target/release/marketplace-web target/release/seed-demo \
       target/release/user-service target/release/inventory-service \
       target/release/transaction-service target/release/receipt-service \
       target/release/notification-service /out/bin/ \
 && cp -r target/site /out/site

FROM debian:${DEBIAN}-slim AS runtime
# curl for the health checks; nothing else beyond certificates.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin marketplace
ENV HOST=0.0.0.0 LOG_FORMAT=json RUST_LOG=info
USER marketplace

# A service: BIN names its binary (user-service, inventory-service, transaction-service,
# receipt-service, notification-service).
FROM runtime AS service
ARG BIN
COPY --from=builder /out/bin/${BIN} /usr/local/bin/service
ENTRYPOINT ["/usr/local/bin/service"]

# The gateway with its site assets, and seed-demo for the demo data.
FROM runtime AS gateway
COPY --from=builder /out/bin/marketplace-web /out/bin/seed-demo /usr/local/bin/
COPY --from=builder /out/site /srv/site
ENV SITE_ROOT=/srv/site PORT=3000
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/marketplace-web"]
