//! Checks of an image's size: its budget, the previous step's image, the book's figure.

use super::Passed;
use crate::MB;
use crate::error::{Must, Result, found};
use crate::image::Image;
use crate::results::{Results, human_size};
use crate::step::Step;
use crate::tool::MEASURE;

pub fn within_budget(step: &Step, image: &Image) -> Result<Passed> {
    let Some((budget, source)) = step.budget()? else {
        return found(
            format!("step {} sets no [budget] in its step.toml", step.slug),
            "a step that checks within_budget needs a budget",
        );
    };
    let size = image.size_bytes();
    if size <= budget {
        return Ok(Some(format!(
            "{:.1} MB of {:.1} MB",
            size as f64 / MB,
            budget as f64 / MB
        )));
    }
    found(
        format!(
            "{} is {:.1} MB, over step {}'s budget of {:.1} MB ({source})",
            image.tag,
            size as f64 / MB,
            step.slug,
            budget as f64 / MB
        ),
        step.facts.budget.as_ref().map_or(
            "what in the image does the service not need at run time?",
            |budget| budget.hint(),
        ),
    )
}

#[track_caller]
pub fn assert_smaller_than(image: &Image, other: &Image) {
    assert!(
        image.size_bytes() < other.size_bytes(),
        "{} ({:.1} MB) should be smaller than {} ({:.1} MB)",
        image.tag,
        image.size_mb(),
        other.tag,
        other.size_mb()
    );
    println!(
        "{} is {:.1} MB, {:.1}x smaller than {} ({:.1} MB)",
        image.tag,
        image.size_mb(),
        other.size_bytes() as f64 / image.size_bytes() as f64,
        other.tag,
        other.size_mb()
    );
}

/// The size the book shows (book/src/generated/results.json) must still be true.
/// Only for steps whose size does not depend on which base image was used.
#[track_caller]
pub fn assert_size_matches_the_book(image: &Image) {
    const TOLERANCE: f64 = 0.05;
    let results = Results::load()
        .must()
        .unwrap_or_else(|| panic!("book/src/generated/results.json is missing: run `{MEASURE}`"));
    let Some(shown) = results.step(&image.step.slug) else {
        panic!(
            "results.json has no size for step {}: run `{} --steps {}`",
            image.step.slug, MEASURE, image.step.number
        );
    };
    let ratio = image.size_bytes() as f64 / shown.size_bytes as f64;
    assert!(
        (ratio - 1.0).abs() <= TOLERANCE,
        "the book shows {} for {}, but it is {:.2} MB now ({:+.1}%, tolerance {:.0}%). Measure again: `{} --steps {}`",
        human_size(shown.size_bytes),
        image.tag,
        image.size_mb(),
        (ratio - 1.0) * 100.0,
        TOLERANCE * 100.0,
        MEASURE,
        image.step.number
    );
}
