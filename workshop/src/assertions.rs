//! The step tests' side of the harness: a thin layer of assertions over the checks.
//! Each prints the report a learner would read and fails the test with it; the
//! comparison's Go images get the same treatment.

use crate::MB;
use crate::checks::{self, Outcome, assert_size_matches_the_book, assert_smaller_than};
use crate::contenders::Contender;
use crate::error::{Error, Must};
use crate::image::Image;
use crate::learner::Report;
use crate::results::{Results, human_size};
use crate::running::{Running, request};
use crate::step::{SizeCheck, Step};
use crate::tool::COMPARE;

impl Step {
    /// A step's whole test: its image passes every check in its step.toml, its size is
    /// compared as step.toml says, and the previous step's image fails every check new
    /// in this step (proof that those checks can fail).
    pub async fn assert_teaches(&self) {
        let previous = self.previous().must().map(|previous| previous.build());
        let image = self.build();
        self.assert_sizes(&image, previous.as_ref());
        self.assert_checks_pass(&image).await;
        if let Some(previous) = &previous {
            self.assert_new_checks_catch(previous).await;
        }
    }

    /// The size comparisons step.toml lists under `sizes`.
    #[track_caller]
    pub fn assert_sizes(&self, image: &Image, previous: Option<&Image>) {
        for size in &self.facts.sizes {
            match (size, previous) {
                (SizeCheck::MatchesTheBook, _) => assert_size_matches_the_book(image),
                (SizeCheck::SmallerThanPrevious, Some(previous)) => {
                    assert_smaller_than(image, previous)
                }
                (SizeCheck::SmallerThanPrevious, None) => panic!(
                    "steps/{}/step.toml: smaller_than_previous, but there is no previous step",
                    self.slug
                ),
            }
        }
    }

    /// Runs every check of the step on the reference image, prints the same report a
    /// learner gets, and fails on any failed check.
    pub async fn assert_checks_pass(&self, image: &Image) {
        let subject = format!("the reference, {}", self.reference_file().display());
        let report = Report::of(self, subject, Ok(image)).await;
        println!("{report}");
        assert!(
            report.passed(),
            "step {}: the reference fails its own checks:\n{report}",
            self.slug
        );
        // What the chapter shows the tools doing must happen too.
        let failed: Vec<&str> = report
            .shown
            .iter()
            .filter(|shown| shown.result.is_err())
            .map(|shown| shown.demo.name())
            .collect();
        assert!(
            failed.is_empty(),
            "step {}: the demonstrations {failed:?} failed on the reference:\n{report}",
            self.slug
        );
    }

    /// Every check new in this step must fail on `other` (the previous step's image).
    /// Prints what each found and the hint a learner gets.
    pub async fn assert_new_checks_catch(&self, other: &Image) {
        assert!(
            !self.facts.new.is_empty(),
            "step {}: step.toml lists no `new` checks",
            self.slug
        );
        let outcomes = checks::run_all(self, other, &self.facts.new).await;
        for Outcome { check, result, .. } in outcomes {
            match result {
                // The harness failing (Docker not answering, a file it cannot read) is
                // no catch: the check never looked at the image.
                Err(Error::Harness(message)) => panic!(
                    "the check `{}` of step {} could not run on {}, so it caught nothing: {message}",
                    check.name(),
                    self.slug,
                    other.tag
                ),
                Err(error) => println!(
                    "as expected, `{}` catches {}: {}\n  hint: {}",
                    check.name(),
                    other.tag,
                    error.found(),
                    error.hint()
                ),
                Ok(_) => panic!(
                    "the check `{}` of step {} passed on {}, an image it must catch: the check cannot fail",
                    check.name(),
                    self.slug,
                    other.tag
                ),
            }
        }
    }
}

impl Contender {
    /// The comparison's test: the image builds with the command `instructor compare`
    /// uses, a container of it answers PONG, and its size is still the one the book
    /// shows (within 5 %).
    pub async fn assert_answers_as_the_book_shows(&self) {
        println!("{}: `{}`", self.tag, self.build_command());
        let size = self.try_build().must();
        let running = Running::try_start(request(&self.tag)).await.must();
        println!(
            "{} answered PONG {:.0} ms after `docker run` ({:.2} MB)",
            self.tag,
            running.answered_after.as_secs_f64() * 1000.0,
            size as f64 / MB
        );
        let results = Results::load().must();
        let Some(shown) = results
            .as_ref()
            .and_then(|results| results.comparison.as_ref())
            .and_then(|comparison| comparison.contender(&self.name))
        else {
            panic!(
                "results.json has no comparison with {}: run `{COMPARE}`",
                self.tag
            );
        };
        let drift = size as f64 / shown.size_bytes as f64 - 1.0;
        assert!(
            drift.abs() <= 0.05,
            "the book shows {} for {}, but it is {} now ({:+.1}%, tolerance 5%). Compare again: `{COMPARE}`",
            human_size(shown.size_bytes),
            self.tag,
            human_size(size),
            drift * 100.0
        );
    }
}
