//! The files inside an image, read from `docker export` of a created container.

use std::collections::BTreeMap;
use std::io::Read;

use crate::cleanup;
use crate::docker;
use crate::error::Result;

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
    /// Where a symbolic link points, as written in the link (relative or absolute).
    pub link: Option<String>,
}

/// How many symbolic links one lookup may follow, as Linux allows (ELOOP past it).
const MAX_LINKS: usize = 40;

/// Every path in the image (absolute, no trailing slash) with its type, mode and size.
#[derive(Debug, Default)]
pub struct Files(pub BTreeMap<String, Entry>);

impl Files {
    pub fn of_image(image: &str) -> Result<Files> {
        let container = docker::CreatedContainer::create(image)?;
        docker::read_output(
            &format!("docker export (of {image})"),
            docker::command(&["export", &container.0]),
            |stdout| Files::from_tar(stdout),
        )
    }

    fn from_tar(reader: impl Read) -> std::io::Result<Files> {
        let mut archive = tar::Archive::new(reader);
        let mut files = BTreeMap::new();
        for entry in archive.entries()? {
            let entry = entry?;
            let header = entry.header();
            let path = entry.path()?.display().to_string();
            let path = format!("/{}", path.trim_start_matches("./").trim_matches('/'));
            if path == "/" {
                continue;
            }
            let link = header
                .entry_type()
                .is_symlink()
                .then(|| entry.link_name().ok().flatten())
                .flatten()
                .map(|target| target.display().to_string());
            files.insert(
                path,
                Entry {
                    is_dir: header.entry_type().is_dir(),
                    mode: header.mode().unwrap_or(0),
                    size: header.size().unwrap_or(0),
                    link,
                },
            );
        }
        Ok(Files(files))
    }

    /// The path itself is in the image (a symbolic link counts, wherever it points).
    pub fn contains(&self, path: &str) -> bool {
        self.0.contains_key(path)
    }

    /// The path as the kernel would find it inside a container: every symbolic link
    /// on the way followed (Debian's `/lib64` is a link into `/usr`), relative links
    /// against their folder. None if it leads nowhere, or round in circles.
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut pending: Vec<String> = path
            .split('/')
            .filter(|part| !part.is_empty())
            .rev()
            .map(String::from)
            .collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => {}
            }
            let candidate =
                format!("/{}", [resolved.join("/"), part.clone()].join("/")).replace("//", "/");
            let entry = self.0.get(&candidate)?;
            match &entry.link {
                Some(target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return None;
                    }
                    if target.starts_with('/') {
                        resolved.clear();
                    }
                    pending.extend(
                        target
                            .split('/')
                            .filter(|part| !part.is_empty())
                            .rev()
                            .map(String::from),
                    );
                }
                None => resolved.push(part),
            }
        }
        Some(format!("/{}", resolved.join("/")))
    }

    /// The path exists for a process in the container: it resolves to a file or folder.
    pub fn exists(&self, path: &str) -> bool {
        self.resolve(path).is_some()
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

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A fresh folder of this user's alone (mode 0700, a name nobody could guess or link
/// beforehand), removed with everything in it when dropped.
pub struct PrivateDir(pub std::path::PathBuf);

impl PrivateDir {
    /// Under the system's temporary folder, named `ping-workshop-<what>-<pid>-<random>`
    /// (`cleanup::private_dir_name`): the run that made it can be told from the name, so
    /// one left by a run that died is removed by the next. mkdir makes it or fails (it
    /// never follows a link someone left at that name), so a name taken is tried again
    /// with another.
    pub fn new(what: &str) -> Result<PrivateDir> {
        use std::os::unix::fs::DirBuilderExt;
        let mut last = None;
        for attempt in 0..16u32 {
            let path = std::env::temp_dir().join(cleanup::private_dir_name(what, attempt));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    cleanup::folder_made(&path);
                    return Ok(PrivateDir(path));
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    last = Some(error)
                }
                Err(error) => return Err(crate::error::io("make", &path, error)),
            }
        }
        Err(crate::error::Error::Harness(format!(
            "cannot make a private temporary folder for {what}: {}",
            last.map_or_else(String::new, |error| error.to_string())
        )))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        cleanup::folder_removed(&self.0);
    }
}
