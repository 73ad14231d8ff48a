//! Checks that build the image for another platform (arm64) and run it there, build
//! both platforms under one tag, and read which linker made each platform's binary.

use std::collections::BTreeSet;

use super::Passed;
use crate::docker;
use crate::error::{Error, Result, found};
use crate::image::Image;
use crate::running::{self, Running};

/// The platform the checks build for besides the machine's own.
pub const ARM64: &str = "linux/arm64";

/// The platforms one multi-platform build puts under one tag.
pub const BOTH: [&str; 2] = ["linux/amd64", ARM64];

/// What a build for another platform needs, when it fails.
const CROSS_COMPILE: &str = "build where you are and compile for the target: FROM \
                             --platform=$BUILDPLATFORM for the build stage, and a Rust target \
                             chosen from ARG TARGETARCH";

/// The same Dockerfile built for arm64, with what to think about when it fails.
fn build_arm64(image: &Image) -> Result<Image> {
    not_emulated(image, ARM64)?;
    image
        .step
        .try_build_for(ARM64)
        .map_err(|error| Error::Found {
            found: format!("the build for {ARM64} failed: {}", error.found()),
            hint: CROSS_COMPILE.into(),
        })
}

/// Step 10: built for arm64, the image says arm64 and its binary is a static AArch64
/// executable: rustc cross-compiled it, nothing was emulated.
pub fn builds_a_static_arm64_image(image: &Image) -> Result<Passed> {
    let arm64 = build_arm64(image)?;
    let architecture = arm64.inspect.architecture.clone().unwrap_or_default();
    if architecture != "arm64" {
        return found(
            format!("the image built for {ARM64} says its architecture is {architecture:?}"),
            "is the final stage built for the target platform (no --platform on its FROM)?",
        );
    }
    let (path, bytes) = super::the_service_binary(&arm64)
        .map_err(|error| error.context("the image built for arm64"))?;
    if !builds_on_the_build_platform(image) {
        return found(
            "no build stage starts FROM --platform=$BUILDPLATFORM: built for arm64, the build \
             stage is an arm64 image, and where a registry has one every RUN in it, rustc \
             included, runs under emulation",
            "let the build stage run where you build (FROM --platform=$BUILDPLATFORM … AS build) \
             and cross-compile for TARGETARCH",
        );
    }
    let machine = static_binary_for(
        ARM64,
        &format!("the image built for {ARM64}"),
        &path,
        &bytes,
    )?;
    Ok(Some(format!(
        "static {machine}, {:.2} MB, built in {:.1} s",
        arm64.size_mb(),
        arm64.build_time.as_secs_f64()
    )))
}

/// Step 10: the arm64 image answers PONG, run under emulation (QEMU, through the
/// kernel's binfmt_misc) on this x86-64 machine.
pub async fn arm64_image_answers_pong_under_emulation(image: &Image) -> Result<Passed> {
    let arm64 = build_arm64(image)?;
    let running = Running::try_start(running::request(&arm64.tag))
        .await
        .map_err(|error| {
            let exec_format = error.found().contains("exec format error");
            if exec_format {
                error.with_hint(
                    "this machine cannot run arm64 binaries: install QEMU's static user-mode \
                     emulators and register them with the kernel (Debian: `apt install \
                     qemu-user-static`, then as root `cat /usr/lib/binfmt.d/qemu-aarch64.conf > \
                     /proc/sys/fs/binfmt_misc/register`; Docker Desktop has them built in)",
                )
            } else {
                error
            }
        })?;
    Ok(Some(format!(
        "PONG {:.0} ms after `docker run`, under emulation",
        running.answered_after.as_secs_f64() * 1000.0
    )))
}

/// This machine's platform, as Docker names it (`linux/amd64`, `linux/arm64`).
pub fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("linux/{arch}")
}

/// The build stage that would run under emulation when the Dockerfile of `image` is
/// built for `platform` on this machine: a stage before the final one, with a RUN, whose
/// `FROM --platform` is neither this machine's platform nor `$BUILDPLATFORM` (no
/// `--platform` at all is the target's). Read from the Dockerfile, before any build.
pub fn emulated_stage(dockerfile: &str, platform: &str) -> Option<String> {
    let host = host_platform();
    // (its FROM line, its platform, its name, whether it runs anything)
    let mut stages: Vec<(String, String, String, bool)> = Vec::new();
    for line in dockerfile.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some(word) if word.eq_ignore_ascii_case("FROM") => {
                let words: Vec<&str> = words.collect();
                let flag = words
                    .iter()
                    .find_map(|word| word.strip_prefix("--platform="));
                let base = words.iter().find(|word| !word.starts_with("--")).copied();
                let name = words
                    .iter()
                    .position(|word| word.eq_ignore_ascii_case("AS"))
                    .and_then(|at| words.get(at + 1))
                    .map_or(String::new(), |name| name.to_string());
                // FROM an earlier stage: that stage's platform, unless --platform says.
                let inherited = base.and_then(|base| {
                    stages
                        .iter()
                        .find(|(_, _, stage, _)| stage.eq_ignore_ascii_case(base))
                        .map(|(_, on, _, _)| on.clone())
                });
                let on = match (flag, inherited) {
                    (Some("$BUILDPLATFORM" | "${BUILDPLATFORM}"), _) => host.clone(),
                    (Some("$TARGETPLATFORM" | "${TARGETPLATFORM}"), _) | (None, None) => {
                        platform.to_string()
                    }
                    (Some(literal), _) => literal.to_string(),
                    (None, Some(inherited)) => inherited,
                };
                stages.push((line.to_string(), on, name, false));
            }
            Some(word) if word.eq_ignore_ascii_case("RUN") => {
                if let Some(stage) = stages.last_mut() {
                    stage.3 = true;
                }
            }
            _ => {}
        }
    }
    let (_, build_stages) = stages.split_last()?;
    build_stages
        .iter()
        .find(|(_, on, _, runs)| *runs && *on != host)
        .map(|(from, on, _, _)| format!("`{from}` ({on})"))
}

