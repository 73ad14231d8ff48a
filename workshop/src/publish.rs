//! Publishing a step's image as the book does: one multi-platform index pushed to a
//! registry, a build from nothing pushed beside it to compare digests, and cosign's
//! signature and attestation made and verified with a key pair of the run's own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::build::with_flags;
use crate::error::Harness;
use crate::error::{Error, Result, harness};
use crate::files::PrivateDir;
use crate::published::Published;
use crate::registry::{BOOK_REGISTRY, REPOSITORY, Registry};
use crate::step::Step;
use crate::{ci_cache, docker, repo_root};

/// The tag a rebuild from nothing is pushed under, beside the published one.
const REBUILT: &str = "rebuilt";
/// One cosign command against a registry on this machine takes a second or two; this
/// only catches a hang (a network it waits on).
const COSIGN_LIMIT: Duration = Duration::from_secs(120);

impl Step {
    /// The image's name in `registry`: `localhost:5050/workshop/ping:13-publish`.
    pub fn published_name(&self, registry: &str) -> String {
        format!("{registry}/{REPOSITORY}:{}", self.published_tag())
    }

    /// The tag the image is published under: its own tag's (`13-publish`).
    fn published_tag(&self) -> &str {
        self.image.rsplit_once(':').map_or("latest", |(_, tag)| tag)
    }

    /// The book's publish command: the step's build command for every platform in
    /// `platforms` at once, pushed to `registry` as one index, with the provenance of
    /// the build and the commit it is built from; the image's dates are the commit's
    /// (SOURCE_DATE_EPOCH, which buildx passes to the build). `--no-cache-filter image`:
    /// the final stage (`FROM scratch AS image`) is built again, since BuildKit matches a
    /// COPY's files by content, not by time, and a cached layer can hold another build's
    /// file times (step 12's `/ping` is step 13's, byte for byte, stamped with the time
    /// of its build); the build stage's layers are this commit's, from the cache.
    pub fn publish_command(&self, registry: &str, platforms: &[String]) -> String {
        self.publish_command_as(registry, platforms, self.published_tag())
    }

    /// The publish command, pushing under `tag`.
    fn publish_command_as(&self, registry: &str, platforms: &[String], tag: &str) -> String {
        self.publish_command_with(registry, platforms, tag, "--no-cache-filter image")
    }

    /// The publish command under `tag`, `cache` saying what it takes from the build cache.
    fn publish_command_with(
        &self,
        registry: &str,
        platforms: &[String],
        tag: &str,
        cache: &str,
    ) -> String {
        let named = self.build_command().replacen(
            &format!("-t {} ", self.image),
            &format!("-t {registry}/{REPOSITORY}:{tag} "),
            1,
        );
        let flags = format!(
            "{cache} --push --platform {} --provenance=mode=max",
            platforms.join(",")
        );
        // buildx labels the image from git: the commit (-dirty for a tree with changes)
        // and the checkout's remote, credentials stripped; no source without a remote.
        format!(
            "BUILDX_GIT_LABELS=1 BUILDX_GIT_CHECK_DIRTY=1 \
             SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) {}",
            with_flags(&named, &flags)
        )
    }

    /// The book's publish command for the registry the book runs (`localhost:5050`).
    pub fn book_publish_command(&self) -> String {
        self.publish_command(BOOK_REGISTRY, &self.facts.publish)
    }

    /// Pushes the image for `platforms` to `registry` with the publish command, and
    /// reads back what the registry holds.
    pub fn publish_to(&self, registry: Registry, platforms: &[String]) -> Result<Published> {
        let tag = self.published_tag();
        let started = Instant::now();
        let log = self.push_as(&registry, platforms, tag)?;
        Published::read(registry, tag.to_string(), log, started.elapsed())
    }

    /// Runs the publish command under `tag`, as builds are run: its log.
    fn push_as(&self, registry: &Registry, platforms: &[String], tag: &str) -> Result<String> {
        self.push_with(registry, platforms, tag, "--no-cache-filter image")
    }

    /// `push_as`, `cache` saying what the build takes from the build cache.
    fn push_with(
        &self,
        registry: &Registry,
        platforms: &[String],
        tag: &str,
        cache: &str,
    ) -> Result<String> {
        docker::ready()?;
        let command = self.publish_command_with(&registry.address, platforms, tag, cache);
        let name = format!("{}/{REPOSITORY}:{tag}", registry.address);
        // Never a push under the build command's own tag (`ping:…` is Docker Hub's).
        if !command.contains(&format!("-t {name} ")) {
            return harness(format!("`{command}` does not name {name}"));
        }
        self.run_build_command(&command, &name)
    }

