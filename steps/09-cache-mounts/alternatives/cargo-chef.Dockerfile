# Step 09's image with cargo-chef in place of its cache mounts: the
# dependencies are built in a layer of their own, which `--cache-to` exports
# to a CI cache and a fresh runner imports with `--cache-from`.
FROM rust:1.95-slim-trixie AS chef
# Built for the build machine, before the musl target becomes cargo's default.
RUN cargo install cargo-chef --version 0.1.78 --locked
RUN target="$(uname -m)-unknown-linux-musl" \
 && rustup target add "$target" \
 && printf '[build]\ntarget = "%s"\n' "$target" >> "$CARGO_HOME/config.toml"
WORKDIR /app

# The recipe: the manifests and the dependency graph, without the source. A
# source-only change gives the same recipe, byte for byte.
FROM chef AS planner
COPY Cargo.toml Cargo.lock ./
COPY src src
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /app/recipe.json recipe.json
# The dependencies alone, in a layer keyed on the recipe: what a CI cache keeps.
RUN cargo chef cook --profile dist --locked --recipe-path recipe.json
COPY Cargo.toml Cargo.lock ./
COPY src src
RUN cargo build --profile dist --locked \
 && cp "target/$(uname -m)-unknown-linux-musl/dist/ping" /ping

# The final stage is step 09's.
FROM scratch
LABEL org.opencontainers.image.title="ping" \
      org.opencontainers.image.description="GET /ping answers PONG" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY --from=build /ping /ping
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/ping", "healthcheck"]
ENTRYPOINT ["/ping"]
