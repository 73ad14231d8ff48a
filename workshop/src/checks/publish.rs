//! Checks of a published image (step 13): the step's Dockerfile pushed with the book's
//! publish command to a registry on this machine, once per image, and read back from
//! the registry: its index and platforms, its digests rebuilt from nothing, its
//! signature, its SBOM attestation, its provenance, and a container pulled by digest.

use std::collections::BTreeSet;

use super::Passed;
use super::platform::static_binary_for;
use super::supply_chain::{SBOM_STAGE, embedded_crates, read_sbom};
use crate::docker;
use crate::error::Harness;
use crate::error::{Error, Result, found};
use crate::image::Image;
use crate::publish::{Signer, dockerfile_place, head_commit};
use crate::published::{Published, short_digest};
use crate::registry::Registry;
use crate::results::human_size;
use crate::running::{Running, hardened, request};
use crate::step::Step;

/// The label that names the commit an image is built from (an OCI annotation key).
pub const REVISION_LABEL: &str = "org.opencontainers.image.revision";

/// `image` pushed with `step`'s publish command (once; the later checks read the same
/// push), or why it could not be.
fn published<'a>(step: &Step, image: &'a Image) -> Result<&'a Published> {
    for platform in &step.facts.publish {
        super::platform::not_emulated(image, platform)?;
    }
    image
        .published
        .get_or_init(|| {
            let registry = Registry::start()?;
            image.step.publish_to(registry, &step.facts.publish)
        })
        .as_ref()
        .map_err(|error| error.clone().context("the push failed"))
}

/// The service binary of the image `digest` in the registry: the path the local image's
/// ENTRYPOINT names, read from the pushed layers.
fn pushed_binary(image: &Image, published: &Published, digest: &str) -> Result<(String, Vec<u8>)> {
    let path = super::service_binary_path(image)?;
    match published.file(digest, &path)? {
        Some(bytes) => Ok((path, bytes)),
        None => found(
            format!("the pushed image {digest} holds no {path}"),
            "the image of every platform must hold the binary its ENTRYPOINT names",
        ),
    }
}

/// Step 13: the tag names one index holding an image for each platform the step
/// publishes, each saying that platform and holding a static binary for its machine.
pub fn pushes_one_multi_platform_index(step: &Step, image: &Image) -> Result<Passed> {
    let published = published(step, image)?;
    let wanted: BTreeSet<&str> = step.facts.publish.iter().map(String::as_str).collect();
    let got: BTreeSet<&str> = published
        .platforms
        .iter()
        .map(|(p, _)| p.as_str())
        .collect();
    if wanted != got {
        return found(
            format!(
                "{} names images for {got:?}, not one index for {wanted:?}",
                published.by_tag()
            ),
            "build every platform in one command (`docker build --platform a,b --push …`): \
             two pushes to one tag leave it naming the last one alone",
        );
    }
    let mut shown = Vec::new();
    for (platform, digest) in &published.platforms {
        let config = published.config(digest)?;
        let arch = platform.rsplit('/').next().unwrap_or_default();
        if config["architecture"] != arch || config["os"] != "linux" {
            return found(
                format!(
                    "the index lists {digest} as {platform}, but its config says {}/{}",
                    config["os"], config["architecture"]
                ),
                "let BuildKit write the platform: do not set it in the Dockerfile",
            );
        }
        let (path, bytes) = pushed_binary(image, published, digest)?;
        static_binary_for(
            platform,
            &format!("the pushed {platform} image"),
            &path,
            &bytes,
        )?;
        let compressed = published.compressed_size(digest)?;
        shown.push(format!("{platform} {}", human_size(compressed)));
    }
    Ok(Some(format!(
        "{} → {}: {} (compressed), each binary static for its machine",
        published.by_tag(),
        short_digest(&published.index),
        shown.join(", ")
    )))
}

