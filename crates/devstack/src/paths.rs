//! Where things are: the data directory and the service binaries.

use std::path::{Path, PathBuf};

/// `.devstack/` at the root of the Cargo workspace containing the current
/// directory, or in the current directory outside one.
pub fn default_data_dir() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    workspace_root(&cwd).unwrap_or(cwd).join(".devstack")
}

/// The web front end's build (`web/dist/` in the workspace, or in the
/// current directory outside one), which the `web` service serves.
pub fn web_dist() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    workspace_root(&cwd).unwrap_or(cwd).join("web").join("dist")
}

/// How to make [`web_dist`], for the line devstack prints when it is missing.
pub const WEB_BUILD_HINT: &str = "(cd web && npm ci && npm run build)";

fn workspace_root(from: &Path) -> Option<PathBuf> {
    from.ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(Path::to_path_buf)
}

/// Finds already-built binaries: next to the devstack executable first (the
/// same `target/<profile>/` when built by cargo), then on `PATH`.
#[derive(Debug, Clone)]
pub struct BinaryFinder {
    beside: Option<PathBuf>,
    path: Vec<PathBuf>,
}

impl BinaryFinder {
    pub fn new() -> Self {
        let beside = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf));
        let path = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
        Self { beside, path }
    }

    pub fn with_dirs(beside: Option<PathBuf>, path: Vec<PathBuf>) -> Self {
        Self { beside, path }
    }

    pub fn find(&self, name: &str) -> Option<PathBuf> {
        self.beside.iter().chain(&self.path).map(|dir| dir.join(name)).find(|p| is_executable(p))
    }

    /// The error for binaries that are missing, naming each and the command that builds them.
    pub fn missing_error(&self, missing: &[&str]) -> String {
        let where_ = match &self.beside {
            Some(dir) => format!("next to devstack ({}) or on PATH", dir.display()),
            None => "on PATH".to_owned(),
        };
        // Built by cargo, devstack sits in target/debug or target/release: suggest the same profile.
        let release = self.beside.as_ref().is_some_and(|d| d.file_name().is_some_and(|n| n == "release"));
        let packages: Vec<String> = missing.iter().map(|m| format!("-p {m}")).collect();
        format!(
            "service binaries not found {where_}: {}. devstack builds nothing; build them first: \
             `cargo build{} {}` (or `cargo build{}` for the whole workspace)",
            missing.join(", "),
            if release { " --release" } else { "" },
            packages.join(" "),
            if release { " --release" } else { "" },
        )
    }
}

impl Default for BinaryFinder {
    fn default() -> Self {
        Self::new()
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn executable(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn binaries_beside_devstack_win_over_path() {
        let beside = tempfile::tempdir().unwrap();
        let on_path = tempfile::tempdir().unwrap();
        executable(beside.path(), "greeter");
        executable(on_path.path(), "greeter");
        let caller = executable(on_path.path(), "caller");
        std::fs::write(beside.path().join("lang"), "").unwrap(); // not executable
        let finder = BinaryFinder::with_dirs(Some(beside.path().into()), vec![on_path.path().into()]);
        assert_eq!(finder.find("greeter"), Some(beside.path().join("greeter")));
        assert_eq!(finder.find("caller"), Some(caller));
        assert_eq!(finder.find("lang"), None);
    }

    #[test]
    fn the_error_says_how_to_build_in_the_same_profile() {
        let finder = BinaryFinder::with_dirs(Some("/w/target/release".into()), vec![]);
        let err = finder.missing_error(&["gateway", "lang"]);
        assert!(err.contains("gateway, lang"), "{err}");
        assert!(err.contains("`cargo build --release -p gateway -p lang`"), "{err}");
        let debug = BinaryFinder::with_dirs(Some("/w/target/debug".into()), vec![]).missing_error(&["lang"]);
        assert!(debug.contains("`cargo build -p lang`"), "{debug}");
    }

    #[test]
    fn the_data_dir_sits_at_the_workspace_root() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        let nested = root.path().join("services/greeter");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(nested.join("Cargo.toml"), "[package]\nname = \"greeter\"\n").unwrap();
        assert_eq!(workspace_root(&nested), Some(root.path().to_path_buf()));
    }
}
