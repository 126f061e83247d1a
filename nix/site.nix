# The web front end (web/: React + Vite), built from the committed
# web/package-lock.json with no network in the build: importNpmLock turns the
# lock into fetchurl sources and its config hook installs them. The generated
# clients (web/src/gen) are committed, so no buf is needed. `npm run build`
# writes dist/, which is the whole output.
{
  pkgs,
  # the repository (the flake's ./.)
  root,
  version,
}:
let
  inherit (pkgs) lib;
  web = root + "/web";
  # What `npm ci` and `npm run build` read: not node_modules, dist, the e2e
  # tests' output or screenshots.
  src = lib.fileset.toSource {
    root = web;
    fileset = lib.fileset.unions [
      (web + "/package.json")
      (web + "/package-lock.json")
      (web + "/index.html")
      (web + "/tsconfig.json")
      (web + "/vite.config.ts")
      (lib.fileset.maybeMissing (web + "/public"))
      (web + "/src")
      (lib.fileset.maybeMissing (web + "/scripts"))
    ];
  };
in
pkgs.buildNpmPackage {
  pname = "platform-site";
  inherit version src;
  npmDeps = pkgs.importNpmLock { npmRoot = src; };
  npmConfigHook = pkgs.importNpmLock.npmConfigHook;
  npmBuildScript = "build";
  installPhase = ''
    runHook preInstall
    cp -r dist $out
    runHook postInstall
  '';
}
