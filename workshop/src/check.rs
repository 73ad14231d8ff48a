//! The named checks, each named once: the name step.toml uses and what it proves (one
//! line of a report or of the book); and the demonstrations, what the tools do whatever
//! the learner's file says, shown beside the checks but never counted as one passed.
//! What each one does is in checks/.

/// A list of named things: variant, the name step.toml uses, what it proves or shows
/// (one line of a report or of the book).
macro_rules! named {
    ($kind:ident, $what:literal, $($item:ident = $name:literal: $says:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum $kind {
            $($item,)*
        }

        impl $kind {
            pub const ALL: &[$kind] = &[$($kind::$item,)*];

            /// The name used in step.toml.
            pub fn name(self) -> &'static str {
                match self {
                    $($kind::$item => $name,)*
                }
            }

            /// What it proves, or shows.
            pub fn says(self) -> &'static str {
                match self {
                    $($kind::$item => $says,)*
                }
            }
        }

        impl std::str::FromStr for $kind {
            type Err = String;

            fn from_str(name: &str) -> std::result::Result<$kind, String> {
                $kind::ALL
                    .iter()
                    .copied()
                    .find(|item| item.name() == name)
                    .ok_or_else(|| {
                        let names: Vec<&str> = $kind::ALL.iter().map(|item| item.name()).collect();
                        format!("unknown {} {name:?}; the {}s are {}", $what, $what, names.join(", "))
                    })
            }
        }

        impl<'de> serde::Deserialize<'de> for $kind {
            fn deserialize<D: serde::Deserializer<'de>>(
                deserializer: D,
            ) -> std::result::Result<$kind, D::Error> {
                let name = String::deserialize(deserializer)?;
                name.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

named! {
    Check, "check",
    AnswersPong = "answers_pong":
        "the container answers `GET /ping` with `200 PONG`",
    WithinBudget = "within_budget":
        "the image stays within the step's size budget",
    ShipsToolchainSourceAndBuildTree = "ships_toolchain_source_and_build_tree":
        "the image holds the toolchain, the source and the build tree (the problem is real)",
    NoBuildContextJunk = "no_build_context_junk":
        "no `.git`, `target`, `tests`, `book`, `steps` or `.ci` from the build context",
    NoSource = "no_source":
        "no Rust source and no `Cargo.toml` in the image",
    NoToolchain = "no_toolchain":
        "no `cargo`, `rustc` or `rustup` in the image",
    CopiesFromABuildStage = "copies_from_a_build_stage":
        "one Dockerfile: the final stage copies the binary `--from` a build stage",
    ReusesTheDependencyLayer = "reuses_the_dependency_layer":
        "after a source-only change the dependency build is `CACHED`, and the rebuilt image answers `PONG`",
    RebuildsOnlyWhatChanged = "rebuilds_only_what_changed":
        "after a source change and after a manifest change, cargo compiles the service alone: the dependencies come from cache mounts",
    BuildsAStaticArm64Image = "builds_a_static_arm64_image":
        "built with `--platform linux/arm64`, the image says `arm64` and holds a static AArch64 binary, cross-compiled",
    Arm64ImageAnswersPongUnderEmulation = "arm64_image_answers_pong_under_emulation":
        "the arm64 image answers `PONG`, run under emulation on this machine",
    BuildsOneMultiPlatformImage = "builds_one_multi_platform_image":
        "one `docker build --platform linux/amd64,linux/arm64` puts both under one tag: each platform's image says its platform and holds a static binary for its machine",
    LinksWithRustLld = "links_with_rust_lld":
        "both platforms' binaries are linked by `rust-lld`, not by the build machine's `cc`: any machine builds every platform",
    EmbedsItsDependencyList = "embeds_its_dependency_list":
        "the binary carries its dependency list (`cargo auditable`): every crate it is built from, at `Cargo.lock`'s version",
    ScannersSeeItsCrates = "scanners_see_its_crates":
        "`cargo audit bin` sees every crate in the binary: it reports advisories written against its `tokio` and against a crate named nowhere else in it, not one its `tokio` is patched against",
    AllocatesWithMimalloc = "allocates_with_mimalloc":
        "the binary allocates with mimalloc, not musl's malloc: mimalloc's code is in it",
    ExportsAnSbom = "exports_an_sbom":
        "`docker build --target sbom --output …` exports a CycloneDX SBOM naming those crates",
    PushesOneMultiPlatformIndex = "pushes_one_multi_platform_index":
        "pushed with the publish command, one tag names one index with an image for each platform, each holding a static binary for its machine",
    DigestIsReproducible = "digest_is_reproducible":
        "built again from nothing (no build cache, empty cache mounts), the same commit gives every platform the same image digest",
    SbomAttestationVerifies = "sbom_attestation_verifies":
        "the SBOM your Dockerfile exports, attested to the pushed index, names the index by digest and lists every crate the binary names",
    BinaryIsStatic = "binary_is_static":
        "the binary is static: no ELF interpreter, no shared library",
    HoldsOnlyTheBinary = "holds_only_the_binary":
        "the image holds the service binary and nothing else",
    NoShell = "no_shell":
        "there is no shell in the image",
    NoSetuidFiles = "no_setuid_files":
        "there are no setuid or setgid files",
    RunsAsNumericNonRootUser = "runs_as_numeric_non_root_user":
        "`USER` is numeric `uid:gid`, neither of them root's",
    ExecFormEntrypointAndHealthcheck = "exec_form_entrypoint_and_healthcheck":
        "`ENTRYPOINT` and `HEALTHCHECK` in exec form, the binary checking itself",
    HasOciLabels = "has_oci_labels":
        "OCI labels: title, description, and licenses as Cargo.toml's; a source, if named, is the checkout's public remote",
    DeclaresOnlyWhatItServes = "declares_only_what_it_serves":
        "`EXPOSE` names the port it listens on, no `VOLUME`, no `ENV` the service does not read",
    ServesLockedDown = "serves_locked_down":
        "it serves under the hardened `docker run` flags (read-only, no capability), as its `USER`'s uid and gid and no other group",
    BecomesHealthy = "becomes_healthy":
        "Docker reports the container `healthy`",
    StopsGracefully = "stops_gracefully":
        "`docker stop` answers the request in flight and exits with code 0 within 2 s",
    BoundsItsThreads = "bounds_its_threads":
        "at most 4 threads whatever the host, idle and under load, one worker when held to one CPU, and healthy under `--pids-limit 8`",
    HoldsHttpLimits = "holds_http_limits":
        "HTTP limits hold: a slow client and an idle keep-alive connection closed within 5 s, a client that reads no answer within 10 s of its writes stalling, `/ping` answering beside 2,000 idle or half-sent connections and after a burst past the 2,048-connection cap, 431 for heads over the limits, 400 for conflicting `Content-Length`",
}

named! {
    Demo, "demonstration",
    TheKernelAppliesTheFlags = "the_kernel_applies_the_flags":
        "the hardened `docker run` flags, as the kernel applies them: no new privileges, no capability in any set, Docker's seccomp filter; without the flags, run as root, the full bounding set",
    NamesItsSourceAndCommit = "names_its_source_and_commit":
        "buildx's provenance and labels name the Dockerfile, the commit (`-dirty` for a tree with changes) and the checkout's public remote, or no source at all without one",
    SignsAndVerifiesByDigest = "signs_and_verifies_by_digest":
        "cosign signs the index by digest and verifies it with the public key; it refuses another key, the tag moved to another image, changed signature bytes, and an attestation checked with another key",
    RunsByDigest = "runs_by_digest":
        "pulled by digest, the image runs locked down and answers `PONG`, and Docker says it runs that digest",
}

/// How much a check costs to run, in the order a report runs them: what it reads of the
/// image and its build first (seconds), then what it runs in a container, then what needs
/// another build (a rebuild, another platform, a push: minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cost {
    Reads,
    Runs,
    Builds,
}

impl Check {
    pub fn cost(self) -> Cost {
        use Check::*;
        match self {
            AnswersPong | ServesLockedDown | BecomesHealthy | StopsGracefully
            | BoundsItsThreads | HoldsHttpLimits => Cost::Runs,
            ReusesTheDependencyLayer
            | RebuildsOnlyWhatChanged
            | BuildsAStaticArm64Image
            | Arm64ImageAnswersPongUnderEmulation
            | BuildsOneMultiPlatformImage
            | LinksWithRustLld
            | ExportsAnSbom
            | PushesOneMultiPlatformIndex
            | DigestIsReproducible
            | SbomAttestationVerifies => Cost::Builds,
            WithinBudget
            | ShipsToolchainSourceAndBuildTree
            | NoBuildContextJunk
            | NoSource
            | NoToolchain
            | CopiesFromABuildStage
            | EmbedsItsDependencyList
            | ScannersSeeItsCrates
            | AllocatesWithMimalloc
            | BinaryIsStatic
            | HoldsOnlyTheBinary
            | NoShell
            | NoSetuidFiles
            | RunsAsNumericNonRootUser
            | ExecFormEntrypointAndHealthcheck
            | HasOciLabels
            | DeclaresOnlyWhatItServes => Cost::Reads,
        }
    }

    /// `checks` in the order a report runs them: by cost, and in the order given within
    /// one cost. A verdict in seconds, the slow ones last.
    pub fn in_run_order(checks: &[Check]) -> Vec<Check> {
        let mut ordered = checks.to_vec();
        ordered.sort_by_key(|check| check.cost());
        ordered
    }
}
