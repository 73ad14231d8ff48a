//! The images `instructor compare` measures side by side: ours (the final image, the
//! last step's) and the original article's Go/gin service, built the article's way
//! from `compare/gin/`, once as the article writes it and once in gin's release mode
//! without a log line per request.

use crate::build::{ensure_base_images, run_logged};
use crate::error::{Error, Result};
use crate::step::{Step, base_images, shell_word};
use crate::{docker, repo_root};

/// Ours, as tables and charts name it; ours at an earlier step is `rust-NN`.
pub const OURS: &str = "rust";

/// The Go service's folder: its Dockerfile, and one `main.go` per variant.
pub const GO_CONTEXT: &str = "compare/gin";

/// Ours before step 12, beside it: the last step that allocates with musl's malloc
/// (all that step 12 changes), and the first static one, musl's malloc in code
/// optimized for speed (what step 07's size profile costs).
pub const EARLIER_STEPS: [(&str, &str); 2] = [
    (
        "11-supply-chain",
        "musl's malloc, code optimized for size (`opt-level = \"z\"`, since step 07)",
    ),
    (
        "06-static-scratch",
        "musl's malloc, code optimized for speed (the release profile's `opt-level = 3`)",
    ),
];

/// One image of the comparison.
#[derive(Debug, Clone)]
pub struct Contender {
    /// Short name for tables and charts: `rust`, `gin`, `gin-release`.
    pub name: String,
    /// The image tag: `ping:11-supply-chain`, `ping:go-gin`, `ping:go-gin-release`.
    pub tag: String,
    /// What it is, in a few words, for the book.
    pub says: String,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// The workshop's last step, built and checked by its own test.
    Step(Box<Step>),
    /// The Go service: `compare/gin/Dockerfile` with `--build-arg SERVICE=<folder>`.
    Go { service: &'static str },
}

impl Contender {
    /// Ours first, then ours at earlier steps, then the article's service as written,
    /// then gin tuned.
    pub fn all() -> Result<Vec<Contender>> {
        let mut steps = Step::all()?;
        let last = steps
            .pop()
            .ok_or_else(|| Error::Harness("no steps under steps/".into()))?;
        let mut all = vec![Contender {
            name: OURS.into(),
            tag: last.image.clone(),
            says: format!(
                "this workshop's final image (step {}, the top-level Dockerfile): mimalloc, code \
                 optimized for size",
                last.number
            ),
            source: Source::Step(Box::new(last)),
        }];
        for (slug, says) in EARLIER_STEPS {
            let step = Step::find(slug)?;
            all.push(Contender {
                name: format!("{OURS}-{}", step.number),
                tag: step.image.clone(),
                says: format!("step {}'s image: {says}", step.number),
                source: Source::Step(Box::new(step)),
            });
        }
        all.push(Contender::go(
            "gin",
            "article",
            "the article's gin service as it writes it: `gin.Default()`, a log line per request",
        ));
        all.push(Contender::go(
            "gin-release",
            "release",
            "the same in gin's release mode, without the log line per request",
        ));
        Ok(all)
    }

    /// Whether this is one of the workshop's own images (the Go service's are not).
    pub fn is_ours(name: &str) -> bool {
        name == OURS || name.starts_with(&format!("{OURS}-"))
    }

    /// The Go images alone: what `tests/compare_gin.rs` builds and runs.
    pub fn go_images() -> Result<Vec<Contender>> {
        Ok(Contender::all()?
            .into_iter()
            .filter(|contender| matches!(contender.source, Source::Go { .. }))
            .collect())
    }

    fn go(name: &str, service: &'static str, says: &str) -> Contender {
        let suffix = if service == "article" {
            String::new()
        } else {
            format!("-{service}")
        };
        Contender {
            name: name.into(),
            tag: format!("ping:go-gin{suffix}"),
            says: says.into(),
            source: Source::Go { service },
        }
    }

    /// The command that builds the image, from the repository root.
    pub fn build_command(&self) -> String {
        match &self.source {
            Source::Step(step) => step.build_command(),
            Source::Go { service } => {
                let arg = if *service == "article" {
                    String::new()
                } else {
                    format!("--build-arg SERVICE={service} ")
                };
                format!(
                    "docker build -f {GO_CONTEXT}/Dockerfile {arg}-t {} {GO_CONTEXT}",
                    shell_word(&self.tag)
                )
            }
        }
    }

    /// Builds the image (Docker's cache makes a rebuild quick) and returns its size.
    pub fn try_build(&self) -> Result<u64> {
        match &self.source {
            Source::Step(step) => Ok(step.try_build()?.size_bytes()),
            Source::Go { .. } => {
                docker::ready()?;
                let dockerfile = repo_root().join(GO_CONTEXT).join("Dockerfile");
                ensure_base_images(&base_images(std::slice::from_ref(&dockerfile)))?;
                let command = self.build_command();
                let previous = docker::image_id(&self.tag);
                let what = format!("{GO_CONTEXT} ({})", self.tag);
                run_logged(
                    &what,
                    &command,
                    repo_root(),
                    &self.tag,
                    false,
                    Some(&dockerfile),
                    false,
                )?;
                let new = docker::image_id(&self.tag).ok_or_else(|| {
                    Error::Harness(format!("`{command}` succeeded but made no {}", self.tag))
                })?;
                if let Some(old) = previous.filter(|old| *old != new) {
                    docker::remove_if_dangling(&old);
                }
                Ok(crate::layers::sizes(&self.tag, false)?.unpacked)
            }
        }
    }
}
