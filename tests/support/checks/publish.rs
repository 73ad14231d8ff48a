//! Checks of a published image (step 13): the step's Dockerfile pushed with the book's
//! publish command to a registry on this machine, once per image, and read back from
//! the registry: its index and platforms, its digests rebuilt from nothing, its
//! signature, its SBOM attestation, its provenance, and a container pulled by digest.

use std::collections::BTreeSet;

use super::super::docker;
use super::super::error::{Error, Result, found};
use super::super::image::Image;
use super::super::publish::{Signer, dockerfile_place, head_commit};
use super::super::published::{Published, short_digest};
use super::super::registry::Registry;
use super::super::results::human_size;
use super::super::running::{Running, hardened, request};
use super::super::step::Step;
use super::Passed;
use super::platform::static_binary_for;
use super::supply_chain::{SBOM_STAGE, embedded_crates, read_sbom};

/// The label that names the commit an image is built from (an OCI annotation key).
pub const REVISION_LABEL: &str = "org.opencontainers.image.revision";

/// `image` pushed with `step`'s publish command (once; the later checks read the same
/// push), or why it could not be.
fn published<'a>(step: &Step, image: &'a Image) -> Result<&'a Published> {
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

/// What differs between two images of the registry: their layers, or their configs.
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
    Ok(if layers(one)? != layers(other)? {
        "their layers differ (a file's bytes or its time)".into()
    } else {
        "their configs differ (a label, a date)".into()
    })
}

/// Step 13: signed by digest with a key pair, the image verifies with the public key;
/// it does not with another key, nor by its tag once the tag names another image,
/// nor once the signature's bytes in the registry are changed.
pub fn signature_verifies(step: &Step, image: &Image) -> Result<Passed> {
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
    Ok(Some(format!(
        "verifies by digest with its key; not with another key, nor by its tag moved to an \
         unsigned image{tampered}"
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

/// Step 13: the step's SBOM, attested to the image by digest, verifies with the key
/// (and not with another), names the image as its subject, and lists every crate the
/// binary's own dependency list names.
pub fn sbom_attestation_verifies(step: &Step, image: &Image) -> Result<Passed> {
    use base64::Engine as _;
    let published = published(step, image)?;
    let by_digest = published.by_digest();
    let signer = Signer::new("cosign")?;
    let stranger = Signer::new("cosign-other")?;
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
    if !refused(stranger.verify_attestation(&by_digest))? {
        return found(
            "`cosign verify-attestation` with a key that attested nothing accepted the SBOM",
            "verification must name the key that signed the attestation",
        );
    }
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
        let envelope: serde_json::Value = serde_json::from_str(line)
            .map_err(|error| Error::Harness(format!("cosign's envelope: {error}")))?;
        let payload = base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap_or_default())
            .map_err(|error| Error::Harness(format!("the envelope's payload: {error}")))?;
        let statement: serde_json::Value = serde_json::from_slice(&payload)
            .map_err(|error| Error::Harness(format!("the in-toto statement: {error}")))?;
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
        "a CycloneDX SBOM of {} components, attested to {}: verifies with its key, not with \
         another, and lists all {} crates the binary names",
        listed.len(),
        short_digest(&published.index),
        embedded.len()
    )))
}

/// Step 13: the provenance BuildKit attached names the Dockerfile and the commit the
/// image was built from, and the image's revision label names that commit too.
pub fn provenance_names_the_source(step: &Step, image: &Image) -> Result<Passed> {
    let published = published(step, image)?;
    let head = head_commit()?;
    let (folder, file) = dockerfile_place(&image.step)?;
    let json = docker::ok(&[
        "buildx",
        "imagetools",
        "inspect",
        &published.by_digest(),
        "--format",
        "{{json .Provenance}}",
    ])?;
    let provenance: serde_json::Value = serde_json::from_str(&json)
        .map_err(|error| Error::Harness(format!("the provenance is not JSON: {error}")))?;
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
        let revision = vcs["revision"].as_str();
        if entry != Some(file.as_str()) || named_folder != Some(folder.as_str()) {
            return found(
                format!(
                    "the {platform} provenance names the Dockerfile {named_folder:?}/{entry:?}, \
                     not {folder}/{file}"
                ),
                "build from the repository root with -f naming the Dockerfile",
            );
        }
        // buildx marks a tree with changes `-dirty` when BUILDX_GIT_CHECK_DIRTY is set.
        let dirty = format!("{head}-dirty");
        if revision != Some(head.as_str()) && revision != Some(dirty.as_str()) {
            return found(
                format!("the {platform} provenance names the commit {revision:?}, not {head}"),
                "build from the git clone itself: buildx reads the commit from it",
            );
        }
    }
    let (_, digest) = published.first_platform()?;
    let config = published.config(digest)?;
    let label = config["config"]["Labels"][REVISION_LABEL]
        .as_str()
        .unwrap_or("");
    if label != head {
        return found(
            format!(
                "the image's {REVISION_LABEL} label is {label:?}, not the commit it was built from ({head})"
            ),
            "pass the commit to the build (--build-arg REVISION=…) and label the image with \
             it: a registry, a scanner or a cluster reads labels, not provenance",
        );
    }
    Ok(Some(format!(
        "{folder}/{file} at {}, in the provenance of {} platforms and the revision label",
        head.chars().take(12).collect::<String>(),
        published.platforms.len()
    )))
}

/// Step 13: pulled by digest (the local copy removed first), the image runs locked down
/// and answers PONG, and Docker says the container runs exactly that digest.
pub async fn runs_by_digest(step: &Step, image: &Image) -> Result<Passed> {
    let published = published(step, image)?;
    let by_digest = published.by_digest();
    let _ = docker::run(&["image", "rm", &published.by_tag()]);
    let pull = docker::command(&["pull", "--quiet", &by_digest]);
    docker::run_within(pull, super::super::build::PULL_LIMIT).map_err(|why| Error::Found {
        found: format!("`docker pull {by_digest}` failed: {why}"),
        hint: "push the index first; a digest names exactly one image or none".into(),
    })?;
    let result = async {
        let running = Running::try_start(hardened(request(&by_digest))).await?;
        let inspect = docker::api()?
            .inspect_container(running.id(), None)
            .await
            .map_err(|error| Error::Harness(format!("docker inspect: {error}")))?;
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
