//! The files under deploy/compose/ are what the descriptions render to.

mod support;

use std::{fs, os::unix::fs::PermissionsExt};

#[test]
fn committed_files_match_a_fresh_render() {
    let dir = support::compose_dir();
    let update = std::env::var_os("UPDATE_COMPOSE").is_some_and(|value| !value.is_empty());
    for file in support::rendered() {
        let path = dir.join(file.path);
        let mode = if file.executable { 0o755 } else { 0o644 };
        if update {
            fs::create_dir_all(path.parent().expect("under deploy/compose")).expect("create the directory");
            fs::write(&path, &file.text).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("set the file's mode");
            eprintln!("wrote {}", path.display());
            continue;
        }
        let committed = fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!("cannot read {}: {error}; regenerate with `{}` and commit", path.display(), compose::REGENERATE)
        });
        if committed != file.text {
            let line = committed.lines().zip(file.text.lines()).position(|(a, b)| a != b).map_or_else(
                || "the files differ in length".to_owned(),
                |index| format!("first difference at line {}", index + 1),
            );
            panic!(
                "deploy/compose/{} is stale ({line}); regenerate with `{}` and commit",
                file.path,
                compose::REGENERATE
            );
        }
        let executable = fs::metadata(&path).expect("stat").permissions().mode() & 0o111 != 0;
        assert_eq!(
            executable,
            file.executable,
            "deploy/compose/{}: {}",
            file.path,
            if file.executable {
                "must be executable (chmod +x, and commit the mode)"
            } else {
                "must not be executable"
            }
        );
    }
}

#[test]
fn every_platform_image_is_the_nix_built_one_at_the_workspace_version() {
    let document = support::document();
    for service in compose::Inputs::built_in().services.services() {
        let image = document["services"][&service.name]["image"].as_str().expect("an image");
        assert_eq!(image, format!("platform/{}:{}", service.name, env!("CARGO_PKG_VERSION")));
        // Nix tags each image with its crate's version: every service takes the workspace's.
        let manifest = fs::read_to_string(support::repo().join(format!("services/{}/Cargo.toml", service.name)))
            .expect("the service's manifest");
        assert!(manifest.contains("version.workspace = true"), "services/{}: version.workspace = true", service.name);
    }
}
