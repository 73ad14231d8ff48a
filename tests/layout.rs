//! Drift checks that need no Docker: steps, tests and the top-level Dockerfile agree.
mod support;
use support::book::{step_slugs, test_name};
use support::{Check, Step, repo_root};

#[test]
fn every_step_has_a_test_and_every_step_test_a_step() {
    let slugs = step_slugs();
    assert!(slugs.len() >= 8, "expected steps 01..08, found {slugs:?}");
    for slug in &slugs {
        let test = repo_root()
            .join("tests")
            .join(format!("{}.rs", test_name(slug)));
        assert!(
            test.is_file(),
            "steps/{slug} has no test: expected {}",
            test.display()
        );
    }
    for entry in std::fs::read_dir(repo_root().join("tests")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if let Some(test) = name
            .strip_prefix("step")
            .and_then(|rest| rest.strip_suffix(".rs"))
        {
            assert!(
                slugs
                    .iter()
                    .any(|slug| test_name(slug) == format!("step{test}")),
                "tests/{name} has no step folder under steps/"
            );
        }
    }
}

#[test]
fn every_step_toml_is_complete_and_consistent() {
    for slug in step_slugs() {
        let step = Step::get(&slug);
        assert_eq!(
            step.facts.image,
            format!("ping:{slug}"),
            "steps/{slug}/step.toml: image"
        );
        assert!(
            step.facts.build.contains(&slug),
            "steps/{slug}/step.toml: the build command should name the step"
        );
        assert!(
            !step.dockerfiles().is_empty(),
            "steps/{slug} has no Dockerfile"
        );
        // Every step answers PONG; every step after the naive one has a size budget
        // and checks it; each teaches something new that the step before it fails.
        let checks = &step.facts.checks;
        assert!(
            checks.contains(&Check::AnswersPong),
            "steps/{slug}/step.toml: checks must include answers_pong"
        );
        let first = step.previous().is_none();
        assert_eq!(
            step.facts.budget.is_some(),
            !first,
            "steps/{slug}/step.toml: every step but the first has a [budget]"
        );
        assert_eq!(
            checks.contains(&Check::WithinBudget),
            !first,
            "steps/{slug}/step.toml: within_budget is checked exactly when there is a [budget]"
        );
        if let Some(budget) = &step.facts.budget {
            assert!(
                budget.max_mb.is_some() != (budget.base.is_some() && budget.over_base_mb.is_some()),
                "steps/{slug}/step.toml: [budget] needs either max_mb, or base and over_base_mb"
            );
        }
        for (i, check) in checks.iter().enumerate() {
            assert!(
                !checks[..i].contains(check),
                "steps/{slug}/step.toml: {} is listed twice",
                check.name()
            );
        }
        for new in &step.facts.new {
            assert!(
                checks.contains(new),
                "steps/{slug}/step.toml: the new check {} is not in checks",
                new.name()
            );
        }
        assert_eq!(
            step.facts.new.is_empty(),
            first,
            "steps/{slug}/step.toml: every step but the first lists its `new` checks"
        );
    }
}

#[test]
fn base_images_are_pinned() {
    for slug in step_slugs() {
        for image in Step::get(&slug).base_images() {
            let tag = image.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("");
            assert!(
                !tag.is_empty() && tag != "latest",
                "steps/{slug}: FROM {image} is not pinned to a version"
            );
        }
    }
}

#[test]
fn the_top_level_dockerfile_is_step_08() {
    for (top, step) in [
        ("Dockerfile", "steps/08-production/Dockerfile"),
        (
            "Dockerfile.dockerignore",
            "steps/08-production/Dockerfile.dockerignore",
        ),
    ] {
        let read = |path: &str| std::fs::read_to_string(repo_root().join(path)).unwrap();
        assert!(
            read(top) == read(step),
            "{top} differs from {step}: they must be the same file. Copy one onto the other."
        );
    }
}
