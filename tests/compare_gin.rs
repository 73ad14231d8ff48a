//! The original article's Go/gin service builds, answers PONG and is the size the book shows.
//! Runs workshop/tests/compare_gin.rs (`cargo workshop` and the harness are a package of their own).
mod workshop;

#[test]
fn the_articles_go_images_build_and_answer() {
    workshop::run("compare_gin");
}
