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

/// Builds on this machine's one builder, in turns where they must not overlap
/// (`beside_others`, `alone`): lock files in `dir`.
pub struct Builds {
    dir: PathBuf,
}

impl Builds {
    /// This machine's builds: the workshop's lock folder.
    pub fn of_this_machine() -> Builds {
        Builds { dir: folder() }
    }

    /// Builds whose locks live in `dir` (a test's own folder).
    pub fn in_folder(dir: &std::path::Path) -> Builds {
        Builds {
            dir: dir.to_path_buf(),
        }
    }

    /// A build beside others: any number at once, never while a build from nothing runs
    /// (`alone`). It passes a turnstile first, which a build from nothing holds while it
    /// waits, so builds that keep starting cannot keep it waiting.
    pub fn beside_others(&self) -> Result<Held> {
        let turnstile = take_in(&self.dir, "builds-turnstile", FlockOperation::LockExclusive)?;
        let held = take_in(&self.dir, "builds", FlockOperation::LockShared)?;
        drop(turnstile);
        Ok(held)
    }

    /// A build from nothing (`--no-cache`): alone on the builder, once every build under
    /// way has ended. BuildKit hands a vertex two builds share to the one that ignores
    /// the cache (moby/buildkit solver/jobs.go, `loadUnlocked`: "if same vertex is
    /// already loaded without cache just use that"), so a build beside it runs again what
    /// it had cached: in a cold CI run, cargo-chef's rebuild beside step 13's build from
    /// nothing compiled cargo-chef again, and a check that a manifest change compiles the
    /// service alone failed.
    pub fn alone(&self) -> Result<[Held; 2]> {
        let turnstile = take_in(&self.dir, "builds-turnstile", FlockOperation::LockExclusive)?;
        let held = take_in(&self.dir, "builds", FlockOperation::LockExclusive)?;
        Ok([turnstile, held])
    }
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
    take_in(&folder(), name, how)
}

fn take_in(dir: &std::path::Path, name: &str, how: FlockOperation) -> Result<Held> {
    let path = dir.join(format!("{name}.lock"));
    let failed =
        |error: std::io::Error| Error::Harness(format!("the lock {}: {error}", path.display()));
    if !dir.is_dir() {
        std::fs::create_dir_all(dir).map_err(failed)?;
        // Open to every user, as /tmp is: whoever comes first makes it.
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777));
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
