//! Checks that build the image for another platform (arm64) and run it there.

use super::super::error::{Error, Result, found};
use super::super::image::Image;
use super::super::running::{self, Running};
use super::Passed;

/// The platform the checks build for besides the machine's own.
pub const ARM64: &str = "linux/arm64";

/// The same Dockerfile built for arm64, with what to think about when it fails.
fn build_arm64(image: &Image) -> Result<Image> {
    image
        .step
        .try_build_for(ARM64)
        .map_err(|error| Error::Found {
            found: format!("the build for {ARM64} failed: {}", error.found()),
            hint: "build where you are and compile for the target: FROM --platform=$BUILDPLATFORM \
                   for the build stage, and a Rust target chosen from ARG TARGETARCH"
                .into(),
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
    let elf = goblin::elf::Elf::parse(&bytes).map_err(|error| Error::Found {
        found: format!("{path} in the arm64 image is not an ELF binary: {error}"),
        hint: "ENTRYPOINT should name the compiled service".into(),
    })?;
    let machine = goblin::elf::header::machine_to_str(elf.header.e_machine);
    if elf.header.e_machine != goblin::elf::header::EM_AARCH64 {
        return found(
            format!("{path} in the image built for {ARM64} is a binary for {machine}, not AArch64"),
            "the Rust target must follow TARGETARCH (arm64 → aarch64-unknown-linux-musl), not the \
             machine that builds (`uname -m` in a build stage on $BUILDPLATFORM names that one)",
        );
    }
    if elf.interpreter.is_some() || !elf.libraries.is_empty() {
        return found(
            format!("{path} in the arm64 image is dynamically linked"),
            "build for the musl target and link with rust-lld: the aarch64 binary must be static",
        );
    }
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