    /// The same publish command run from nothing (`--no-cache`, the Dockerfile's cache
    /// mounts emptied) and pushed beside `published` under `<tag>-rebuilt`: each
    /// platform's manifest digest, and how long the build took.
    pub fn republish_from_nothing(
        &self,
        published: &Published,
        platforms: &[String],
    ) -> Result<(Vec<(String, String)>, Duration)> {
        let dockerfile = self.dockerfile_text()?;
        let forgotten =
            ci_cache::forget_the_cache_mounts_in(&dockerfile, self.cache_namespace.as_deref())?;
        // The publish just used them: none found means their records are named otherwise
        // than `forget` reads them, and a rebuild "from nothing" would have them whole.
        if forgotten == 0 && !ci_cache::cache_mount_ids(&dockerfile).is_empty() {
            return harness(
                "no cache mount of the Dockerfile was found to empty before rebuilding from \
                 nothing, though the publish just used them: BuildKit names its records \
                 otherwise than ci_cache reads them (`docker buildx du --verbose` lists them)",
            );
        }
        let rebuilt_tag = format!("{}-{REBUILT}", published.tag);
        let started = Instant::now();
        let built = self.push_with(&published.registry, platforms, &rebuilt_tag, "--no-cache");
        let took = started.elapsed();
        let _ = docker::run(&[
            "image",
            "rm",
            &format!("{}:{rebuilt_tag}", published.repository),
        ]);
        built?;
        let index = published
            .registry
            .manifest(published.path(), &rebuilt_tag)?;
        Ok((crate::published::platforms_of(&index), took))
    }
}

