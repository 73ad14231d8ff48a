//! The files inside an image, read from `docker export` of a created container.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::Stdio;

use super::docker;

/// Entries Docker itself adds to every container's file system; they say nothing
/// about what the Dockerfile put in the image.
pub const DOCKER_ENTRIES: &[&str] = &[
    "/.dockerenv",
    "/dev",
    "/dev/console",
    "/dev/pts",
    "/dev/shm",
    "/etc",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/mtab",
    "/etc/resolv.conf",
    "/proc",
    "/sys",
];

#[derive(Debug, Clone)]
pub struct Entry {
    pub is_dir: bool,
    pub mode: u32,
    pub size: u64,
}

/// Every path in the image (absolute, no trailing slash) with its type, mode and size.
#[derive(Debug, Default)]
pub struct Files(pub BTreeMap<String, Entry>);

impl Files {
    pub fn of_image(image: &str) -> Files {
        let container = docker::CreatedContainer::create(image);
        let mut child = docker::command(&["export", &container.0])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start `docker export`");
        let stdout = child.stdout.take().expect("piped stdout");
        let files = Files::from_tar(stdout);
        let output = child.wait_with_output().expect("wait for `docker export`");
        assert!(
            output.status.success(),
            "`docker export` of {image} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        files
    }

    fn from_tar(reader: impl Read) -> Files {
        let mut archive = tar::Archive::new(reader);
        let mut files = BTreeMap::new();
        for entry in archive.entries().expect("read the exported tar stream") {
            let entry = entry.expect("read a tar entry");
            let header = entry.header();
            let path = entry
                .path()
                .expect("a tar entry path")
                .display()
                .to_string();
            let path = format!("/{}", path.trim_start_matches("./").trim_matches('/'));
            if path == "/" {
                continue;
            }
            files.insert(
                path,
                Entry {
                    is_dir: header.entry_type().is_dir(),
                    mode: header.mode().unwrap_or(0),
                    size: header.size().unwrap_or(0),
                },
            );
        }
        Files(files)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.0.contains_key(path)
    }

    /// Paths whose last component is `name` (e.g. every `cargo` anywhere).
    pub fn named(&self, name: &str) -> Vec<&str> {
        self.0
            .keys()
            .filter(|path| path.rsplit('/').next() == Some(name))
            .map(String::as_str)
            .collect()
    }

    /// Paths that end with `suffix` and are files (e.g. every `.rs`).
    pub fn ending_with(&self, suffix: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(path, entry)| !entry.is_dir && path.ends_with(suffix))
            .map(|(path, _)| path.as_str())
            .collect()
    }

    /// What the Dockerfile put in the image: every path except those Docker adds itself.
    pub fn own(&self) -> Vec<&str> {
        self.0
            .keys()
            .map(String::as_str)
            .filter(|path| !DOCKER_ENTRIES.contains(path))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}
