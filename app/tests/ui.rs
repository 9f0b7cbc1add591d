//! The embedded browser UI over the app's real HTTP stack (in process): `/` is the committed
//! `ui/dist/index.html`, revalidated on every load; the hashed assets it names are served with
//! their content types, cached for a year, and gzipped for clients that take gzip.

use std::io::Read;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::test::{self, TestRequest};
use stormscope_app::{App, AppConfig};

fn dist(path: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../ui/dist")
            .join(path),
    )
    .unwrap()
}

/// The `assets/...` URLs the committed page references.
fn referenced_assets() -> Vec<String> {
    let html = String::from_utf8(dist("index.html")).unwrap();
    let mut found = Vec::new();
    for part in html.split('"').filter(|p| p.starts_with("assets/")) {
        found.push(part.to_owned());
    }
    found
}

macro_rules! service {
    () => {{
        let dir = tempfile::tempdir().unwrap();
        let app = App::start(AppConfig::local(&format!(
            "file://{}",
            dir.path().display()
        )))
        .unwrap();
        let service = test::init_service(actix_web::App::new().configure(app.configure())).await;
        (service, dir)
    }};
}

#[actix_web::test]
async fn index_is_the_committed_page_revalidated_on_every_load() {
    let (service, _dir) = service!();
    let response = test::call_service(&service, TestRequest::get().uri("/").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-cache");
    assert_eq!(
        headers.get(header::CONTENT_TYPE).unwrap(),
        "text/html; charset=utf-8"
    );
    assert!(
        headers.get(header::CONTENT_ENCODING).is_none(),
        "no gzip unless asked"
    );
    let etag = headers
        .get(header::ETAG)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body = test::read_body(response).await;
    assert_eq!(body.as_ref(), dist("index.html").as_slice());

    // Relative URLs only: the page works under any path prefix.
    let html = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        !html.contains("src=\"/") && !html.contains("href=\"/"),
        "{html}"
    );
    assert_eq!(
        referenced_assets().len(),
        2,
        "one script and one stylesheet: {html}"
    );

    let revalidated = test::call_service(
        &service,
        TestRequest::get()
            .uri("/")
            .insert_header((header::IF_NONE_MATCH, etag))
            .to_request(),
    )
    .await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
}

#[actix_web::test]
async fn hashed_assets_are_immutable_typed_and_gzipped() {
    let (service, _dir) = service!();
    for path in referenced_assets() {
        let plain = test::call_service(
            &service,
            TestRequest::get().uri(&format!("/{path}")).to_request(),
        )
        .await;
        assert_eq!(plain.status(), StatusCode::OK, "{path}");
        assert_eq!(
            plain.headers().get(header::CACHE_CONTROL).unwrap(),
            "public, max-age=31536000, immutable"
        );
        let expected_type = if path.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(
            plain.headers().get(header::CONTENT_TYPE).unwrap(),
            expected_type,
            "{path}"
        );
        assert_eq!(
            test::read_body(plain).await.as_ref(),
            dist(&path).as_slice()
        );

        let gzipped = test::call_service(
            &service,
            TestRequest::get()
                .uri(&format!("/{path}"))
                .insert_header((header::ACCEPT_ENCODING, "br, gzip;q=0.9"))
                .to_request(),
        )
        .await;
        assert_eq!(
            gzipped.headers().get(header::CONTENT_ENCODING).unwrap(),
            "gzip",
            "{path}"
        );
        assert_eq!(
            gzipped.headers().get(header::VARY).unwrap(),
            "Accept-Encoding"
        );
        let body = test::read_body(gzipped).await;
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(body.as_ref())
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, dist(&path), "{path}");
        assert!(body.len() < unzipped.len() / 2, "{path} compresses");

        let refused = test::call_service(
            &service,
            TestRequest::get()
                .uri(&format!("/{path}"))
                .insert_header((header::ACCEPT_ENCODING, "gzip;q=0"))
                .to_request(),
        )
        .await;
        assert!(refused.headers().get(header::CONTENT_ENCODING).is_none());
    }
}

#[actix_web::test]
async fn the_layout_worker_is_served_and_unknown_assets_are_404() {
    let (service, _dir) = service!();
    let script = referenced_assets()
        .into_iter()
        .find(|p| p.ends_with(".js"))
        .unwrap();
    let js = String::from_utf8(dist(&script)).unwrap();
    let worker = js
        .split('"')
        .find(|p| p.starts_with("assets/layout-") && p.ends_with(".js"))
        .expect("the page names its layout worker");
    let response = test::call_service(
        &service,
        TestRequest::get().uri(&format!("/{worker}")).to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get(header::CONTENT_TYPE).unwrap(),
        "text/javascript; charset=utf-8"
    );

    for missing in [
        "/assets/app-NOTTHERE.js",
        "/assets/..%2Findex.html",
        "/assets/",
    ] {
        let response =
            test::call_service(&service, TestRequest::get().uri(missing).to_request()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
        if missing != "/assets/" {
            // Past the router (an empty name matches no route), the UI's 404 is JSON too.
            assert_eq!(
                response.headers().get(header::CONTENT_TYPE).unwrap(),
                "application/json",
                "{missing}: errors are JSON"
            );
        }
    }
}
