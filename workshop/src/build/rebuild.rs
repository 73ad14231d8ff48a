//! The rebuild experiments of steps 05 and 09: the build context copied, a change made
//! to the copy, and the same build run in it.

use std::path::Path;

use super::{Settled, with_flags};
use crate::error::{Error, Result, io};
use crate::files::PrivateDir;
use crate::image::Image;
use crate::repo_root;
use crate::step::Step;

impl Step {
    /// The experiments of steps 05 and 09: copy the build context to a temporary
    /// folder, make `change` there (never to the repository's files), and run the same
    /// build command in it, tagged `<image>-rebuild`. The returned image's `build_log`
    /// says what was CACHED and what cargo compiled; `Image::remove` drops it.
    pub fn rebuild_after(&self, change: Change) -> Result<Image> {
        self.rebuild_after_with(change, "")
    }

    /// `rebuild_after`, its build command given `flags` (`--cache-from …`).
    pub fn rebuild_after_with(&self, change: Change, flags: &str) -> Result<Image> {
        self.rebuild(change, flags, None)?
            .map_err(|_| Error::Harness("a rebuild stopped that nothing asked to stop".into()))
    }

    /// `rebuild_after`, stopped at the first line of its log that `settled` says answers
    /// the question (a crate other than the service compiles): then the log so far.
    pub fn rebuild_after_until(
        &self,
        change: Change,
        settled: &dyn Fn(&str) -> bool,
    ) -> Result<Result<Image, Settled>> {
        self.rebuild(change, "", Some(settled))
    }

    fn rebuild(
        &self,
        change: Change,
        flags: &str,
        settled: Option<&dyn Fn(&str) -> bool>,
    ) -> Result<Result<Image, Settled>> {
        let folder = PrivateDir::new(&format!("{}-rebuild", self.slug))?;
        let copy = folder.path().join("context");
        copy_tree(repo_root(), &copy)?;
        // Unique every time: a change made before would come from a cache.
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        change.make(&copy, nonce, &self.slug)?;
        if self.echo_build {
            println!("Rebuilding after {}, in a copy…", change.says());
        }
        // Tagged apart: the step's own image stays what its checks inspect. A script's
        // other images are named after the tag too (step 03's `<tag>-build`): the ones
        // of the step's own tag are not what this build makes.
        let image = format!("{}-rebuild", self.image);
        let apart = Step {
            facts: crate::step::Facts {
                other_images: self
                    .facts
                    .other_images
                    .iter()
                    .map(|other| other.replacen(&self.image, &image, 1))
                    .collect(),
                ..self.facts.clone()
            },
            image,
            ..self.clone()
        };
        apart.run_build_until(&copy, None, |command| with_flags(&command, flags), settled)
    }
}

/// A change the rebuild experiments make to a copy of the build context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A comment appended to src/main.rs: the source changes, the dependencies do not.
    SourceOnly,
    /// The service's own package version, in Cargo.toml and Cargo.lock: the manifests
    /// change (as when a dependency is added), and only the service needs compiling.
    PackageVersion,
}

impl Change {
    pub fn says(self) -> &'static str {
        match self {
            Change::SourceOnly => "a source-only change to src/main.rs",
            Change::PackageVersion => {
                "a change to the manifests (the package version in Cargo.toml and Cargo.lock)"
            }
        }
    }

    fn make(self, copy: &Path, nonce: u128, slug: &str) -> Result<()> {
        let edit = |name: &str, edit: &dyn Fn(String) -> String| -> Result<()> {
            let path = copy.join(name);
            let text = std::fs::read_to_string(&path).map_err(|error| io("read", &path, error))?;
            let edited = edit(text.clone());
            if edited == text {
                return Err(Error::Harness(format!(
                    "{}: cannot make {}",
                    name,
                    self.says()
                )));
            }
            std::fs::write(&path, edited).map_err(|error| io("change", &path, error))
        };
        match self {
            Change::SourceOnly => {
                edit("src/main.rs", &|mut source| {
                    source.push_str(&format!(
                        "\n// A source-only change ({nonce}), made by the step {slug} check.\n"
                    ));
                    source
                })?;
                // cargo calls the service stale by time: its source newer than its last
                // compile. Steps 10 to 13 share one target/ cache mount, and another step's
                // rebuild that compiled the service just after this copy was made looked
                // newer than this change (a CI run: "cargo compiled nothing"). A day ahead,
                // the change is newer than any compile of today.
                let path = copy.join("src/main.rs");
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|file| {
                        file.set_modified(
                            std::time::SystemTime::now()
                                + std::time::Duration::from_secs(24 * 3600),
                        )
                    })
                    .map_err(|error| io("set the time of", &path, error))
            }
            Change::PackageVersion => {
                let version = format!("0.1.{}", nonce % 1_000_000_000);
                let bump = |text: String, after: &str| {
                    text.replacen(
                        &format!("{after}\nversion = \"0.1.0\""),
                        &format!("{after}\nversion = \"{version}\""),
                        1,
                    )
                };
                edit("Cargo.toml", &|text| bump(text, "name = \"ping\""))?;
                edit("Cargo.lock", &|text| bump(text, "name = \"ping\""))
            }
        }
    }
}

/// The most a rebuild copies of the repository: far above its files (a few
/// megabytes), far below what a stray file could make it (a disk image in yours/).
const COPY_LIMIT: u64 = 1 << 30;

/// Copies the repository's files, without .git and target/, to `to`: regular files and
/// folders, symbolic links recreated as links (never followed: a link to /dev/zero or
/// to a key elsewhere is not read), nothing else; at most COPY_LIMIT bytes.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    copy_tree_within(from, to, COPY_LIMIT)
}

/// `copy_tree`, copying at most `limit` bytes.
pub fn copy_tree_within(from: &Path, to: &Path, limit: u64) -> Result<()> {
    let mut copied = 0;
    copy_tree_counting(from, to, &mut copied, limit)
}

fn copy_tree_counting(from: &Path, to: &Path, copied: &mut u64, limit: u64) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|error| io("create", to, error))?;
    let entries = std::fs::read_dir(from).map_err(|error| io("read", from, error))?;
    for entry in entries {
        let entry = entry.map_err(|error| io("read", from, error))?;
        let name = entry.file_name();
        if from == repo_root() && (name == ".git" || name == "target") {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        let kind = entry
            .file_type()
            .map_err(|error| io("read", &source, error))?;
        if kind.is_symlink() {
            let link = std::fs::read_link(&source).map_err(|error| io("read", &source, error))?;
            std::os::unix::fs::symlink(&link, &target)
                .map_err(|error| io("link", &target, error))?;
        } else if kind.is_dir() {
            copy_tree_counting(&source, &target, copied, limit)?;
        } else if kind.is_file() {
            let size = entry
                .metadata()
                .map_err(|error| io("read", &source, error))?
                .len();
            *copied += size;
            if *copied > limit {
                return Err(Error::Harness(format!(
                    "the repository holds more than {} MB besides .git and target/ ({} is \
                     {} MB): a rebuild copies it all. Move large files out of it",
                    limit / 1_000_000,
                    source.display(),
                    size / 1_000_000
                )));
            }
            std::fs::copy(&source, &target).map_err(|error| io("copy", &source, error))?;
        }
        // Anything else (a FIFO, a socket, a device) is no file a build needs.
    }
    Ok(())
}
