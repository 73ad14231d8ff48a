//! Every step's whole test: its reference image passes each check of its step.toml, its
//! size compares as step.toml says, and the previous step's image fails each check new
//! in it. The repository root's `tests/stepNN_slug.rs` runs the tests of its step, the
//! ones whose names start with `stepNN_slug` (`cargo test --test step04_multi_stage`).
use workshop::Step;

#[tokio::test(flavor = "multi_thread")]
async fn step01_naive() {
    Step::get("01-naive").assert_teaches().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step02_slim_base() {
    Step::get("02-slim-base").assert_teaches().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step03_builder_pattern() {
    Step::get("03-builder-pattern").assert_teaches().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step04_multi_stage() {
    Step::get("04-multi-stage").assert_teaches().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step05_dependency_cache() {
    Step::get("05-dependency-cache").assert_teaches().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step06_static_scratch() {
    Step::get("06-static-scratch").assert_teaches().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step07_size_profile() {
    Step::get("07-size-profile").assert_teaches().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step08_production() {
    Step::get("08-production").assert_teaches().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step09_cache_mounts() {
    Step::get("09-cache-mounts").assert_teaches().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step10_cross_platform() {
    Step::get("10-cross-platform").assert_teaches().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step11_supply_chain() {
    Step::get("11-supply-chain").assert_teaches().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step12_allocator() {
    Step::get("12-allocator").assert_teaches().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step13_publish() {
    Step::get("13-publish").assert_teaches().await;
}
