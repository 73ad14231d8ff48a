//! The commands a chapter shows (build, run, other platforms, export, scan, publish),
//! and those of the learner, the CI cache and the comparison with the Go service.

use std::fmt::Write as _;

use super::shell::shell_line;
use crate::build::with_flags;
use crate::check::Check;
use crate::checks::{ARM64, BOTH, IMAGE_FILES, scan_command};
use crate::ci_cache;
use crate::contenders::Contender;
use crate::error::Result;
use crate::hardening::HARDENED_FLAGS;
use crate::publish::{Cosign, Signer};
use crate::registry::{BOOK_REGISTRY, DIGEST_FORMAT};
use crate::step::Step;
use crate::tool::{CHECK, COMPARE, DOCTOR, HINT, MD_HEADER, PROGRESS, RESET, SOLUTION, WATCH};

/// The two builds of a CI cache, the cargo-chef Dockerfile's: the first run exports it,
/// the next run, on a fresh runner that restored the folder, imports it.
pub(super) fn ci_cache_commands() -> Result<String> {
    let build = ci_cache::chef()?.build_command();
    let folder = std::path::Path::new("ci-cache");
    let with = |flags: String| with_flags(&build, &flags);
    Ok(format!(
        "{MD_HEADER}```sh\n# a CI run: build, export every stage's layers to a folder CI keeps\n{}\n\
         # the next run, on a fresh runner that restored the folder: build from it\n{}\n```\n",
        shell_line(&with(ci_cache::export_to(folder))),
        shell_line(&with(ci_cache::import_from(folder))),
    ))
}

/// The commands that build the Go images and compare them with ours.
pub(super) fn compare_commands() -> Result<String> {
    let mut out =
        format!("{MD_HEADER}```sh\n# the article's service, as written and in release mode\n");
    let go = Contender::go_images()?;
    for contender in &go {
        let _ = writeln!(out, "{}", shell_line(&contender.build_command()));
    }
    if let Some(first) = go.first() {
        let _ = writeln!(
            out,
            "docker run --rm -p 8080:8080 {}   # then: curl localhost:8080/ping",
            first.tag
        );
    }
    let _ = writeln!(
        out,
        "# all three images in one run: sizes, starts, memory, stop, load\n{COMPARE}\n```"
    );
    Ok(out)
}

pub(super) fn commands(step: &Step) -> String {
    let tag = &step.image;
    let hardened = if step.facts.hardened {
        let run = format!(
            "docker run --rm -p 8080:8080 {} {tag}",
            HARDENED_FLAGS.join(" ")
        );
        format!(
            "# or locked down, as production should run it\n{}\n",
            shell_line(&run)
        )
    } else {
        String::new()
    };
    let platforms: String = step
        .facts
        .platforms
        .iter()
        .map(|platform| {
            let image = step.image_for(Some(platform));
            format!(
                "# for {platform}: the same Dockerfile; it runs under emulation\n{}\n{}\n",
                shell_line(&step.build_command_for(Some(platform))),
                shell_line(&format!("docker run --rm -p 8080:8080 {image}"))
            )
        })
        .collect();
    let multi = if step
        .facts
        .checks
        .contains(&Check::BuildsOneMultiPlatformImage)
    {
        let platforms = BOTH.join(",");
        let image = step.image_for(Some(&platforms));
        format!(
            "# both platforms under one tag (the containerd image store)\n{}\n{}\n{}\n",
            shell_line(&step.build_command_for(Some(&platforms))),
            shell_line(&format!(
                "docker image inspect --platform {ARM64} --format '{{{{.Architecture}}}}' {image}"
            )),
            shell_line(&format!(
                "docker run --rm -p 8080:8080 --platform {ARM64} {image}"
            ))
        )
    } else {
        String::new()
    };
    let exports: String = step
        .facts
        .exports
        .iter()
        .map(|stage| {
            format!(
                "# export the {stage} stage's files into ./{stage}/\n{}\n",
                shell_line(&step.export_command(Some(stage), stage))
            )
        })
        .collect();
    let scan = if step.facts.checks.contains(&Check::ScannersSeeItsCrates) {
        let binary = format!("{IMAGE_FILES}/ping");
        format!(
            "# scan the binary: the image's files into ./{IMAGE_FILES}/, then cargo audit\n{}\n\
             # with RustSec's advisories, fetched (cargo install cargo-audit --locked)\n\
             cargo audit bin {binary}\n\
             # as the check scans it: a database of its own, nothing fetched\n{}\n",
            shell_line(&step.export_command(None, IMAGE_FILES)),
            shell_line(&scan_command("advisory-db", &binary).join(" ")),
        )
    } else {
        String::new()
    };
    let publish = if step.facts.publish.is_empty() {
        String::new()
    } else {
        publish_commands(step)
    };
    format!(
        "{MD_HEADER}```sh\n# build (from the repository root)\n{build}\n# run\n{run}\n{hardened}\
         # in a second terminal\ncurl http://localhost:8080/ping\n{platforms}{multi}{exports}{scan}{publish}# check the step\ncargo test --test {test}\n```\n",
        build = shell_line(&step.build_command()),
        run = shell_line(&format!("docker run --rm -p 8080:8080 {tag}")),
        test = step.test_name(),
    )
}

