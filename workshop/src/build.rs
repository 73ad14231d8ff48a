//! Building a step's image with the command the book shows, and saying clearly why
//! a build failed: the failing instruction, the first error, a hint, the log's end.
//!
//! Its parts are in `build/`: the runner that every build goes through, why a build
//! failed, the base images a build starts from, and the rebuild experiments.

mod base_images;
mod failure;
mod rebuild;
mod runner;

use std::path::Path;
use std::time::Instant;

use crate::error::{BuildFailure, Error, Must, Result};
use crate::image::Image;
use crate::step::Step;
use crate::{ci_cache, docker, repo_root};

pub use base_images::{PULL_LIMIT, ensure_base_images};
pub use rebuild::{Change, copy_tree, copy_tree_within};
pub use runner::{
    BUILD_LIMIT, LOG_FILE_LIMIT, LOG_LIMIT, SCRIPT_ENVIRONMENT, bounded_line, build_limit,
    run_logged,
};

/// A build stopped as soon as its log settled what it was run to find out (see
/// `runner::run_logged_until`): the log so far. No image was made.
pub struct Settled(pub String);

impl Step {
    /// Builds the step's image from the repository root, exactly as a learner types
    /// the command; fails the test with the failing instruction and the log's end.
    #[track_caller]
    pub fn build(&self) -> Image {
        self.try_build().must()
    }

    pub fn try_build(&self) -> Result<Image> {
        self.try_build_in(repo_root())
    }

    /// The same Dockerfile built for another platform (`linux/arm64`), as the book shows.
    pub fn try_build_for(&self, platform: &str) -> Result<Image> {
        self.run_build(repo_root(), Some(platform))
    }

    /// The same build command, run in another directory (a modified copy of the context).
    pub fn try_build_in(&self, dir: &Path) -> Result<Image> {
        self.run_build(dir, None)
    }

    /// The book's build command with `flags` after `docker build` (`--cache-to …`).
    pub fn try_build_with(&self, flags: &str) -> Result<Image> {
        self.run_build_as(repo_root(), None, |command| with_flags(&command, flags))
    }

    /// A fresh CI runner's build: empty cache mounts, nothing taken from the builder
    /// (`--no-cache`: forgetting its records is not enough, BuildKit can make a layer
    /// again from a blob it still holds, such as the last image's), its cache exported
    /// to `cache` (`--cache-to`).
    pub fn first_ci_run(&self, cache: &Path) -> Result<Image> {
        ci_cache::forget_the_cache_mounts_of(&self.dockerfile_text()?)?;
        self.try_build_with(&format!("--no-cache {}", ci_cache::export_to(cache)))
    }

    /// A CI run that exports its cache to `cache` (`--cache-to`), built as any build is:
    /// what it exports is every layer of the build, made now or found in the builder's
    /// cache, the same either way. The runner after it is the fresh one
    /// (`next_ci_run`).
    pub fn ci_run_exporting(&self, cache: &Path) -> Result<Image> {
        self.try_build_with(&ci_cache::export_to(cache))
    }

    /// The next CI run, on a fresh runner: what BuildKit kept of the build forgotten,
    /// a source-only change, the cache `first_ci_run` exported given back
    /// (`--cache-from`). Also says how many of BuildKit's records were forgotten.
    pub fn next_ci_run(&self, cache: &Path) -> Result<(Image, usize)> {
        let forgotten = ci_cache::forget_the_runs_of(&self.dockerfile_text()?)?;
        let rebuilt = self.rebuild_after_with(Change::SourceOnly, &ci_cache::import_from(cache))?;
        Ok((rebuilt, forgotten))
    }

    fn run_build(&self, dir: &Path, platform: Option<&str>) -> Result<Image> {
        self.run_build_as(dir, platform, |command| command)
    }

    /// `run_build` with the book's build command passed through `adjust` first.
    fn run_build_as(
        &self,
        dir: &Path,
        platform: Option<&str>,
        adjust: impl FnOnce(String) -> String,
    ) -> Result<Image> {
        self.run_build_until(dir, platform, adjust, None)?
            .map_err(|_| Error::Harness("a build stopped that nothing asked to stop".into()))
    }