/// Step 13: built again from nothing (no build cache, empty cache mounts) and pushed
/// beside it, the same commit gives every platform the same image digest.
pub fn digest_is_reproducible(step: &Step, image: &Image) -> Result<Passed> {
    let published = published(step, image)?;
    let (again, took) = image
        .step
        .republish_from_nothing(published, &step.facts.publish)?;
    for (platform, digest) in &published.platforms {
        let Some((_, rebuilt)) = again.iter().find(|(other, _)| other == platform) else {
            return found(
                format!("the build from nothing pushed no {platform} image"),
                "build every platform the step publishes",
            );
        };
        if rebuilt != digest {
            let what = differs(published, digest, rebuilt)?;
            return found(
                format!(
                    "built again from nothing, the {platform} image is {}, not the pushed {}: {what}",
                    short_digest(rebuilt),
                    short_digest(digest)
                ),
                "something the build writes into the image varies from build to build: a \
                 file's time (cp gives a file the time it ran), a date compiled in. Take \
                 every time from SOURCE_DATE_EPOCH (`touch --date=@$SOURCE_DATE_EPOCH`)",
            );
        }
    }
    let digests: Vec<String> = published
        .platforms
        .iter()
        .map(|(platform, digest)| format!("{platform} {}", short_digest(digest)))
        .collect();
    Ok(Some(format!(
        "rebuilt from nothing in {:.0} s: the same {}",
        took.as_secs_f64(),
        digests.join(", ")
    )))
}

/// What differs between two images of the registry, said so a learner can act on it:
/// each path whose entry differs in a layer (its content, time, mode or owner), with the
/// instruction that made that layer and the way out; or, when every layer is the same,
/// the config's fields that differ.
fn differs(published: &Published, one: &str, other: &str) -> Result<String> {
    let layers = |digest: &str| -> Result<Vec<String>> {
        let manifest = published.registry.manifest(published.path(), digest)?;
        Ok(manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|layer| layer["digest"].as_str().map(str::to_string))
            .collect())
    };
    if layers(one)? == layers(other)? {
        let (a, b) = (published.config(one)?, published.config(other)?);
        let fields: Vec<String> = ["created", "config", "history", "rootfs", "architecture"]
            .iter()
            .filter(|field| a[**field] != b[**field])
            .map(|field| field.to_string())
            .collect();
        return Ok(format!(
            "every layer is the same; their configs differ in {} (a label, a date: \
             SOURCE_DATE_EPOCH sets the dates)",
            fields.join(", ")
        ));
    }
    let (ours, theirs) = (
        published.layer_entries(one)?,
        published.layer_entries(other)?,
    );
    let made_by = layer_instructions(&published.config(one)?);
    Ok(crate::published::layers_differ(&ours, &theirs, &made_by))
}

