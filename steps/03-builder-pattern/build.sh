#!/bin/sh
# The builder pattern, as it was done before multi-stage builds: build in one
# image, copy the binary out through the host, build a second image around it.
# Run it from the repository root.
set -eu
here=steps/03-builder-pattern

docker build -f "$here/Dockerfile.build" -t ping:03-build .

# A container is the only way to reach into an image's files: create one, copy, remove it.
container="$(docker create ping:03-build)"
out="$(mktemp -d)"
trap 'docker rm "$container" >/dev/null; rm -rf "$out"' EXIT
docker cp "$container:/app/target/release/ping" "$out/ping"

docker build -f "$here/Dockerfile.run" -t ping:03-builder-pattern "$out"
