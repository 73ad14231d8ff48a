//! An image's size, read from its layers: the same figure on every engine and image
//! store. `docker image inspect`'s `.Size` is not: the classic store reports the
//! unpacked size, the containerd store the compressed one (Engine 28.5–29.7) or both
//! added up (later). The layers themselves come from `docker save`, which writes each
//! one as the store keeps it: an uncompressed tar (classic) or gzip (containerd).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use crate::docker;
use crate::error::{Error, Result};

/// An image's size, both ways the workshop shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// The sum of the layers' uncompressed sizes (each layer tar's length): what the
    /// image takes once unpacked, and what the budgets and the book mean by its size.
    pub unpacked: u64,
    /// The same layers gzip-compressed at the default level, as a push sends them;
    /// None unless asked for (it costs a compression of every layer).
    pub compressed: Option<u64>,
    /// How many layers.
    pub layers: usize,
}

/// Reads `image`'s layers from `docker save`; `compressed` also compresses each one.
pub fn sizes(image: &str, compressed: bool) -> Result<Sizes> {
    sizes_on(None, image, compressed)
}

/// `sizes`, of the engine at `host` (a `DOCKER_HOST` value) when one is given.
pub fn sizes_on(host: Option<&str>, image: &str, compressed: bool) -> Result<Sizes> {
    let mut command = docker::command(&["save", image]);
    if let Some(host) = host {
        command.env("DOCKER_HOST", host);
    }
    let what = format!("docker save {image}");
    let archive = docker::read_output(&what, command, |stdout| read_archive(stdout, compressed))?;
    archive
        .sizes()
        .map_err(|why| Error::Harness(format!("`{what}`: {why}")))
}

/// What one blob of the archive is.
#[derive(Debug, Clone, Copy)]
struct Blob {
    unpacked: u64,
    compressed: Option<u64>,
}

/// The blobs of a `docker save` archive that are layers, and the layer list of its
/// `manifest.json` (both stores write one).
#[derive(Debug, Default)]
struct Archive {
    layers: BTreeMap<String, Blob>,
    manifest: Option<Vec<String>>,
}

impl Archive {
    fn sizes(&self) -> std::result::Result<Sizes, String> {
        let names: Vec<&String> = match &self.manifest {
            Some(names) => names.iter().collect(),
            None => self.layers.keys().collect(),
        };
        let mut sizes = Sizes {
            unpacked: 0,
            compressed: Some(0),
            layers: names.len(),
        };
        for name in names {
            let blob = self
                .layers
                .get(name.as_str())
                .ok_or_else(|| format!("manifest.json names layer {name}, not in the archive"))?;
            sizes.unpacked += blob.unpacked;
            sizes.compressed = sizes.compressed.zip(blob.compressed).map(|(a, b)| a + b);
        }
        Ok(sizes)
    }
}

fn read_archive(reader: impl Read, compress: bool) -> io::Result<Archive> {
    let mut archive = Archive::default();
    for entry in tar::Archive::new(reader).entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path()?.display().to_string();
        if name == "manifest.json" {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            archive.manifest = Some(manifest_layers(&text)?);
        } else if let Some(blob) = layer_blob(&mut entry, compress)? {
            archive.layers.insert(name, blob);
        }
    }
    Ok(archive)
}

/// The layer paths of the first image in a `docker save` manifest.json.
fn manifest_layers(text: &str) -> io::Result<Vec<String>> {
    let manifest: serde_json::Value = serde_json::from_str(text)?;
    Ok(manifest
        .get(0)
        .and_then(|image| image.get("Layers"))
        .and_then(|layers| layers.as_array())
        .map(|layers| {
            layers
                .iter()
                .filter_map(|layer| layer.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// A blob that is a layer (a tar, or a gzip of one) and its sizes; None for the
/// JSON blobs (configs, manifests, attestations).
fn layer_blob(blob: &mut impl Read, compress: bool) -> io::Result<Option<Blob>> {
    let mut head = [0u8; 2];
    let got = read_up_to(blob, &mut head)?;
    let head = &head[..got];
    let mut whole = head.chain(blob);
    if head == [0x1f, 0x8b] {
        let mut tar = flate2::read::GzDecoder::new(whole);
        return measure(&mut tar, compress).map(Some);
    }
    // A tar's first 512-byte header has "ustar" at offset 257.
    let mut header = vec![0u8; 512];
    let got = read_up_to(&mut whole, &mut header)?;
    if got < 512 || &header[257..262] != b"ustar" {
        return Ok(None);
    }
    let mut tar = (&header[..got]).chain(whole);
    measure(&mut tar, compress).map(Some)
}

/// Counts an uncompressed layer's bytes, and gzips them when asked.
fn measure(tar: &mut impl Read, compress: bool) -> io::Result<Blob> {
    if !compress {
        let unpacked = io::copy(tar, &mut io::sink())?;
        return Ok(Blob {
            unpacked,
            compressed: None,
        });
    }
    let mut gzip = flate2::write::GzEncoder::new(Counter(0), flate2::Compression::default());
    let unpacked = io::copy(tar, &mut gzip)?;
    let compressed = gzip.finish()?.0;
    Ok(Blob {
        unpacked,
        compressed: Some(compressed),
    })
}

/// Fills `buffer` as far as the reader goes.
fn read_up_to(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => break,
            read => filled += read,
        }
    }
    Ok(filled)
}

/// A writer that only counts.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
