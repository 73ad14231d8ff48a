# Chapter 05's exercise: step 05 with the source copied before the first
# build. The two builds are still there: predict what a source-only change
# rebuilds.
FROM rust:1.95-slim-trixie AS build
WORKDIR /app
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# Meant to compile the dependencies: everything it reads is in place above.
RUN cargo build --release --locked
RUN touch src/main.rs && cargo build --release --locked

FROM debian:trixie-slim
COPY --from=build /app/target/release/ping /usr/local/bin/ping
EXPOSE 8080
CMD ["ping"]
