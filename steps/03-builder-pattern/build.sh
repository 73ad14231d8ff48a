#!/bin/sh
# The builder pattern, as it was done before multi-stage builds: build in one
# image, copy the binary out through the host, build a second image around it.
# Run it from the repository root.
set -eu
here="$(dirname "$0")"
# The run image's name; `cargo workshop check 03` sets TAG for your copy.
tag="${TAG:-ping:03-builder-pattern}"

docker build -f "$here/Dockerfile.build" -t "$tag-build" .

# Copy the binary out through a container: create one, copy, remove it.
container="$(docker create "$tag-build")"
out="$(mktemp -d)"
trap 'docker rm "$container" >/dev/null; rm -rf "$out"' EXIT
docker cp "$container:/app/target/release/ping" "$out/ping"

docker build -f "$here/Dockerfile.run" -t "$tag" "$out"
