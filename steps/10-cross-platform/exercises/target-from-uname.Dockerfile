# Chapter 10's exercise: step 10 with the Rust target taken from `uname -m`,
# as step 06 did, instead of from TARGETARCH. Predict what the arm64 image
# holds.
# The build stage runs on the machine that builds (BUILDPLATFORM), whatever the
# image is for: rustc cross-compiles, nothing is emulated.
FROM --platform=$BUILDPLATFORM rust:1.95-slim-trixie AS build
# The platform the image is for: `docker build --platform` sets it.
ARG TARGETARCH
# Both targets link with rust-lld, the linker rustup ships: the build machine's
# cc (gcc for its own architecture) links neither, so an Apple Silicon laptop
# builds the amd64 image as this machine builds the arm64 one.
# Step 06's way of choosing the target: which platform does it build for?
RUN target="$(uname -m)-unknown-linux-musl" \
 && rustup target add "$target" \
 && printf '[build]\ntarget = "%s"\n' "$target" >> "$CARGO_HOME/config.toml" \
 && echo "$target" > /rust-target \
 && printf '[target.%s]\nlinker = "rust-lld"\n' "$target" \
      >> "$CARGO_HOME/config.toml"
WORKDIR /app
# One RUN, no placeholder: the manifests and the source are mounted for this RUN
# only, never copied into a layer. cargo's registry and target/ are cache mounts
# that outlive the build, so a change recompiles only what it touches. Their ids
# are this project's: no other Dockerfile on the builder shares them by chance.
# The binary is copied out in the same RUN: a cache mount is not in the image.
RUN --mount=type=bind,source=Cargo.toml,target=Cargo.toml \
    --mount=type=bind,source=Cargo.lock,target=Cargo.lock \
    --mount=type=bind,source=src,target=src \
    --mount=type=cache,id=ping-target-lld,target=/app/target,sharing=locked \
    --mount=type=cache,id=ping-reg,target=$CARGO_HOME/registry,sharing=locked \
    cargo build --profile dist --locked \
 && cp "target/$(cat /rust-target)/dist/ping" /ping

FROM scratch
# Labels tell registries and scanners what this image is (OCI annotation keys).
LABEL org.opencontainers.image.title="ping" \
      org.opencontainers.image.description="GET /ping answers PONG" \
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