/// The instruction that made each layer of an image, from its config's history (the
/// entries that made no layer left out).
fn layer_instructions(config: &serde_json::Value) -> Vec<String> {
    config["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["empty_layer"] != true)
        .map(|entry| {
            let made = entry["created_by"].as_str().unwrap_or("").trim();
            made.strip_suffix(" # buildkit").unwrap_or(made).to_string()
        })
        .collect()
}

/// Step 13's demonstration: signed by digest with a key pair, the image verifies with
/// the public key; it does not with another key, nor by its tag once the tag names
/// another image, nor once the signature's bytes in the registry are changed; and an
/// attestation made with the key does not verify with another. cosign decides all of it,
/// whatever the learner's file says: shown, not counted as a check.
pub fn signs_and_verifies_by_digest(step: &Step, image: &Image) -> Result<Passed> {
    let published = published(step, image)?;
    let by_digest = published.by_digest();
    let signer = Signer::new("cosign")?;
    let stranger = Signer::new("cosign-other")?;
    signer.sign(&by_digest)?;
    if let Err(why) = signer.verify(&by_digest) {
        return found(
            format!("`cosign verify` of the image it just signed failed: {why}"),
            "sign the index by digest, with the key pair whose public key verifies",
        );
    }
    if !refused(stranger.verify(&by_digest))? {
        return found(
            "`cosign verify` with a key that signed nothing accepted the image",
            "a signature proves a key only if verification names that key",
        );
    }
    // The tag moved to another image (the amd64 one alone): verifying the tag now checks
    // an image nobody signed.
    let (_, single) = published.first_platform()?;
    published.point_tag_at(&format!("{}@{single}", published.repository))?;
    let moved_refused = refused(signer.verify(&published.by_tag()));
    published.point_tag_at(&by_digest)?;
    if !moved_refused? {
        return found(
            "`cosign verify` of the tag accepted it after the tag was moved to an unsigned image",
            "a tag can be moved by anyone who can push: sign, verify and deploy by digest",
        );
    }
    let tampered = if published.registry.is_ours() {
        let bundle = signature_bundle(published)?;
        published.registry.tamper(&bundle)?;
        let refused_it = refused(signer.verify(&by_digest));
        published.registry.tamper(&bundle)?;
        if !refused_it? {
            return found(
                "`cosign verify` accepted a signature whose stored bytes were changed",
                "cosign must refuse a signature that is not the one that was pushed",
            );
        }
        ", nor with its signature's bytes changed"
    } else {
        " (PING_REGISTRY names a registry this check cannot tamper with: not tried)"
    };
    if let Err(why) = signer.verify(&by_digest) {
        return Err(Error::Harness(format!(
            "the signature no longer verifies after the check put it back: {why}"
        )));
    }
    // An attestation (a minimal CycloneDX document): with another key, it does not verify.
    let predicate = signer.folder().join("empty.cdx.json");
    std::fs::write(
        &predicate,
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[]}"#,
    )
    .harness("writing an attestation's predicate")?;
    signer.attest(&by_digest, &predicate)?;
    if !refused(stranger.verify_attestation(&by_digest))? {
        return found(
            "`cosign verify-attestation` with a key that attested nothing accepted it",
            "verification must name the key that signed the attestation",
        );
    }
    Ok(Some(format!(
        "verifies by digest with its key; not with another key, nor by its tag moved to an \
         unsigned image{tampered}; an attestation does not verify with another key"
    )))
}

/// Whether cosign refused a verification for what it checks (a signature, a digest):
/// a refusal for another reason (no registry, no network) is the check's own failure,
/// not a pass.
fn refused(verified: std::result::Result<String, String>) -> Result<bool> {
    match verified {
        Ok(_) => Ok(false),
        Err(why)
            if ["signature", "digest"]
                .iter()
                .any(|word| why.contains(word)) =>
        {
            Ok(true)
        }
        Err(why) => Err(Error::Harness(format!(
            "cosign failed for a reason other than the signature: {why}"
        ))),
    }
}

/// The digest of the bundle that holds the image's cosign signature, found through the
/// registry's referrers (the `sha256-<digest>` tag cosign keeps for registries without
/// the referrers API).
fn signature_bundle(published: &Published) -> Result<String> {
    let referrers = published.registry.manifest(
        published.path(),
        &published.index.replacen("sha256:", "sha256-", 1),
    )?;
    for referrer in referrers["manifests"].as_array().into_iter().flatten() {
        let Some(digest) = referrer["digest"].as_str() else {
            continue;
        };
        let manifest = published.registry.manifest(published.path(), digest)?;
        let kind = manifest["annotations"]["dev.sigstore.bundle.predicateType"].as_str();
        if kind == Some("https://sigstore.dev/cosign/sign/v1")
            && let Some(bundle) = manifest["layers"][0]["digest"].as_str()
        {
            return Ok(bundle.to_string());
        }
    }
    Err(Error::Harness(format!(
        "no cosign signature among the referrers of {}",
        published.by_digest()
    )))
}

