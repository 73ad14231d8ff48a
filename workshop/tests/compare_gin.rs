//! The original article's Go/gin service (compare/gin/), built the article's way
//! into scratch, as written and in gin's release mode: each builds, answers PONG, and
//! is the size the book's comparison shows. `instructor compare` measures them beside
//! our final image.

#[tokio::test(flavor = "multi_thread")]
async fn the_articles_go_service_builds_and_answers() {
    for contender in workshop::contenders::Contender::go_images().unwrap() {
        contender.assert_answers_as_the_book_shows().await;
    }
}