/// Err, with why, when building `image`'s Dockerfile for `platform` would run a build
/// stage under emulation and the learner did not ask for it (`--slow`): a fast check
/// already shows the build cannot be what the step teaches, and it would take ten
/// minutes or more.
pub fn not_emulated(image: &Image, platform: &str) -> Result<()> {
    if image.step.try_slow {
        return Ok(());
    }
    let Some(dockerfile) = image.step.dockerfiles().pop() else {
        return Ok(());
    };
    let text = std::fs::read_to_string(dockerfile).unwrap_or_default();
    match emulated_stage(&text, platform) {
        None => Ok(()),
        Some(stage) => found(
            format!(
                "not tried: built for {platform}, the stage {stage} would run under emulation \
                 on this {} machine, and rustc there takes ten minutes or more",
                host_platform()
            ),
            "let the build stage run where you build (FROM --platform=$BUILDPLATFORM … AS \
             build) and cross-compile for TARGETARCH; `cargo workshop check NN --slow` tries \
             the emulated build anyway",
        ),
    }
}

/// Whether a stage before the final one starts `FROM --platform=$BUILDPLATFORM`, read
/// from the Dockerfile itself (the build log does not say where a stage ran).
fn builds_on_the_build_platform(image: &Image) -> bool {
    let Some(dockerfile) = image.step.dockerfiles().pop() else {
        return false;
    };
    let text = std::fs::read_to_string(dockerfile).unwrap_or_default();
    let froms: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|word| word.eq_ignore_ascii_case("FROM"))
        })
        .collect();
    froms.split_last().is_some_and(|(_, build_stages)| {
        build_stages.iter().any(|line| {
            line.contains("--platform=$BUILDPLATFORM")
                || line.contains("--platform=${BUILDPLATFORM}")
        })
    })
}

/// The ELF machine a platform's binary must be built for, and its name.
pub fn machine_of(platform: &str) -> Option<(u16, &'static str)> {
    match platform.rsplit('/').next()? {
        "amd64" => Some((goblin::elf::header::EM_X86_64, "x86-64")),
        "arm64" => Some((goblin::elf::header::EM_AARCH64, "AArch64")),
        _ => None,
    }
}

/// Step 10: one `docker build --platform linux/amd64,linux/arm64` puts both platforms
/// under one tag (an index in the containerd image store); `docker image inspect
/// --platform` and `docker create --platform` find each one, which says its platform
/// and holds a static binary for its machine.
pub fn builds_one_multi_platform_image(image: &Image) -> Result<Passed> {
    for platform in BOTH {
        not_emulated(image, platform)?;
    }
    let step = &image.step;
    let platforms = BOTH.join(",");
    let tag = step.image_for(Some(&platforms));
    let before = docker::image_id(&tag);
    let started = std::time::Instant::now();
    step.run_build_command(&step.build_command_for(Some(&platforms)), &tag)
        .map_err(|error| {
            let found = error.found();
            // BuildKit's words: "Multi-platform build is not supported for the docker
            // driver" (buildx's default builder on the classic store); older engines spoke
            // of exporting manifest lists.
            let said = found.to_lowercase();
            if said.contains("manifest list") || said.contains("multi-platform") {
                Error::Found {
                    found: format!("the build for {platforms} failed: {found}"),
                    hint: "this engine's image store holds one platform per tag: turn on the \
                           containerd image store ({\"features\": {\"containerd-snapshotter\": \
                           true}} in /etc/docker/daemon.json, then restart dockerd; Docker \
                           Desktop: Settings → General); on the classic store a push of \
                           several platforms is refused too"
                        .into(),
                }
            } else {
                Error::Found {
                    found: format!("the build for {platforms} failed: {found}"),
                    hint: CROSS_COMPILE.into(),
                }
            }
        })?;
    let took = started.elapsed();
    if let Some(old) = before.filter(|old| docker::image_id(&tag).as_ref() != Some(old)) {
        docker::remove_if_dangling(&old);
    }
    let path = binary_path(image)?;
    let mut shown = Vec::new();
    for platform in BOTH {
        let said = docker::ok(&[
            "image",
            "inspect",
            "--platform",
            platform,
            "--format",
            "{{.Os}}/{{.Architecture}}",
            &tag,
        ])
        .map_err(|error| Error::Found {
            found: format!("{tag} holds no {platform} image: {}", error.found()),
            hint: "build every platform in one command, `docker build --platform a,b`: two \
                   builds to one tag leave it naming the last one alone"
                .into(),
        })?;
        if said != platform {
            return found(
                format!("{tag}'s image for {platform} says it is {said}"),
                "let BuildKit write the platform: the final stage must be built for the target",
            );
        }
        let bytes = docker::CreatedContainer::create_for(&tag, platform)?.copy_out(&path)?;
        let name = static_binary_for(
            platform,
            &format!("{tag}'s {platform} image"),
            &path,
            &bytes,
        )?;
        shown.push(format!("{platform} {name}"));
    }
    Ok(Some(format!(
        "{tag}: {}, both static; built in {:.1} s",
        shown.join(", "),
        took.as_secs_f64()
    )))
}