/// Step 13: the SBOM the step's Dockerfile exports, attested to the image by digest and
/// read back with the key, names the index as its subject and lists every crate the
/// binary's own dependency list names. (That cosign refuses another key is shown by
/// `signs_and_verifies_by_digest`: it is cosign's doing, not the Dockerfile's.)
pub fn sbom_attestation_verifies(step: &Step, image: &Image) -> Result<Passed> {
    use base64::Engine as _;
    let published = published(step, image)?;
    let by_digest = published.by_digest();
    let signer = Signer::new("cosign")?;
    let sbom_dir = signer.folder().join(SBOM_STAGE);
    image
        .step
        .export_stage(Some(SBOM_STAGE), &sbom_dir)
        .map_err(|error| error.context("no SBOM to attest"))?;
    let sbom = std::fs::read_dir(&sbom_dir)
        .ok()
        .and_then(|mut entries| entries.next())
        .and_then(|entry| entry.ok())
        .map(|entry| entry.path())
        .ok_or_else(|| Error::Found {
            found: format!("the {SBOM_STAGE} stage exported no file"),
            hint: "the sbom stage holds the CycloneDX JSON file alone".into(),
        })?;
    signer.attest(&by_digest, &sbom)?;
    let envelopes = signer
        .verify_attestation(&by_digest)
        .map_err(|why| Error::Found {
            found: format!("`cosign verify-attestation` failed: {why}"),
            hint: "attest the SBOM to the index by digest, with the key that verifies".into(),
        })?;
    let mut listed = BTreeSet::new();
    let mut subjects = Vec::new();
    for line in envelopes
        .lines()
        .filter(|line| line.trim_start().starts_with('{'))
    {
        let envelope: serde_json::Value =
            serde_json::from_str(line).harness("cosign's envelope")?;
        let payload = base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap_or_default())
            .harness("the envelope's payload")?;
        let statement: serde_json::Value =
            serde_json::from_slice(&payload).harness("the in-toto statement")?;
        for subject in statement["subject"].as_array().into_iter().flatten() {
            subjects.push(format!(
                "sha256:{}",
                subject["digest"]["sha256"].as_str().unwrap_or("")
            ));
        }
        let folder = signer.folder().join("attested");
        std::fs::create_dir_all(&folder).map_err(|error| Error::Harness(error.to_string()))?;
        std::fs::write(folder.join("bom.json"), statement["predicate"].to_string())
            .map_err(|error| Error::Harness(error.to_string()))?;
        listed.extend(read_sbom(&folder)?);
    }
    if !subjects.contains(&published.index) {
        return found(
            format!(
                "the attestation's subjects are {subjects:?}, not the index {}",
                published.index
            ),
            "attest by digest: the statement then names exactly the image it speaks of",
        );
    }
    let (_, amd64) = published.first_platform()?;
    let (path, bytes) = pushed_binary(image, published, amd64)?;
    let embedded = embedded_crates(&bytes).map_err(|error| error.context(&path))?;
    let missing: Vec<&String> = embedded
        .iter()
        .filter(|name| !name.starts_with("ping "))
        .filter(|name| !listed.contains(*name))
        .collect();
    if !missing.is_empty() {
        return found(
            format!(
                "the attested SBOM does not list {} of the crates {path} says it is built \
                 from: {missing:?}",
                missing.len()
            ),
            "attest the SBOM of this build: exported from the same Dockerfile and Cargo.lock",
        );
    }
    Ok(Some(format!(
        "a CycloneDX SBOM of {} components, attested to {} and read back with its key, lists \
         all {} crates the binary names",
        listed.len(),
        short_digest(&published.index),
        embedded.len()
    )))
}

