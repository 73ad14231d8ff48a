//! The images a build starts from: present, pulled, or named with how to prepare them
//! (or which of the workshop's a typo meant).

use std::time::Duration;

use crate::docker;
use crate::error::{BuildFailure, Result};
use crate::step::{PREPARE, workshop_base_images};

/// How long a pull of a base image may take: the largest, rust:1.95-trixie, is about
/// 0.6 GB to download; a registry that does not answer is given up on.
pub const PULL_LIMIT: Duration = Duration::from_secs(10 * 60);

/// Every image in `images` must be present or pullable; otherwise say how to prepare
/// it rather than let the build hang on a registry.
pub fn ensure_base_images(images: &[String]) -> Result<()> {
    for image in images {
        if docker::image_id(image).is_some() {
            continue;
        }
        let pull = docker::command(&["pull", "--quiet", image]);
        let pulled = docker::run_within(pull, PULL_LIMIT).is_ok();
        if !pulled {
            return Err(missing_base_image(image).into());
        }
    }
    Ok(())
}

/// A FROM image that is neither local nor pullable: named, and said whether it is one
/// of the workshop's base images (then preparing makes it) or close to one (a typo).
fn missing_base_image(image: &str) -> BuildFailure {
    let ours = workshop_base_images();
    let error = format!(
        "FROM {image}: the image is not in your local Docker, and Docker could not pull it"
    );
    if ours.iter().any(|known| known == image) {
        return BuildFailure::without_log(
            error,
            format!(
                "{image} is one of the workshop's base images: prepare it (pulls it, or builds it \
                 locally without a registry): `{PREPARE}`, then rerun"
            ),
        );
    }
    let closest = ours
        .iter()
        .map(|known| (edit_distance(known, image), known))
        .min()
        .filter(|(distance, _)| *distance <= 3);
    let hint = match closest {
        Some((_, known)) => format!(
            "{image} is not one of the workshop's base images; did you mean {known}? \
             (the workshop's: {})",
            ours.join(", ")
        ),
        None => format!(
            "{image} is not one of the workshop's base images ({}): check the name and tag, \
             or pull it by hand (`docker pull {image}`) where a registry is reachable",
            ours.join(", ")
        ),
    };
    BuildFailure::without_log(error, hint)
}

/// Levenshtein distance: how many single-character edits turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}
