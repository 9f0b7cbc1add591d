//! The API document is kept true: it lists exactly the routes the app and the collector
//! register (read from their real route declarations), declares every path parameter, and
//! is what the app serves at `/api/openapi.json`.

mod common;

use std::collections::BTreeSet;

use common::services::services;
use serde_json::Value;
use stormscope_integration::{S3Server, shared_memcached};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(stormscope_app::http::OPENAPI).expect("openapi.json is JSON")
}

#[test]
fn the_document_lists_every_served_route_and_no_other() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                documented.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = stormscope_app::http::route_table()
        .into_iter()
        .chain(stormscope_collector::http::route_table())
        .map(|(method, path)| (method.as_str().to_owned(), path))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in openapi.json: {undocumented:?}; documented but not served: {unserved:?}"
    );
}

/// Resolves a `$ref` inside the document.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .expect("a $ref that resolves"),
        None => value,
    }
}

#[test]
fn every_path_parameter_is_declared_and_every_ref_resolves() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| resolve(&doc, p))
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(declared, in_path, "{method} {path}");
            for (status, response) in op["responses"].as_object().unwrap() {
                let response = resolve(&doc, response);
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {status}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_serves_the_document() {
    let s3 = S3Server::start();
    let s = services(&s3, &shared_memcached().addr().to_string()).await;
    let body = reqwest::get(format!("{}/api/openapi.json", s.app))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let served: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(served, document());
}