/// Publishing: a registry, the push, what it holds, and the image by digest. The
/// commands the publish checks run, with the book's registry in place of the run's own.
fn publish_commands(step: &Step) -> String {
    let name = step.published_name(BOOK_REGISTRY);
    format!(
        "# a registry on this machine (the tests start Debian's docker-registry)\n\
         docker run -d --name registry -p 127.0.0.1:5050:5000 registry:3\n\
         # publish: both platforms, one index, provenance; the dates the commit's\n{push}\n\
         # what the tag names: the index, each platform's image, their attestations\n\
         docker buildx imagetools inspect {name}\n{by_digest}",
        push = shell_line(&step.book_publish_command()),
        by_digest = image_by_digest(step),
    )
}

/// `$image`: the pushed index, by its digest.
fn image_by_digest(step: &Step) -> String {
    let name = step.published_name(BOOK_REGISTRY);
    let repository = name
        .rsplit_once(':')
        .map_or(name.as_str(), |(repository, _)| repository);
    format!(
        "# from here on, the image by its digest\n\
         digest=$(docker buildx imagetools inspect \\\n    {name} \\\n    --format '{DIGEST_FORMAT}')\n\
         image={repository}@$digest\n"
    )
}

/// What the tools do with the published image (*Sign it, trace it, run it*): the
/// provenance, cosign's signature and attestation by digest, a run by digest, the
/// cluster. The commands the demonstrations run, with `$image` the book's.
pub(super) fn trust_commands(step: &Step) -> String {
    let line = |words: Vec<String>| shell_line(&words.join(" "));
    let setup: Vec<String> = Signer::setup_commands(Cosign::SigningConfig)
        .into_iter()
        .map(line)
        .collect();
    let run = format!(
        "docker run --rm -p 8080:8080 {} $image",
        HARDENED_FLAGS.join(" ")
    );
    format!(
        "{MD_HEADER}```sh\n{by_digest}\
         # the provenance BuildKit attached: the Dockerfile and the commit\n\
         docker buildx imagetools inspect $image --format '{{{{json .Provenance}}}}'\n\
         # a key pair, and a signing config without a transparency log\n{setup}\n\
         # sign the index by digest, then verify\n{sign}\n{verify}\n\
         # attest the SBOM (./sbom/, exported in chapter 11's way), then verify\n{attest}\n{verify_attestation}\n\
         # run it by digest, locked down\n{run}\n\
         # on a cluster: the manifest of deploy/, the image by digest\n\
         IMAGE=$image envsubst < {manifest} | kubectl apply -f -\n```\n\n\
         With cosign 2.5 or older (Debian 13's package has 2.5), which has no `signing-config` \
         command, the key pair is all the setup, and `--tlog-upload=false` keeps the signature \
         and the attestation out of a transparency log:\n\n```sh\n{old_sign}\n{old_attest}\n```\n",
        by_digest = image_by_digest(step),
        setup = setup.join("\n"),
        sign = line(Signer::sign_command(Cosign::SigningConfig, "$image")),
        verify = line(Signer::verify_command("$image")),
        attest = line(Signer::attest_command(
            Cosign::SigningConfig,
            "$image",
            "sbom/ping.cdx.json"
        )),
        verify_attestation = line(Signer::verify_attestation_command("$image")),
        run = shell_line(&run),
        manifest = crate::kubernetes::MANIFEST,
        old_sign = line(Signer::sign_command(Cosign::TlogFlag, "$image")),
        old_attest = line(Signer::attest_command(
            Cosign::TlogFlag,
            "$image",
            "sbom/ping.cdx.json"
        )),
    )
}

/// The learner's commands, for *Before you start* and the cheat sheet.
pub(super) fn learner_commands() -> String {
    format!(
        "{MD_HEADER}```sh\n# is this machine ready? every ✗ line says what to do\n{DOCTOR}\n\
         # run step 05's checks on your yours/05-dependency-cache/Dockerfile\n{CHECK} 05\n\
         # the same checks on a file anywhere\n{CHECK} 05 path/to/Dockerfile\n\
         # check again on every save (Ctrl-C stops); alone, on the step you are at\n\
         {WATCH} 05\ncargo workshop\n\
         # the next hint, the first at the idea, the last at the instruction\n{HINT} 05\n\
         # step 05's starting files back (yours are kept beside them)\n{RESET} 05\n\
         # the reference and how yours differs, once yours passes\n{SOLUTION} 05\n\
         # which of your steps pass, what is next, what it needs, how long is left\n{PROGRESS}\n```\n"
    )
}
