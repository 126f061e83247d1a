//! The files under deploy/edge/traefik/ are what deploy/edge/edge.toml renders to.

mod support;

use std::fs;

const REGENERATE: &str =
    "regenerate them with `UPDATE_EDGE=1 cargo test -p edge --test committed` and commit the result";

#[test]
fn committed_traefik_files_match_a_fresh_render() {
    let (static_config, dynamic) = support::rendered_defaults();
    let dir = support::traefik_dir();
    let files = [("static.yml", static_config), ("dynamic.yml", dynamic)];

    if std::env::var_os("UPDATE_EDGE").is_some_and(|value| !value.is_empty()) {
        fs::create_dir_all(&dir).expect("create deploy/edge/traefik");
        for (name, text) in &files {
            fs::write(dir.join(name), text).unwrap_or_else(|error| panic!("write {name}: {error}"));
            eprintln!("wrote {}", dir.join(name).display());
        }
        return;
    }

    for (name, fresh) in &files {
        let path = dir.join(name);
        let committed = fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}; {REGENERATE}", path.display()));
        if &committed != fresh {
            let line = committed.lines().zip(fresh.lines()).position(|(a, b)| a != b).map_or_else(
                || "the files differ in length".to_owned(),
                |index| format!("first difference at line {}", index + 1),
            );
            panic!("deploy/edge/traefik/{name} is stale ({line}); {REGENERATE}");
        }
    }
}

#[test]
fn committed_static_file_points_at_the_committed_dynamic_file() {
    let static_config = support::parse(&support::rendered_defaults().0);
    let filename = static_config["providers"]["file"]["filename"].as_str().expect("providers.file.filename");
    assert_eq!(support::repo().join(filename), support::traefik_dir().join("dynamic.yml"));
}
