# Chapter 02's exercise: step 02 with the build tree deleted one
# instruction later. Predict its size next to step 02's, then check it.
FROM rust:1.95-slim-trixie
WORKDIR /app
COPY . .
RUN cargo build --release --locked \
 && cp target/release/ping /usr/local/bin/ping
# The clean-up, in a RUN of its own.
RUN rm -rf target
EXPOSE 8080
CMD ["ping"]
