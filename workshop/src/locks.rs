//! Locks between the workshop's processes on one machine (test files run side by side,
//! a learner's check in two terminals): one check runs at a time, while builds run
//! beside it; one build at a time names an image; and the project's cache mounts are
//! never emptied under a build that uses them. Each is a file under the system's
//! temporary folder, held with flock(2), and released when its holder is dropped or its
//! process ends, however it ends.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use rustix::fs::{FlockOperation, flock};

use crate::error::{Error, Result};

/// A lock held until dropped.
pub struct Held {
    _file: File,
}

/// The one check running on this machine: a check measures time, counts threads and
/// waits for timeouts, and another check's container beside it would be in its numbers.
/// Waits for the check under way.
pub async fn check() -> Result<Held> {
    take("checks", FlockOperation::LockExclusive).await
}

/// A build that uses cache mounts: any number of them at once, never while the mounts
/// are being emptied.
pub fn cache_mounts_in_use() -> Result<Held> {
    take_now("cache-mounts", FlockOperation::LockShared)
}

/// Emptying cache mounts: waits until no build uses them.
pub fn cache_mounts_emptied() -> Result<Held> {
    take_now("cache-mounts", FlockOperation::LockExclusive)
}

/// Builds that name these images (`ping:09-cache-mounts`): one at a time per name. Two
/// builds that tag one name at once fail on the containerd image store (`image
/// "docker.io/library/ping:09-cache-mounts": already exists`, when both create it), and
/// one would remove the image the other just made as the old one. The second waits and
/// finds the first's layers cached. Taken in one order, so two holders never wait for
/// each other.
pub fn image_names(names: &[&str]) -> Result<Vec<Held>> {
    let mut files: Vec<String> = names
        .iter()
        .map(|name| {
            let safe: String = name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            format!("image-{safe}")
        })
        .collect();
    files.sort();
    files.dedup();
    files
        .iter()
        .map(|file| take_now(file, FlockOperation::LockExclusive))
        .collect()
}

async fn take(name: &'static str, how: FlockOperation) -> Result<Held> {
    tokio::task::spawn_blocking(move || take_now(name, how))
        .await
        .map_err(|error| Error::Harness(format!("waiting for the {name} lock: {error}")))?
}

fn take_now(name: &str, how: FlockOperation) -> Result<Held> {
    let path = folder().join(format!("{name}.lock"));
    let failed =
        |error: std::io::Error| Error::Harness(format!("the lock {}: {error}", path.display()));
    if !folder().is_dir() {
        std::fs::create_dir_all(folder()).map_err(failed)?;
        // Open to every user, as /tmp is: whoever comes first makes it.
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(folder(), std::fs::Permissions::from_mode(0o1777));
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        // Anyone's: root's CI and a learner's shell share the machine's locks.
        .mode(0o666)
        .open(&path)
        .map_err(failed)?;
    flock(&file, how).map_err(|error| failed(error.into()))?;
    Ok(Held { _file: file })
}

/// Where the lock files live: one folder per machine, open to every user.
fn folder() -> PathBuf {
    std::env::temp_dir().join("ping-workshop-locks")
}
