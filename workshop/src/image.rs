//! A built image of a step, read back: Docker's typed description of it, the files
//! inside it, and the service binary its ENTRYPOINT runs.

use std::sync::OnceLock;
use std::time::Duration;

use testcontainers::bollard::models::{ImageConfig, ImageInspect};

use crate::error::{Error, Result};
use crate::files::Files;
use crate::layers::{self, Sizes};
use crate::published::Published;
use crate::step::Step;
use crate::{MB, docker};

pub struct Image {
    pub step: Step,
    pub tag: String,
    pub id: String,
    /// The build output (BuildKit's plain progress), e.g. to see which steps were CACHED.
    pub build_log: String,
    /// How long the build command took.
    pub build_time: Duration,
    pub inspect: ImageInspect,
    /// Read from the image's layers, the same on every image store.
    pub sizes: Sizes,
    files: OnceLock<Result<Files>>,
    /// The image pushed to a registry by the publish checks (step 13), once.
    pub published: OnceLock<Result<Published>>,
}

impl Image {
    pub fn of(step: Step, tag: String, build_log: String, build_time: Duration) -> Result<Image> {
        let inspect = docker::inspect_image(&tag)?;
        let sizes = layers::sizes(&tag, false)?;
        Ok(Image {
            step,
            id: inspect.id.clone().unwrap_or_default(),
            tag,
            build_log,
            build_time,
            inspect,
            sizes,
            files: OnceLock::new(),
            published: OnceLock::new(),
        })
    }

    /// The unpacked size: the sum of the layers' uncompressed sizes.
    pub fn size_bytes(&self) -> u64 {
        self.sizes.unpacked
    }

    /// The layers gzip-compressed, as a push sends them (compresses every layer).
    pub fn compressed_bytes(&self) -> Result<u64> {
        let sizes = layers::sizes(&self.tag, true)?;
        sizes
            .compressed
            .ok_or_else(|| Error::Harness(format!("no compressed size for {}", self.tag)))
    }

    pub fn size_mb(&self) -> f64 {
        self.size_bytes() as f64 / MB
    }

    /// The image's config: User, Entrypoint, Cmd, Healthcheck, Labels, WorkingDir.
    pub fn config(&self) -> ImageConfig {
        self.inspect.config.clone().unwrap_or_default()
    }

    /// ENTRYPOINT (or, without one, CMD): the command a container runs.
    pub fn command(&self) -> Vec<String> {
        let config = self.config();
        [config.entrypoint, config.cmd]
            .into_iter()
            .flatten()
            .find(|words| !words.is_empty())
            .unwrap_or_default()
    }

    pub fn files(&self) -> Result<&Files> {
        self.files
            .get_or_init(|| Files::of_image(&self.tag))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Where the service binary is: the first word of ENTRYPOINT (or CMD), resolved
    /// against the working directory or the usual PATH directories.
    pub fn service_binary(&self) -> Result<Option<String>> {
        let command = self.command();
        if command.is_empty() {
            return Ok(None);
        }
        // Through a shell, `sh -c "exec /ping serve"`: the binary is the script's first
        // word that is neither `exec` nor a `NAME=value` assignment.
        let first = match shell_form(&command) {
            Some((_, script)) => match script
                .split_whitespace()
                .find(|word| *word != "exec" && !word.contains('='))
            {
                Some(word) => word.to_string(),
                None => return Ok(None),
            },
            None => command[0].clone(),
        };
        if first.starts_with('/') {
            return Ok(Some(first));
        }
        if first.contains('/') {
            let workdir = self.config().working_dir.unwrap_or_default();
            let workdir = if workdir.is_empty() { "/" } else { &workdir };
            return Ok(Some(format!(
                "{}/{}",
                workdir.trim_end_matches('/'),
                first.trim_start_matches("./")
            )));
        }
        let files = self.files()?;
        Ok([
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ]
        .iter()
        .map(|dir| format!("{dir}/{first}"))
        .find(|path| files.exists(path)))
    }

    /// The bytes of a file in the image, copied out through a created container.
    pub fn copy_out(&self, path: &str) -> Result<Vec<u8>> {
        docker::CreatedContainer::create(&self.tag)?
            .copy_out(path)
            .map_err(|error| error.context(&format!("the image {}", self.tag)))
    }

    /// The bytes of the service binary at `path`, if the image has it (through any
    /// symbolic links, as the kernel would execute it).
    pub fn binary_bytes(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self.files()?.resolve(path) {
            Some(real) => self.copy_out(&real).map(Some),
            None => Ok(None),
        }
    }

    /// The service binary and the ELF loader it asks for, when the image lacks that loader.
    pub fn missing_loader(&self) -> Option<(String, String)> {
        let path = self.service_binary().ok()??;
        let bytes = self.binary_bytes(&path).ok()??;
        let interpreter = goblin::elf::Elf::parse(&bytes)
            .ok()?
            .interpreter?
            .to_string();
        (!self.files().ok()?.exists(&interpreter)).then_some((path, interpreter))
    }

    /// Removes the image's tag (and the image, when nothing else uses it).
    /// Removes the image, and the other images its build made (step 03's build image).
    pub fn remove(self) {
        let _ = docker::run(&["image", "rm", &self.tag]);
        for other in &self.step.facts.other_images {
            let _ = docker::run(&["image", "rm", other]);
        }
    }

    /// Whether the last `name` instruction of the final Dockerfile is written as a JSON
    /// array (exec form), read from the Dockerfile itself; None if it has none.
    pub fn wrote_as_json(&self, name: &str) -> Option<bool> {
        let dockerfile = self.step.dockerfiles().pop()?;
        let text = std::fs::read_to_string(dockerfile).ok()?;
        text.lines().rev().find_map(|line| {
            let (first, rest) = line.trim_start().split_once(char::is_whitespace)?;
            first
                .eq_ignore_ascii_case(name)
                .then(|| rest.trim_start().starts_with('['))
        })
    }
}

/// A command Docker runs through a shell (`["/bin/sh", "-c", script]`): the shell and the script.
pub fn shell_form(command: &[String]) -> Option<(&str, &str)> {
    match command {
        [shell, dash_c, script, ..] if shell.ends_with("/sh") && dash_c == "-c" => {
            Some((shell, script))
        }
        _ => None,
    }
}
