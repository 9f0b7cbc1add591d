//! The app's API over a real collector, memcached and s3s-fs, fed the two-host demo's real
//! probe bodies: the probe list matches what the original app answered for the same bodies.

mod common;

use std::io::Read;
use std::time::Duration;

use common::fixtures;
use common::services::{post_demo, segments, services};
use stormscope_integration::{Memcached, S3Server, shared_memcached};
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::time::Timestamp;
use stormscope_shared::{Format, Limits, TopologyKind};

/// GET `url` as `tenant`, with `headers`.
async fn send(url: &str, tenant: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(url)
        .header("X-Scope-OrgID", tenant);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn get(url: &str, tenant: &str, accept: Option<&str>) -> (u16, Option<String>, Vec<u8>) {
    let accept: Vec<_> = accept.map(|a| ("Accept", a)).into_iter().collect();
    let response = send(url, tenant, &accept).await;
    let status = response.status().as_u16();
    let degraded = header(&response, "x-stormscope-degraded");
    (status, degraded, response.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_and_report_match_the_original_app_for_the_demo_bodies() {
    let s3 = S3Server::start();
    let s = services(&s3, &shared_memcached().addr().to_string()).await;
    let tenant = format!("demo-{}", Timestamp::now().unix_millis());
    post_demo(&s.collector, &tenant).await;

    let (status, degraded, body) = get(&format!("{}/api/probes", s.app), &tenant, None).await;
    assert_eq!((status, degraded), (200, None));
    let ours: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let original: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("scope-probe/app-replay-probes.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        ours, original,
        "/api/probes as the original app answered after the same 14 bodies"
    );

    let (status, _, body) = get(&format!("{}/api/probes?sparse", s.app), &tenant, None).await;
    assert_eq!((status, body.as_slice()), (200, &b"true"[..]));

    let (status, degraded, body) = get(&format!("{}/api/report", s.app), &tenant, None).await;
    assert_eq!((status, degraded), (200, None));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(json.get("degraded").is_none());
    let report = codec::decode(
        &body,
        Compression::Identity,
        Format::Json,
        &Limits::default(),
    )
    .unwrap();
    let hosts: Vec<&String> = report.topology(TopologyKind::Host).nodes.keys().collect();
    assert_eq!(hosts, ["db-1.demo.local;<host>", "web-1.demo.local;<host>"]);
    assert_eq!(
        report.topology(TopologyKind::Process).nodes.len(),
        8,
        "4 processes per host, deltas merged into their full reports"
    );

    let (status, _, body) = get(
        &format!("{}/api/report", s.app),
        &tenant,
        Some("application/msgpack"),
    )
    .await;
    assert_eq!(status, 200);
    let from_msgpack = codec::decode(
        &body,
        Compression::Identity,
        Format::Msgpack,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        from_msgpack, report,
        "the same merged report in both encodings"
    );
}

/// `url` asked with `Accept-Encoding`: its `Content-Encoding`, `Vary` and body as sent.
async fn get_encoded(
    url: &str,
    tenant: &str,
    accept_encoding: &str,
) -> (Option<String>, String, Vec<u8>) {
    let response = send(url, tenant, &[("Accept-Encoding", accept_encoding)]).await;
    assert_eq!(response.status(), 200, "{url}");
    let encoding = header(&response, "content-encoding");
    let vary = header(&response, "vary").unwrap_or_default();
    (encoding, vary, response.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn get_answers_are_gzipped_for_clients_that_ask_and_plain_for_others() {
    let s3 = S3Server::start();
    let s = services(&s3, &shared_memcached().addr().to_string()).await;
    let tenant = format!("gzip-{}", Timestamp::now().unix_millis());
    post_demo(&s.collector, &tenant).await;

    let host = encode("web-1.demo.local;<host>");
    for path in [
        "/api".to_owned(),
        "/api/topology".to_owned(),
        "/api/topology/processes?unconnected=show".to_owned(),
        format!("/api/topology/hosts/{host}"),
        "/api/report".to_owned(),
        "/api/probes".to_owned(),
    ] {
        let url = format!("{}{path}", s.app);
        let (encoding, _, plain) = get_encoded(&url, &tenant, "identity").await;
        assert_eq!(encoding, None, "{path}: asked for identity");
        let (encoding, vary, gzipped) = get_encoded(&url, &tenant, "gzip, deflate, br").await;
        assert_eq!(encoding.as_deref(), Some("gzip"), "{path}");
        assert!(
            vary.to_ascii_lowercase().contains("accept-encoding"),
            "{path}: Vary {vary:?}"
        );
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(gzipped.as_slice())
            .read_to_end(&mut inflated)
            .unwrap();
        let json = |body: &[u8]| serde_json::from_slice::<serde_json::Value>(body).unwrap();
        assert_eq!(
            json(&inflated),
            json(&plain),
            "{path}: the same answer, gzipped"
        );
        if path.starts_with("/api/topology/processes") {
            assert!(
                gzipped.len() * 4 < plain.len(),
                "{} of {} bytes",
                gzipped.len(),
                plain.len()
            );
        }
    }
    // A client that says nothing of encodings (probes, load tests) gets the plain body.
    let (status, _, body) = get(&format!("{}/api/probes", s.app), &tenant, None).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_only_see_their_own_probes_and_reports() {
    let s3 = S3Server::start();
    let s = services(&s3, &shared_memcached().addr().to_string()).await;
    let stamp = Timestamp::now().unix_millis();
    let (owner, other) = (format!("owner-{stamp}"), format!("other-{stamp}"));
    post_demo(&s.collector, &owner).await;
    let (_, _, body) = get(&format!("{}/api/probes", s.app), &other, None).await;
    assert_eq!(body, b"[]");
    let (_, _, body) = get(&format!("{}/api/probes?sparse", s.app), &other, None).await;
    assert_eq!(body, b"false");
    let (_, _, body) = get(&format!("{}/api/report", s.app), &other, None).await;
    let report = codec::decode(
        &body,
        Compression::Identity,
        Format::Json,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(report.node_count(), 0);
    // Every view, and the owner's views are not empty (so the other tenant's would show a leak).
    for view in stormscope_app::render::VIEWS {
        let (status, _, body) = get(&format!("{}/api/topology/{view}", s.app), &other, None).await;
        assert_eq!(status, 200, "{view}");
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["nodes"], serde_json::json!({}), "{view} leaks");
    }
    for view in ["hosts", "processes"] {
        let (_, _, body) = get(&format!("{}/api/topology/{view}", s.app), &owner, None).await;
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(!json["nodes"].as_object().unwrap().is_empty(), "{view}");
    }
    for path in ["/api/topology/hosts", "/api/topology/hosts/ws"] {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", s.app))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{path} without a tenant");
    }
    let response = reqwest::Client::new()
        .get(format!("{}/api/report", s.app))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401, "no tenant header, no data");
    let (status, _, _) = get(
        &format!("{}/api/report?timestamp=yesterday", s.app),
        &owner,
        None,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_memcached_down_answers_come_from_the_object_store_and_say_so() {
    let s3 = S3Server::start();
    let mut memcached = Memcached::start();
    let s = services(&s3, &memcached.addr().to_string()).await;
    let tenant = format!("degraded-{}", Timestamp::now().unix_millis());
    post_demo(&s.collector, &tenant).await;
    // Let the collector seal and upload the segments, then take the cache away.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while segments(&s3) < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "segments never uploaded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    memcached.kill();
    let (status, degraded, body) = get(&format!("{}/api/report", s.app), &tenant, None).await;
    assert_eq!(status, 200);
    assert!(
        degraded.as_deref().is_some_and(|d| d.contains("cache")),
        "{degraded:?}"
    );
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        json["degraded"]["sources"][0], "cache",
        "{}",
        json["degraded"]
    );
    let report = codec::decode(
        &body,
        Compression::Identity,
        Format::Json,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        report.topology(TopologyKind::Host).nodes.len(),
        2,
        "both hosts, from the object store"
    );
    let (_, degraded, body) = get(&format!("{}/api/topology/hosts", s.app), &tenant, None).await;
    assert!(degraded.is_some());
    let hosts: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        hosts["nodes"].as_object().unwrap().len(),
        2,
        "the view renders from the object store"
    );
    assert_eq!(hosts["degraded"]["sources"][0], "cache");
    let (status, degraded, body) = get(
        &format!(
            "{}/api/topology/hosts/{}",
            s.app,
            encode("db-1.demo.local;<host>")
        ),
        &tenant,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        degraded.as_deref().is_some_and(|d| d.contains("cache")),
        "{degraded:?}"
    );
    let node: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(node["node"]["id"], "db-1.demo.local;<host>");
    assert_eq!(
        node["degraded"]["sources"][0], "cache",
        "{}",
        node["degraded"]
    );
    let (status, degraded, body) = get(&format!("{}/api/topology", s.app), &tenant, None).await;
    assert_eq!(status, 200);
    assert!(
        degraded.as_deref().is_some_and(|d| d.contains("cache")),
        "an array answer says so in its header: {degraded:?}"
    );
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(stats_of(&list, "/api/topology/hosts")["node_count"], 2);
    let (_, degraded, body) = get(&format!("{}/api/probes", s.app), &tenant, None).await;
    assert!(degraded.is_some());
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// A view's stats in a `GET /api/topology` answer, found by its url among views and their
/// sub-topologies.
fn stats_of(list: &serde_json::Value, url: &str) -> serde_json::Value {
    list.as_array()
        .unwrap()
        .iter()
        .flat_map(|top| {
            let subs = top["sub_topologies"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            std::iter::once(top.clone()).chain(subs)
        })
        .find(|desc| desc["url"] == url)
        .unwrap_or_else(|| panic!("{url} not listed"))["stats"]
        .clone()
}

fn stats(nodes: u64, nonpseudo: u64, edges: u64, filtered: u64) -> serde_json::Value {
    serde_json::json!({
        "node_count": nodes,
        "nonpseudo_node_count": nonpseudo,
        "edge_count": edges,
        "filtered_nodes": filtered,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn with_both_stores_down_a_view_is_an_empty_answer_that_says_why() {
    let mut s3 = S3Server::start();
    let mut memcached = Memcached::start();
    let s = services(&s3, &memcached.addr().to_string()).await;
    memcached.kill();
    s3.kill();
    let (status, degraded, body) = get(
        &format!("{}/api/topology/hosts", s.app),
        "nobody-home",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let header = degraded.unwrap_or_default();
    assert!(
        header.contains("cache") && header.contains("object-store"),
        "{header}"
    );
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["nodes"], serde_json::json!({}));
    let sources = json["degraded"]["sources"].as_array().unwrap();
    assert!(sources.contains(&"cache".into()) && sources.contains(&"object-store".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn topology_registry_and_options_follow_the_tenants_window() {
    let s3 = S3Server::start();
    let s = services(&s3, &shared_memcached().addr().to_string()).await;
    let stamp = Timestamp::now().unix_millis();
    let (owner, other) = (format!("registry-{stamp}"), format!("empty-{stamp}"));
    post_demo(&s.collector, &owner).await;

    let (status, degraded, body) = get(&format!("{}/api/topology", s.app), &owner, None).await;
    assert_eq!((status, degraded), (200, None));
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Containers",
            "Hosts",
            "Pods",
            "Processes",
            "Services",
            "Tasks"
        ]
    );
    assert_eq!(
        stats_of(&list, "/api/topology/processes"),
        stats(8, 8, 4, 0),
        "no options: every process, connected or not"
    );
    assert_eq!(stats_of(&list, "/api/topology/hosts"), stats(2, 2, 3, 0));
    // The live window it answered from counts against the memory budget, in `/metrics`. The
    // gauge is the process's, and the other tests' apps in this binary set it from their own
    // (empty) windows on their eviction timers: query again until ours is the last word.
    let mut live_bytes = 0.0;
    for _ in 0..20 {
        get(&format!("{}/api/topology", s.app), &owner, None).await;
        let (_, _, metrics) = get(&format!("{}/metrics", s.app), &owner, None).await;
        let metrics = String::from_utf8(metrics).unwrap();
        live_bytes = metrics
            .lines()
            .find_map(|l| l.strip_prefix("stormscope_app_cache_bytes{cache=\"live_windows\"} "))
            .expect("live windows' bytes in /metrics")
            .parse()
            .unwrap();
        if live_bytes > 0.0 {
            break;
        }
    }
    assert!(live_bytes > 0.0, "{live_bytes}");
    // A view rendered from it is kept, and its heads for the next render: both weighed (the
    // same as above: other apps' renders of empty views may have the last word for a while).
    for cache in ["renders", "kept_heads"] {
        let prefix = format!("stormscope_app_cache_bytes{{cache=\"{cache}\"}} ");
        let mut bytes = 0.0;
        for attempt in 0..20 {
            // Renders are shared until the window changes: posting the bodies again makes
            // the next query a render of its own, which records its bytes again.
            if attempt > 0 {
                post_demo(&s.collector, &owner).await;
            }
            let processes = format!("{}/api/topology/processes", s.app);
            get(&processes, &owner, None).await;
            let (_, _, metrics) = get(&format!("{}/metrics", s.app), &owner, None).await;
            bytes = String::from_utf8(metrics)
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .unwrap_or_else(|| panic!("{cache}' bytes in /metrics"))
                .parse()
                .unwrap();
            if bytes > 0.0 {
                break;
            }
        }
        assert!(bytes > 0.0, "{cache}: {bytes}");
    }
    assert_eq!(
        stats_of(&list, "/api/topology/pods"),
        stats(0, 0, 0, 0),
        "no Kubernetes in the demo"
    );

    // Options in the query string change the stats, as rendering the same window does.
    let (_, _, body) = get(
        &format!("{}/api/topology?unconnected=hide", s.app),
        &owner,
        None,
    )
    .await;
    let hidden: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        stats_of(&hidden, "/api/topology/processes"),
        stats(4, 4, 4, 4)
    );
    let (_, _, raw) = get(&format!("{}/api/report", s.app), &owner, None).await;
    let mut report = codec::decode(
        &raw,
        Compression::Identity,
        Format::Json,
        &Limits::default(),
    )
    .unwrap();
    report.remove_part_merged_nodes();
    let expected = serde_json::to_value(stormscope_app::render::topologies(
        &report,
        &stormscope_app::render::Options::from_query("unconnected=hide"),
    ))
    .unwrap();
    assert_eq!(hidden, expected);

    // A tenant without reports has every view empty.
    let (status, _, body) = get(&format!("{}/api/topology", s.app), &other, None).await;
    assert_eq!(status, 200);
    let empty: serde_json::Value = serde_json::from_slice(&body).unwrap();
    for desc in empty.as_array().unwrap() {
        let url = desc["url"].as_str().unwrap();
        assert_eq!(stats_of(&empty, url), stats(0, 0, 0, 0), "{url}");
        for sub in desc["sub_topologies"].as_array().into_iter().flatten() {
            let url = sub["url"].as_str().unwrap();
            assert_eq!(stats_of(&empty, url), stats(0, 0, 0, 0), "{url}");
        }
    }

    // One view with options: `unconnected=hide` drops the processes no connection touches.
    let processes = |query: &'static str| {
        let app = s.app.clone();
        let owner = owner.clone();
        async move {
            let (status, _, body) = get(
                &format!("{app}/api/topology/processes{query}"),
                &owner,
                None,
            )
            .await;
            assert_eq!(status, 200, "{query}");
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            json["nodes"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<std::collections::BTreeSet<String>>()
        }
    };
    let all = processes("").await;
    assert_eq!(all.len(), 8);
    assert_eq!(processes("?unconnected=show").await, all);
    let connected = processes("?unconnected=hide").await;
    assert_eq!(
        all.difference(&connected).cloned().collect::<Vec<_>>(),
        [
            "db-1.demo.local;1",
            "db-1.demo.local;11",
            "web-1.demo.local;1",
            "web-1.demo.local;8"
        ]
    );
    let (status, _, _) = get(&format!("{}/api/topology/weave", s.app), &owner, None).await;
    assert_eq!(status, 200, "the new views are served");
}

/// What the UI's `encodeURIComponent` leaves of a node id in a URL.
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn node_details_answer_for_encoded_ids_and_only_for_their_tenant() {
    let s3 = S3Server::start();
    let s = services(&s3, &shared_memcached().addr().to_string()).await;
    let stamp = Timestamp::now().unix_millis();
    let (owner, other) = (format!("owner-{stamp}"), format!("other-{stamp}"));
    post_demo(&s.collector, &owner).await;
    let node_url = |view: &str, id: &str| format!("{}/api/topology/{view}/{}", s.app, encode(id));

    let url = node_url("hosts", "web-1.demo.local;<host>");
    assert!(
        url.ends_with("/hosts/web-1.demo.local%3B%3Chost%3E"),
        "{url}"
    );
    let (status, degraded, body) = get(&url, &owner, None).await;
    assert_eq!((status, degraded), (200, None));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(json.get("degraded").is_none());
    let node = &json["node"];
    assert_eq!(node["id"], "web-1.demo.local;<host>");
    assert_eq!(node["label"], "web-1");
    assert_eq!(node["controls"], serde_json::json!([]));
    assert_eq!(node["children"][0]["label"], "Processes");
    assert_eq!(node["children"][0]["nodes"].as_array().unwrap().len(), 4);

    // A process name is a path: its `/`s travel as %2F inside the one id segment.
    let url = node_url("processes-by-name", "/opt/demo/bin/frontend");
    assert!(url.ends_with("/%2Fopt%2Fdemo%2Fbin%2Ffrontend"), "{url}");
    let (status, _, body) = get(&url, &owner, None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["node"]["id"], "/opt/demo/bin/frontend");
    let outbound = &json["node"]["connections"][1];
    assert_eq!(outbound["id"], "outgoing-connections");
    assert_eq!(outbound["connections"][0]["nodeId"], "/opt/demo/bin/api");
    assert_eq!(outbound["connections"][0]["metadata"][0]["value"], "8000");

    // The request's options hide web-1's unconnected shell, yet a link to it still answers,
    // as Scope's do; ids the view does not render at all do not.
    let hidden = format!(
        "{}?unconnected=hide",
        node_url("processes", "web-1.demo.local;1")
    );
    let (status, _, body) = get(&hidden, &owner, None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["node"]["id"], "web-1.demo.local;1");
    let (_, _, body) = get(
        &format!("{}/api/topology/processes?unconnected=hide", s.app),
        &owner,
        None,
    )
    .await;
    let view: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(view["nodes"].get("web-1.demo.local;1").is_none());
    let missing = format!(
        "{}?unconnected=hide",
        node_url("processes", "web-1.demo.local;999")
    );
    assert_eq!(get(&missing, &owner, None).await.0, 404);

    let (status, _, body) = get(&node_url("hosts", "nowhere;<host>"), &owner, None).await;
    assert_eq!(status, 404);
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("nowhere;<host>"),
        "{error}"
    );
    let (status, _, _) = get(
        &node_url("no-such-view", "web-1.demo.local;<host>"),
        &owner,
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Another tenant asking for the owner's node learns nothing of it.
    let (status, _, body) = get(&node_url("hosts", "web-1.demo.local;<host>"), &other, None).await;
    assert_eq!(status, 404);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(json.get("node").is_none());
}