/// Step 13's demonstration: the provenance BuildKit attaches and the labels buildx adds
/// (`BUILDX_GIT_LABELS=1 BUILDX_GIT_CHECK_DIRTY=1` in the publish command) name the
/// Dockerfile, the commit (with `-dirty` when the tree holds anything the commit does
/// not: buildx counts ignored files too, target/ among them) and the checkout's public
/// remote, or no source without one. The command decides them, not the Dockerfile.
pub fn names_its_source_and_commit(step: &Step, image: &Image) -> Result<Passed> {
    let published = published(step, image)?;
    let head = head_commit()?;
    let revision = if tree_has_changes()? {
        format!("{head}-dirty")
    } else {
        head.clone()
    };
    let (folder, file) = dockerfile_place(&image.step)?;
    let json = docker::ok(&[
        "buildx",
        "imagetools",
        "inspect",
        &published.by_digest(),
        "--format",
        "{{json .Provenance}}",
    ])?;
    let provenance: serde_json::Value =
        serde_json::from_str(&json).harness("the provenance is not JSON")?;
    for (platform, _) in &published.platforms {
        let slsa = &provenance[platform]["SLSA"];
        if slsa.is_null() {
            return found(
                format!("the index has no provenance attestation for {platform}"),
                "build with --provenance=mode=max: BuildKit attaches it to every platform",
            );
        }
        let entry = slsa["invocation"]["configSource"]["entryPoint"].as_str();
        let vcs = &slsa["metadata"]["https://mobyproject.org/buildkit@v1#metadata"]["vcs"];
        let named_folder = vcs["localdir:dockerfile"].as_str();
        let named = vcs["revision"].as_str();
        if entry != Some(file.as_str()) || named_folder != Some(folder.as_str()) {
            return found(
                format!(
                    "the {platform} provenance names the Dockerfile {named_folder:?}/{entry:?}, \
                     not {folder}/{file}"
                ),
                "build from the repository root with -f naming the Dockerfile",
            );
        }
        if named != Some(revision.as_str()) {
            return found(
                format!("the {platform} provenance names the commit {named:?}, not {revision}"),
                "publish from the git clone itself, with BUILDX_GIT_CHECK_DIRTY=1: buildx \
                 reads the commit, and whether the tree holds more, from it",
            );
        }
    }
    let (_, digest) = published.first_platform()?;
    let config = published.config(digest)?;
    let labels = &config["config"]["Labels"];
    let label = labels[REVISION_LABEL].as_str().unwrap_or("");
    if label != revision {
        return found(
            format!(
                "the image's {REVISION_LABEL} label is {label:?}, not the commit it was built \
                 from ({revision})"
            ),
            "publish with BUILDX_GIT_LABELS=1 BUILDX_GIT_CHECK_DIRTY=1: buildx labels the \
             image with the commit, and -dirty for a tree with changes",
        );
    }
    let source = super::source::source_verdict(
        labels[super::source::SOURCE_LABEL].as_str(),
        super::source::checkout_remote(crate::repo_root()).as_deref(),
        true,
    )?;
    Ok(Some(format!(
        "{folder}/{file} at {revision}, in the provenance of {} platforms and the revision \
         label; {source}",
        published.platforms.len()
    )))
}

/// Whether the checkout holds anything its commit does not, as buildx sees it
/// (`git status --porcelain --ignored`: ignored files count).
fn tree_has_changes() -> Result<bool> {
    let output = std::process::Command::new("git")
        .args(["status", "--porcelain", "--ignored"])
        .current_dir(crate::repo_root())
        .output()
        .harness("cannot run git status")?;
    Ok(!output.stdout.is_empty())
}

/// Step 13's demonstration: pulled by digest (the local copy removed first), the image runs locked down
/// and answers PONG, and Docker says the container runs exactly that digest.
pub async fn runs_by_digest(step: &Step, image: &Image) -> Result<Passed> {
    let published = published(step, image)?;
    let by_digest = published.by_digest();
    let _ = docker::run(&["image", "rm", &published.by_tag()]);
    let pull = docker::command(&["pull", "--quiet", &by_digest]);
    docker::run_within(pull, crate::build::PULL_LIMIT).map_err(|why| Error::Found {
        found: format!("`docker pull {by_digest}` failed: {why}"),
        hint: "push the index first; a digest names exactly one image or none".into(),
    })?;
    let result = async {
        let running = Running::try_start(hardened(request(&by_digest))).await?;
        let inspect = docker::api()?
            .inspect_container(running.id(), None)
            .await
            .harness("docker inspect")?;
        // What Docker resolved the reference to, not the words it was given: the image
        // the container runs must be the one the registry names by that digest.
        let runs = inspect.image.unwrap_or_default();
        let digests = docker::inspect_image(&runs)?.repo_digests.unwrap_or_default();
        if !digests.contains(&by_digest) {
            return found(
                format!("the container runs the image {runs}, which Docker knows as {digests:?}, not {by_digest}"),
                "run the image by its digest: `docker run … NAME@sha256:…`",
            );
        }
        Ok(Some(format!(
            "pulled by digest, PONG locked down in {:.0} ms",
            running.answered_after.as_secs_f64() * 1000.0
        )))
    }
    .await;
    let _ = docker::run(&["image", "rm", &by_digest]);
    result
}
