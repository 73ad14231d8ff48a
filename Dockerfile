# The build stage runs on the machine that builds (BUILDPLATFORM), whatever the
# image is for: rustc cross-compiles, nothing is emulated.
FROM --platform=$BUILDPLATFORM rust:1.95-slim-trixie AS build
# cargo-auditable: `cargo auditable build` is `cargo build` that also embeds the
# dependency list (crates and versions) in the binary, for scanners to read.
RUN --mount=type=cache,id=ping-reg,target=$CARGO_HOME/registry,sharing=locked \
    cargo install cargo-auditable --version 0.7.7 --locked
# mimalloc is C. clang compiles it for the image's platform on any build
# machine: one compiler, every architecture, so it is installed before
# TARGETARCH is declared, once for all platforms.
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang \
 && rm -rf /var/lib/apt/lists/*
# The platform the image is for: `docker build --platform` sets it, and every
# instruction from here on runs once per platform.
ARG TARGETARCH
# musl's headers for that platform: Debian's musl-dev for TARGETARCH,
# unpacked as a sysroot for clang, never installed.
RUN dpkg --add-architecture "$TARGETARCH" \
 && apt-get update \
 && cd /tmp && apt-get download "musl-dev:$TARGETARCH" \
 && dpkg-deb -x musl-dev_*.deb musl && mkdir -p /musl/usr \
 && mv musl/usr/include/*-linux-musl /musl/usr/include \
 && rm -rf musl-dev_*.deb musl /var/lib/apt/lists/*
# cc, the crate build scripts compile C with, reads these for the target only.
# mimalloc's C writes __DATE__ and __TIME__ into the binary: clang takes
# them from SOURCE_DATE_EPOCH, not the clock, so two builds give the same bytes.
ENV TARGET_CC=clang TARGET_CFLAGS=--sysroot=/musl SOURCE_DATE_EPOCH=0
# Both targets link with rust-lld, the linker rustup ships: the build machine's
# cc (gcc for its own architecture) links neither, so an Apple Silicon laptop
# builds the amd64 image as this machine builds the arm64 one.
RUN case "$TARGETARCH" in \
      amd64) arch=x86_64 ;; \
      arm64) arch=aarch64 ;; \
      *) echo "no Rust target for $TARGETARCH" >&2; exit 1 ;; \
    esac \
 && target="$arch-unknown-linux-musl" \
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
    cargo auditable build --profile dist --locked --features mimalloc \
 && cp "target/$(cat /rust-target)/dist/ping" /ping
# A layer's bytes hold its files' times, and cp gave /ping this build's time:
# set to SOURCE_DATE_EPOCH, two builds of one commit push the same digest.
RUN touch --date="@$SOURCE_DATE_EPOCH" /ping

# An SBOM (CycloneDX JSON) of what the binary is built from, on demand:
#   docker build --target sbom --output type=local,dest=sbom …
# Its tool is compiled in a stage of its own, from the base image: once, however
# the build stage changes.
FROM --platform=$BUILDPLATFORM rust:1.95-slim-trixie AS sbom-tool
RUN --mount=type=cache,id=ping-reg,target=$CARGO_HOME/registry,sharing=locked \
    cargo install cargo-cyclonedx --version 0.5.9 --locked

FROM build AS sbom-build
COPY --from=sbom-tool /usr/local/cargo/bin/cargo-cyclonedx /usr/local/bin/
RUN --mount=type=bind,source=Cargo.toml,target=Cargo.toml \
    --mount=type=bind,source=Cargo.lock,target=Cargo.lock \
    --mount=type=bind,source=src,target=src \
    --mount=type=cache,id=ping-reg,target=$CARGO_HOME/registry,sharing=locked \
    cargo cyclonedx --format json --target "$(cat /rust-target)" \
      --features mimalloc --override-filename ping.cdx \
 && mv ping.cdx.json /

FROM scratch AS sbom
COPY --from=sbom-build /ping.cdx.json /

# The image's stage, named: the publish command builds it again whatever the
# build cache holds (--no-cache-filter image), so its COPY cannot come from
# another build's layer with the same /ping and another file time.
FROM scratch AS image
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