    /// `run_build_as`, stopped at the first line of its log that `settled` says answers
    /// what the build was run to find out.
    fn run_build_until(
        &self,
        dir: &Path,
        platform: Option<&str>,
        adjust: impl FnOnce(String) -> String,
        settled: Option<&dyn Fn(&str) -> bool>,
    ) -> Result<Result<Image, Settled>> {
        docker::ready()?;
        self.ensure_base_images()?;
        let command_line = adjust(self.build_command_for(platform));
        let tag = self.image_for(platform);
        let others = if platform.is_none() {
            self.facts.other_images.as_slice()
        } else {
            &[]
        };
        let tags: Vec<&String> = std::iter::once(&tag).chain(others).collect();
        let names: Vec<&str> = tags.iter().map(|tag| tag.as_str()).collect();
        let _naming = crate::locks::image_names(&names)?;
        let previous: Vec<Option<String>> = tags.iter().map(|tag| docker::image_id(tag)).collect();

        let started = Instant::now();
        let (log, stopped) = self.run_logged_until(&command_line, dir, &tag, settled)?;
        if stopped {
            return Ok(Err(Settled(log)));
        }

        // A rebuild moves the tag to a new image; drop the old one instead of piling it up.
        for (tag, old) in tags.iter().zip(previous) {
            let Some(new) = docker::image_id(tag) else {
                let hint = if self.learner_file.is_some() && self.is_script() {
                    "your script gets the image's name in $TAG: tag the run image \"$TAG\", as the reference build.sh does".to_string()
                } else {
                    format!("the build must tag its image {tag}")
                };
                return Err(BuildFailure::without_log(
                    format!("`{command_line}` succeeded but did not create the image {tag}"),
                    hint,
                )
                .into());
            };
            if let Some(old) = old.filter(|old| *old != new) {
                docker::remove_if_dangling(&old);
            }
        }
        Image::of(self.clone(), tag, log, started.elapsed()).map(Ok)
    }

    /// Runs a build command of this step, echoing its instructions when asked. A
    /// learner's script (step 03) runs on this machine, not in a container: it is told
    /// so, and it gets only what a build needs from the environment.
    fn run_logged(&self, command_line: &str, dir: &Path, name: &str) -> Result<String> {
        self.run_logged_until(command_line, dir, name, None)
            .map(|(log, _)| log)
    }

    /// `run_logged`, stopped where `settled` says (`runner::run_logged_until`).
    fn run_logged_until(
        &self,
        command_line: &str,
        dir: &Path,
        name: &str,
        settled: Option<&dyn Fn(&str) -> bool>,
    ) -> Result<(String, bool)> {
        let dockerfiles = self.dockerfiles();
        let dockerfile = (dockerfiles.len() == 1).then(|| dockerfiles[0].as_path());
        // Cache mounts are not emptied under a build that uses them (`locks`).
        let uses_cache_mounts = dockerfiles.iter().any(|file| {
            std::fs::read_to_string(file)
                .is_ok_and(|text| !crate::ci_cache::cache_mount_ids(&text).is_empty())
        });
        let _mounts = if uses_cache_mounts {
            Some(crate::locks::cache_mounts_in_use()?)
        } else {
            None
        };
        let what = format!("step {}", self.slug);
        let yours = self.is_script() && self.learner_file.is_some();
        if yours && self.echo_build {
            println!(
                "Your script runs on this machine as you, not in a container: it can do what \
                 you can. It gets only {} from your environment, and TAG.",
                SCRIPT_ENVIRONMENT.join(", ")
            );
        }
        let build = runner::Build {
            what: &what,
            command_line,
            dir,
            name,
            echo_build: self.echo_build,
            dockerfile,
            least: yours,
        };
        runner::run_logged_until(&build, settled)
    }

    /// Runs another build command of this step's (a push), from the repository root, as
    /// its builds run: logged to a file, stopped at the build limit, a failure explained.
    pub fn run_build_command(&self, command_line: &str, name: &str) -> Result<String> {
        docker::ready()?;
        self.ensure_base_images()?;
        self.run_logged(command_line, repo_root(), name)
    }

    /// Builds the stage `target` and exports its files into `dest` (`docker build
    /// --target … --output type=local,dest=…`), as the book shows for the SBOM.
    pub fn export_stage(&self, target: Option<&str>, dest: &Path) -> Result<String> {
        docker::ready()?;
        self.ensure_base_images()?;
        let command_line = self.export_command(target, &dest.display().to_string());
        self.run_logged(
            &command_line,
            repo_root(),
            &format!("{}-{}", self.image, target.unwrap_or("files")),
        )
    }

    /// Every `FROM` image of the step's Dockerfiles must be present or pullable.
    fn ensure_base_images(&self) -> Result<()> {
        ensure_base_images(&self.base_images())
    }
}

/// `command` (a `docker build …`) with `flags` right after `docker build`.
pub fn with_flags(command: &str, flags: &str) -> String {
    if flags.is_empty() {
        return command.to_string();
    }
    command.replacen("docker build ", &format!("docker build {flags} "), 1)
}
