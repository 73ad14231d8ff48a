//! An image pushed to a registry, read back: the index a tag names, each platform's
//! image, its config, layers and files, as the registry serves them.

use std::io::Read;
use std::time::Duration;

use crate::docker;
use crate::error::Harness;
use crate::error::{Error, Result};
use crate::registry::{REPOSITORY, Registry, digest_of};

/// A multi-platform image pushed to a registry: its index, and the image of each platform.
pub struct Published {
    pub registry: Registry,
    /// `127.0.0.1:PORT/workshop/ping`
    pub repository: String,
    /// The tag pushed: `13-publish`.
    pub tag: String,
    /// The index's digest: what a deployment pins.
    pub index: String,
    /// Each platform's image (`linux/amd64`) and its manifest's digest; not the
    /// attestation manifests.
    pub platforms: Vec<(String, String)>,
    /// The build log of the push.
    pub log: String,
    pub took: Duration,
}

impl Published {
    /// `127.0.0.1:PORT/workshop/ping@sha256:…`: the image by digest.
    pub fn by_digest(&self) -> String {
        format!("{}@{}", self.repository, self.index)
    }

    /// `127.0.0.1:PORT/workshop/ping:13-publish`: the image by tag.
    pub fn by_tag(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// The first platform's image (amd64, as BuildKit orders them) and its digest.
    pub fn first_platform(&self) -> Result<&(String, String)> {
        self.platforms
            .first()
            .ok_or_else(|| Error::Harness(format!("{} lists no image", self.by_tag())))
    }

    /// Moves the tag to `source` (an image by digest), in the registry alone:
    /// `docker buildx imagetools create -t TAG SOURCE`.
    pub fn point_tag_at(&self, source: &str) -> Result<()> {
        docker::ok(&[
            "buildx",
            "imagetools",
            "create",
            "-t",
            &self.by_tag(),
            source,
        ])
        .map(drop)
    }

    /// The repository's path inside the registry: `workshop/ping`.
    pub fn path(&self) -> &str {
        REPOSITORY
    }

    /// Reads what `tag` names back from the registry: the index and its platforms.
    pub fn read(registry: Registry, tag: String, log: String, took: Duration) -> Result<Published> {
        let repository = format!("{}/{REPOSITORY}", registry.address);
        let index = registry.manifest(REPOSITORY, &tag)?;
        let digest = digest_of(&registry, REPOSITORY, &tag)?;
        let platforms = platforms_of(&index);
        Ok(Published {
            registry,
            repository,
            tag,
            index: digest,
            platforms,
            log,
            took,
        })
    }

    /// The config of the image for `platform`, as JSON.
    pub fn config(&self, digest: &str) -> Result<serde_json::Value> {
        let manifest = self.registry.manifest(self.path(), digest)?;
        let config = manifest["config"]["digest"]
            .as_str()
            .ok_or_else(|| Error::Harness(format!("manifest {digest} has no config")))?;
        let bytes = self.registry.blob(self.path(), config)?;
        serde_json::from_slice(&bytes).harness_with(|| format!("config {config}"))
    }

    /// The compressed size of the image `digest`: its config and layers, as pushed.
    pub fn compressed_size(&self, digest: &str) -> Result<u64> {
        let manifest = self.registry.manifest(self.path(), digest)?;
        let layers: u64 = manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|layer| layer["size"].as_u64())
            .sum();
        Ok(layers + manifest["config"]["size"].as_u64().unwrap_or(0))
    }

    /// The layers (gzip tar) of the image `digest`, uncompressed, in order.
    pub fn layers(&self, digest: &str) -> Result<Vec<Vec<u8>>> {
        let manifest = self.registry.manifest(self.path(), digest)?;
        let mut layers = Vec::new();
        for layer in manifest["layers"].as_array().into_iter().flatten() {
            let Some(blob) = layer["digest"].as_str() else {
                continue;
            };
            let bytes = self.registry.blob(self.path(), blob)?;
            let mut unpacked = Vec::new();
            flate2::read::GzDecoder::new(bytes.as_slice())
                .read_to_end(&mut unpacked)
                .harness_with(|| format!("layer {blob}"))?;
            layers.push(unpacked);
        }
        Ok(layers)
    }

    /// The bytes of the file at `path` in the image `digest`, from its layers (the last
    /// layer that holds it wins, as in the container's file system).
    pub fn file(&self, digest: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let wanted = path.trim_start_matches('/');
        let mut found = None;
        for layer in self.layers(digest)? {
            let mut archive = tar::Archive::new(layer.as_slice());
            let entries = archive
                .entries()
                .harness_with(|| format!("a layer of {digest}"))?;
            for entry in entries.flatten() {
                let name = entry
                    .path()
                    .map(|name| name.to_string_lossy().trim_start_matches("./").to_string())
                    .unwrap_or_default();
                if name == wanted {
                    let mut entry = entry;
                    let mut bytes = Vec::new();
                    entry
                        .read_to_end(&mut bytes)
                        .map_err(|error| Error::Harness(error.to_string()))?;
                    found = Some(bytes);
                }
            }
        }
        Ok(found)
    }
}

/// One entry of a layer's tar: what a digest is made of besides the bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct TarEntry {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    /// FNV-1a of the content, to tell two contents apart.
    pub content: u64,
    pub size: u64,
}