/// Step 10: both platforms' binaries were linked by rust-lld (LLD writes its name into
/// a binary's .comment section), not by the build machine's `cc`, which links only for
/// its own architecture: the same Dockerfile builds every platform from any build
/// machine, an Apple Silicon laptop's amd64 image as this machine's arm64 one. The
/// machine's own image is read first: a build that links it with `cc` fails there,
/// before any build for arm64.
pub fn links_with_rust_lld(image: &Image) -> Result<Passed> {
    let mut linkers = BTreeSet::new();
    for platform in [None, Some(ARM64)] {
        let built;
        let (image, platform) = match platform {
            None => (image, "this machine's platform"),
            Some(platform) => {
                built = build_arm64(image)?;
                (&built, platform)
            }
        };
        let (path, bytes) = super::the_service_binary(image)?;
        let Some(linker) = linker_of(&bytes) else {
            return found(
                format!(
                    "{path} in the image for {platform} was not linked by rust-lld: its \
                     .comment section names no LLD, so the build machine's cc linked it"
                ),
                "cc links only for the machine it runs on: set `linker = \"rust-lld\"` for \
                 every musl target, not only the one this machine cannot link",
            );
        };
        linkers.insert(linker);
    }
    Ok(Some(format!(
        "both binaries linked by {}",
        linkers.into_iter().collect::<Vec<_>>().join(", ")
    )))
}

/// The linker an ELF binary names in its .comment section, if LLD linked it.
pub fn linker_of(binary: &[u8]) -> Option<String> {
    let elf = goblin::elf::Elf::parse(binary).ok()?;
    let section = elf
        .section_headers
        .iter()
        .find(|header| elf.shdr_strtab.get_at(header.sh_name) == Some(".comment"))?;
    let range = section.file_range()?;
    binary
        .get(range)?
        .split(|byte| *byte == 0)
        .map(String::from_utf8_lossy)
        .find(|text| text.starts_with("Linker: LLD"))
        .map(|text| {
            text.trim_start_matches("Linker: ")
                .split(" (")
                .next()
                .unwrap_or_default()
                .to_string()
        })
}

/// The path of the service binary, through any symbolic links, read from the image of
/// this machine's platform (ENTRYPOINT is the same in every platform's image).
fn binary_path(image: &Image) -> Result<String> {
    let path = super::service_binary_path(image)?;
    Ok(image.files()?.resolve(&path).unwrap_or(path))
}

/// That `bytes`, the file `path` of `image` (its words: "the linux/arm64 image"), is a
/// static executable for `platform`'s machine; that machine's name.
pub fn static_binary_for(
    platform: &str,
    image: &str,
    path: &str,
    bytes: &[u8],
) -> Result<&'static str> {
    let (machine, name) = machine_of(platform)
        .ok_or_else(|| Error::Harness(format!("no ELF machine known for {platform}")))?;
    let elf = goblin::elf::Elf::parse(bytes).map_err(|error| Error::Found {
        found: format!("{path} in {image} is not an ELF executable: {error}"),
        hint: "ENTRYPOINT should name the compiled service, and the final stage COPY the \
               binary the build stage made for this platform"
            .into(),
    })?;
    if elf.header.e_machine != machine {
        return found(
            format!(
                "{path} in {image} is a binary for {}, not {name}",
                goblin::elf::header::machine_to_str(elf.header.e_machine)
            ),
            "the Rust target must follow TARGETARCH (arm64 → aarch64-unknown-linux-musl), not the \
             machine that builds (`uname -m` in a build stage on $BUILDPLATFORM names that one)",
        );
    }
    if let Some(interpreter) = elf.interpreter {
        return found(
            format!("{path} in {image} asks for the loader {interpreter}: it is not static"),
            "build for each platform's musl target",
        );
    }
    if !elf.libraries.is_empty() {
        return found(
            format!("{path} in {image} is dynamically linked"),
            "build for each platform's musl target",
        );
    }
    Ok(name)
}
