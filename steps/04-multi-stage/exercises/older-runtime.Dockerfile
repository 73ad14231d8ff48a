# Chapter 04's exercise: step 04 with its runtime stage on an older Debian,
# bullseye (Debian 11), as many hosts and base images still are. The build
# stage is unchanged: predict whether the binary starts.
FROM rust:1.95-slim-trixie AS build
WORKDIR /app
COPY . .
RUN cargo build --release --locked

FROM debian:bullseye-slim
COPY --from=build /app/target/release/ping /usr/local/bin/ping
EXPOSE 8080
CMD ["ping"]
