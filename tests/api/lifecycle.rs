//! Start, graceful stop and restart on the same data directory.

use reqwest::StatusCode;

use playcore_testkit::app::spawn_app;

#[actix_web::test]
async fn two_applications_get_distinct_free_ports() {
    let first = spawn_app().await;
    let second = spawn_app().await;

    assert_ne!(first.port, 0);
    assert_ne!(first.port, second.port);
    assert_eq!(second.get("/healthz").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_graceful_stop_then_restart_serves_again_on_the_same_data() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let data_dir = app.data_dir.path().to_owned();

    let app = app.restart().await;

    assert_eq!(app.data_dir.path(), data_dir);
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
}