/// The commit the repository is at, as `git rev-parse HEAD` prints it.
pub fn head_commit() -> Result<String> {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo_root())
        .output()
        .harness("cannot run git")?;
    if !output.status.success() {
        return harness(format!(
            "`git rev-parse HEAD` failed: {}. Publish from a git clone of the workshop",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Which way the installed cosign is told to sign without a transparency log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cosign {
    /// cosign 2.6 and later (3.x): a signing config names the services, here none.
    SigningConfig,
    /// cosign 2.5 and earlier, Debian 13's package among them: `--tlog-upload=false`
    /// (they have no `signing-config` command).
    TlogFlag,
}

impl Cosign {
    /// The installed cosign's way: one with a `signing-config` command, or one without.
    pub fn installed() -> Cosign {
        let has_signing_config = Command::new("cosign")
            .args(["signing-config", "--help"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if has_signing_config {
            Cosign::SigningConfig
        } else {
            Cosign::TlogFlag
        }
    }

    /// The words that keep a signature or attestation out of a transparency log.
    fn offline(self) -> Vec<String> {
        match self {
            Cosign::SigningConfig => words(&["--signing-config", SIGNING_CONFIG]),
            Cosign::TlogFlag => words(&["--tlog-upload=false"]),
        }
    }
}

/// A cosign key pair of its own (no password: it lives only as long as this value, in
/// a private folder), and for a current cosign a signing config without a transparency
/// log or timestamp authority: what a room without internet can sign with.
pub struct Signer {
    folder: PrivateDir,
    cosign: Cosign,
}

/// The files of a signer, as the book names them.
pub const PRIVATE_KEY: &str = "cosign.key";
pub const PUBLIC_KEY: &str = "cosign.pub";
pub const SIGNING_CONFIG: &str = "signing-config.json";

impl Signer {
    /// `cosign generate-key-pair` (and `cosign signing-config create`), in a new folder.
    pub fn new(what: &str) -> Result<Signer> {
        let signer = Signer {
            folder: PrivateDir::new(what)?,
            cosign: Cosign::installed(),
        };
        for command in Signer::setup_commands(signer.cosign) {
            signer.cosign(&command)?;
        }
        Ok(signer)
    }

    /// The commands that make a key pair (and a signing config), as the book shows them.
    pub fn setup_commands(cosign: Cosign) -> Vec<Vec<String>> {
        let mut commands = vec![words(&["cosign", "generate-key-pair"])];
        if cosign == Cosign::SigningConfig {
            commands.push(words(&[
                "cosign",
                "signing-config",
                "create",
                "--out",
                SIGNING_CONFIG,
            ]));
        }
        commands
    }

    /// `cosign sign` of `reference` (by digest).
    pub fn sign_command(cosign: Cosign, reference: &str) -> Vec<String> {
        let mut command = words(&["cosign", "sign", "--key", PRIVATE_KEY]);
        command.extend(cosign.offline());
        command.extend(words(&["--allow-insecure-registry", "-y", reference]));
        command
    }

    /// `cosign verify` of `reference` with the public key.
    pub fn verify_command(reference: &str) -> Vec<String> {
        words(&[
            "cosign",
            "verify",
            "--key",
            PUBLIC_KEY,
            "--insecure-ignore-tlog=true",
            "--allow-insecure-registry",
            reference,
        ])
    }

    /// `cosign attest` of `predicate` (a CycloneDX SBOM) to `reference`.
    pub fn attest_command(cosign: Cosign, reference: &str, predicate: &str) -> Vec<String> {
        let mut command = words(&["cosign", "attest", "--key", PRIVATE_KEY]);
        command.extend(cosign.offline());
        command.extend(words(&[
            "--type",
            "cyclonedx",
            "--predicate",
            predicate,
            "--allow-insecure-registry",
            "-y",
            reference,
        ]));
        command
    }

    /// `cosign verify-attestation` of `reference`'s CycloneDX attestation.
    pub fn verify_attestation_command(reference: &str) -> Vec<String> {
        words(&[
            "cosign",
            "verify-attestation",
            "--key",
            PUBLIC_KEY,
            "--type",
            "cyclonedx",
            "--insecure-ignore-tlog=true",
            "--allow-insecure-registry",
            reference,
        ])
    }

    pub fn folder(&self) -> &Path {
        self.folder.path()
    }

    /// Signs `reference`.
    pub fn sign(&self, reference: &str) -> Result<String> {
        self.cosign(&Signer::sign_command(self.cosign, reference))
    }

    /// Verifies `reference`'s signature: what cosign printed, or why it refused.
    pub fn verify(&self, reference: &str) -> std::result::Result<String, String> {
        self.try_cosign(&Signer::verify_command(reference))
    }

    /// Attests `predicate` (a file) to `reference`.
    pub fn attest(&self, reference: &str, predicate: &Path) -> Result<String> {
        self.cosign(&Signer::attest_command(
            self.cosign,
            reference,
            &predicate.display().to_string(),
        ))
    }

    /// Verifies `reference`'s CycloneDX attestation: the envelopes cosign printed (one
    /// JSON a line), or why it refused.
    pub fn verify_attestation(&self, reference: &str) -> std::result::Result<String, String> {
        self.try_cosign(&Signer::verify_attestation_command(reference))
    }

    fn cosign(&self, command: &[String]) -> Result<String> {
        self.try_cosign(command)
            .harness_with(|| format!("`{}` failed", command.join(" ")))
    }

    /// Runs a cosign command in the signer's folder, within COSIGN_LIMIT.
    fn try_cosign(&self, command: &[String]) -> std::result::Result<String, String> {
        if docker::which("cosign").is_none() {
            return Err(
                "cosign is not installed: `sudo apt-get install cosign` (Debian 13 \
                        and later), `brew install cosign`, or a release from sigstore/cosign"
                    .into(),
            );
        }
        let mut process = Command::new(&command[0]);
        process
            .args(&command[1..])
            .current_dir(self.folder.path())
            // The key pair lives only in this private folder, for this run.
            .env("COSIGN_PASSWORD", "")
            .env("DOCKER_HOST", docker::endpoint());
        docker::run_within(process, COSIGN_LIMIT)
    }
}

/// `["a", "b"]` as owned words.
fn words(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| word.to_string()).collect()
}

/// The file a step's Dockerfile is, relative to the repository: its folder and name.
pub fn dockerfile_place(step: &Step) -> Result<(String, String)> {
    let file: PathBuf = match &step.learner_file {
        Some(file) => file.clone(),
        None => repo_root().join(step.reference_file()),
    };
    let relative = file.strip_prefix(repo_root()).map_err(|_| {
        Error::Harness(format!(
            "{} is outside the repository: the provenance names files relative to it",
            file.display()
        ))
    })?;
    let folder = relative
        .parent()
        .map(|folder| folder.display().to_string())
        .unwrap_or_default();
    let name = relative
        .file_name()
        .map(|name| name.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok((
        if folder.is_empty() {
            ".".into()
        } else {
            folder
        },
        name,
    ))
}
