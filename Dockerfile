# Multi-stage release build of shiku-server.
#   docker build -t shiku-server .
#   docker run -p 8092:8092 -v shiku-data:/data shiku-server
# The build stage runs the same command as .ci/run's release step:
#   cargo build --release --locked --bin shiku-server

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto ./proto
COPY src ./src
COPY console-ui ./console-ui
COPY benches ./benches
RUN cargo build --release --locked --bin shiku-server

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin shiku \
    && mkdir -p /data && chown shiku /data
COPY --from=build /src/target/release/shiku-server /usr/local/bin/shiku-server
COPY fixtures /usr/share/shiku-server/fixtures
USER shiku
ENV SHIKU_DATA_DIR=/data \
    SHIKU_LISTEN=0.0.0.0:8092
VOLUME ["/data"]
# API (and everything else on the default single listener), then the reference's separate ports:
# upload 8088, files 8089, XMPP BOSH 5280, XMPP WebSocket 5290, XMPP TCP 5222, Shiku WebSocket 5260.
EXPOSE 8092 8088 8089 5280 5290 5222 5260
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/shiku-server"]
