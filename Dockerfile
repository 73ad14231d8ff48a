FROM rust:1.95-slim-trixie AS build
RUN target="$(uname -m)-unknown-linux-musl" \
 && rustup target add "$target" \
 && printf '[build]\ntarget = "%s"\n' "$target" >> "$CARGO_HOME/config.toml"
WORKDIR /app
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs \
 && cargo build --profile dist --locked \
 && rm -rf src
COPY src ./src
RUN touch src/main.rs && cargo build --profile dist --locked \
 && cp target/*-unknown-linux-musl/dist/ping /ping

FROM scratch
# Where the source lives; set it when you build:
#   --build-arg SOURCE_URL="$(git remote get-url origin)"
ARG SOURCE_URL=https://example.com/ping-workshop
# Labels tell registries and scanners what this image is (OCI annotation keys).
LABEL org.opencontainers.image.title="ping" \
      org.opencontainers.image.description="GET /ping answers PONG" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY --from=build /ping /ping
# A numeric user, not root: scratch has no /etc/passwd to look a name up in, and
# Kubernetes' runAsNonRoot can only verify a number.
USER 65532:65532
EXPOSE 8080
# scratch has no curl: the binary checks itself (`ping healthcheck`).
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/ping", "healthcheck"]
# Exec form: /ping is PID 1 and receives docker stop's SIGTERM itself.
ENTRYPOINT ["/ping"]
