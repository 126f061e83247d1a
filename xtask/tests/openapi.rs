//! web/openapi/ holds the REST services' OpenAPI documents, which the web
//! front end's typed clients are generated from (`npm run generate` in web/).
//! `UPDATE_OPENAPI=1 cargo test -p xtask --test openapi` rewrites them.

#[test]
fn the_web_copies_of_the_openapi_documents_are_fresh() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/openapi");
    let update = std::env::var_os("UPDATE_OPENAPI").is_some();
    let mut stale = Vec::new();
    for (service, fresh) in xtask::openapi_documents().unwrap() {
        let path = dir.join(format!("{service}.json"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &fresh).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(fresh.as_str()) {
            stale.push(format!("web/openapi/{service}.json"));
        }
    }
    assert!(
        stale.is_empty(),
        "{} stale: run `UPDATE_OPENAPI=1 cargo test -p xtask --test openapi`, then `npm run generate` in web/",
        stale.join(", ")
    );
}
