#!/usr/bin/env bash
# Makes the workshop's base images exist in your local Docker:
#   debian:trixie-slim   rust:1.95-slim-trixie   rust:1.95-trixie
#   debian:bullseye-slim (only chapter 04's exercise: a runtime with an older glibc)
# An image you already have is kept. A missing one is pulled from Docker Hub or,
# when that is impossible (no registry, rate limits, an air-gapped room), built
# locally the way the official images are: Debian from its package archive with
# debootstrap, Rust with rustup's minimal profile.
#
# ANCHOR: usage
# usage: steps/00-base-images/prepare.sh [--offline] [--rebuild]
#   --offline   never contact a container registry; build what is missing
#   --rebuild   rebuild the local images even if they exist (implies --offline)
# ANCHOR_END: usage
# environment:
#   DEBIAN_MIRROR   Debian archive to bootstrap from (default http://deb.debian.org/debian)
#   EXTRA_CA_DIR    *.crt files the Rust images should trust, e.g. a TLS-inspecting
#                   proxy's CA (default /usr/local/share/ca-certificates)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite=trixie
rust_version=1.95.0
debian_image="debian:${suite}-slim"
older_suite=bullseye
older_debian_image="debian:${older_suite}-slim"
rust_slim_image="rust:${rust_version%.*}-slim-${suite}"
rust_full_image="rust:${rust_version%.*}-${suite}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
extra_ca_dir="${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"
label_key=org.opencontainers.image.description
label_value="prepared locally by steps/00-base-images/prepare.sh"

offline=false
rebuild=false
for arg in "$@"; do
    case "$arg" in
        --offline) offline=true ;;
        --rebuild) rebuild=true; offline=true ;;
        -h|--help) sed -n '2,18p' "$0" | grep -v ANCHOR | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "prepare.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

scratch_dirs=()
trap 'rm -rf "${scratch_dirs[@]}"' EXIT

say() { printf '==> %s\n' "$*"; }
fail() { printf 'prepare.sh: %s\n' "$*" >&2; exit 1; }

if ! docker info >/dev/null 2>&1; then
    fail "Docker is not reachable. Start it (e.g. 'sudo systemctl start docker', or open Docker Desktop) and rerun."
fi

have() { docker image inspect "$1" >/dev/null 2>&1; }

# Keep an image we already have; otherwise try the registry unless told not to.
# Returns 0 when the image is there afterwards, 1 when it must be built.
present_or_pulled() {
    local image="$1"
    if ! $rebuild && have "$image"; then
        say "$image: present"
        return 0
    fi
    if ! $offline; then
        say "$image: pulling"
        if timeout 300 docker pull "$image"; then return 0; fi
        say "$image: cannot pull it, building it locally instead"
    fi
    return 1
}

build_debian() { # build_debian IMAGE SUITE
    local debian_image="$1" suite="$2"
    command -v debootstrap >/dev/null \
        || fail "building $debian_image needs debootstrap (Debian/Ubuntu: 'sudo apt-get install debootstrap')."
    [ "$(id -u)" = 0 ] || fail "building $debian_image with debootstrap needs root: rerun with sudo."
    local rootfs
    rootfs="$(mktemp -d /tmp/prepare-rootfs.XXXXXX)"
    scratch_dirs+=("$rootfs" "$rootfs.log")
    say "$debian_image: debootstrap --variant=minbase $suite from $mirror"
    debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
        || { tail -n 20 "$rootfs.log" >&2; fail "debootstrap failed (log above). Is $mirror reachable?"; }

    # The slim variant: no docs, manuals or translations, now or after later installs.
    install -m 644 "$here/slim.dpkg.cfg" "$rootfs/etc/dpkg/dpkg.cfg.d/docker"
    rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda}/*
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete

    # apt as in the official images: no caches, no translations, suggests are removable.
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror}
Suites: ${suite} ${suite}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: ${suite}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # Docker provides these at run time; the image should not carry the host's.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/*.log "$rootfs"/tmp/*
    : >"$rootfs/etc/resolv.conf"
    : >"$rootfs/etc/hostname"
    : >"$rootfs/etc/machine-id"

    say "$debian_image: docker import"
    tar -C "$rootfs" --numeric-owner -c . \
        | docker import --change 'CMD ["bash"]' --change "LABEL $label_key=\"$label_value\"" - "$debian_image" >/dev/null
}

build_rust() { # build_rust IMAGE DOCKERFILE BASE
    local image="$1" dockerfile="$2" base="$3" context
    context="$(mktemp -d /tmp/prepare-rust.XXXXXX)"
    scratch_dirs+=("$context")
    mkdir "$context/extra-ca-certificates"
    if [ -d "$extra_ca_dir" ]; then
        find "$extra_ca_dir" -maxdepth 1 -name '*.crt' -exec cp {} "$context/extra-ca-certificates/" \;
    fi
    say "$image: docker build from $base (Rust $rust_version, $(find "$context/extra-ca-certificates" -name '*.crt' | wc -l) extra CA certificate(s))"
    docker build --pull=false -f "$here/$dockerfile" \
        --build-arg "BASE=$base" --build-arg "RUST_VERSION=$rust_version" \
        --label "$label_key=$label_value" -t "$image" "$context"
}

started=$SECONDS
present_or_pulled "$debian_image" || build_debian "$debian_image" "$suite"
present_or_pulled "$older_debian_image" || build_debian "$older_debian_image" "$older_suite"
present_or_pulled "$rust_slim_image" || build_rust "$rust_slim_image" rust.Dockerfile "$debian_image"
present_or_pulled "$rust_full_image" || build_rust "$rust_full_image" rust-full.Dockerfile "$rust_slim_image"

for image in "$debian_image" "$rust_slim_image" "$rust_full_image" "$older_debian_image"; do
    have "$image" || fail "$image is still missing after preparing it."
done
docker run --rm "$rust_slim_image" cargo --version >/dev/null \
    || fail "$rust_slim_image is present but 'cargo --version' does not run in it."
say "base images ready in $((SECONDS - started)) s: $debian_image $rust_slim_image $rust_full_image $older_debian_image"