impl Published {
    /// The entries of each layer of the image `digest`, by path, in layer order.
    pub fn layer_entries(&self, digest: &str) -> Result<Vec<Entries>> {
        self.layers(digest)?
            .iter()
            .map(|layer| {
                tar_entries(layer).map_err(|error| error.context(&format!("a layer of {digest}")))
            })
            .collect()
    }
}

/// A layer's entries, by path (`/ping`).
pub type Entries = std::collections::BTreeMap<String, TarEntry>;

/// The entries of one layer (an uncompressed tar), by path.
pub fn tar_entries(layer: &[u8]) -> Result<Entries> {
    let mut entries = Entries::new();
    let mut archive = tar::Archive::new(layer);
    for entry in archive
        .entries()
        .harness("reading a layer's tar")?
        .flatten()
    {
        let mut entry = entry;
        let header = entry.header().clone();
        let name = entry
            .path()
            .map(|name| format!("/{}", name.to_string_lossy().trim_start_matches("./")))
            .unwrap_or_default();
        let mut bytes = Vec::new();
        let _ = entry.read_to_end(&mut bytes);
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in &bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x100_0000_01b3);
        }
        entries.insert(
            name,
            TarEntry {
                mode: header.mode().unwrap_or(0),
                uid: header.uid().unwrap_or(0),
                gid: header.gid().unwrap_or(0),
                mtime: header.mtime().unwrap_or(0),
                content: hash,
                size: bytes.len() as u64,
            },
        );
    }
    Ok(entries)
}

/// What differs between the layers of two builds of one image, said so a learner can
/// act on it: each path whose entry differs (its content, time, mode or owner, or that
/// only one build has it), with the instruction that made its layer (`made_by`, the
/// first build's, in layer order), and the way out. At most five paths are named.
pub fn layers_differ(ours: &[Entries], theirs: &[Entries], made_by: &[String]) -> String {
    let mut said = Vec::new();
    for (at, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let by = made_by.get(at).map_or(String::new(), |instruction| {
            format!(", made by `{instruction}`")
        });
        for (path, entry) in a {
            let what = match b.get(path) {
                None => vec!["only in the pushed image".to_string()],
                Some(again) if again == entry => continue,
                Some(again) => {
                    let mut what = Vec::new();
                    if again.content != entry.content {
                        what.push(format!(
                            "content ({} bytes, {} rebuilt)",
                            entry.size, again.size
                        ));
                    }
                    if again.mtime != entry.mtime {
                        what.push(format!(
                            "time ({} pushed, {} rebuilt)",
                            entry.mtime, again.mtime
                        ));
                    }
                    if again.mode != entry.mode {
                        what.push(format!("mode ({:o}, {:o} rebuilt)", entry.mode, again.mode));
                    }
                    if (again.uid, again.gid) != (entry.uid, entry.gid) {
                        what.push(format!(
                            "owner ({}:{}, {}:{} rebuilt)",
                            entry.uid, entry.gid, again.uid, again.gid
                        ));
                    }
                    what
                }
            };
            said.push(format!("{path}: {}{by}", what.join(", ")));
        }
        for path in b.keys().filter(|path| !a.contains_key(*path)) {
            said.push(format!("{path}: only in the rebuilt image{by}"));
        }
    }
    if ours.len() != theirs.len() {
        said.push(format!(
            "the pushed image has {} layers, the rebuilt one {}",
            ours.len(),
            theirs.len()
        ));
    }
    let way_out = if said.iter().any(|line| line.contains("time (")) {
        "a file's time is the time the build wrote it: set it from SOURCE_DATE_EPOCH \
         (`touch --date=@$SOURCE_DATE_EPOCH`) in the stage that makes it"
    } else if said.iter().any(|line| line.contains("content (")) {
        "the bytes differ: something the build writes is not a function of its inputs (a \
         date or a path compiled in, a random order); SOURCE_DATE_EPOCH covers dates"
    } else if said
        .iter()
        .any(|line| line.contains("mode (") || line.contains("owner ("))
    {
        "set modes and owners in the build (COPY --chmod, --chown), not from the machine"
    } else {
        "the two builds made different files: does a RUN depend on something outside the \
         build context (the network, the date)?"
    };
    let more = said.len().saturating_sub(5);
    said.truncate(5);
    let more = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    format!("their layers differ: {}{more}. {way_out}", said.join("; "))
}

impl Drop for Published {
    fn drop(&mut self) {
        // The push also named the image in the local store: nothing piles up.
        let _ = docker::run(&["image", "rm", &self.by_tag()]);
    }
}

/// `sha256:0123456789ab`: the first twelve hex digits, enough to tell digests apart.
pub fn short_digest(digest: &str) -> String {
    digest.chars().take("sha256:".len() + 12).collect()
}

/// The platform images of an index (`linux/amd64`, digest), attestation manifests left out.
pub fn platforms_of(index: &serde_json::Value) -> Vec<(String, String)> {
    index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|manifest| manifest["annotations"]["vnd.docker.reference.type"].is_null())
        .filter_map(|manifest| {
            let platform = &manifest["platform"];
            let name = format!(
                "{}/{}",
                platform["os"].as_str()?,
                platform["architecture"].as_str()?
            );
            Some((name, manifest["digest"].as_str()?.to_string()))
        })
        .collect()
}
