# Evaluates the environments without building anything (Nix 2.8 is enough):
# the flake's modules through nixidy's own mkEnvs, with a stub `pkgs` that has
# only `lib`, and `platform.helm.render = false` (Helm charts need a build).
# nix/k8s/render.sh turns the result into YAML files.
#
# The result, per environment:
#   files  "<app>/<Kind>-<name>.yaml" -> the object (or the list of objects
#          sharing that file), exactly nixidy's environmentPackage layout:
#          build.nix's mkApp groups each public application's objects (after
#          its transforms) by lib.nix's objectBaseName under app.output.path
#   helm   the Helm releases that were not rendered: app, chart pin, values
#   manifestHeader  the comment render.py puts atop each of `files`
{
  # nixpkgs' lib (a nixpkgs or nixpkgs.lib checkout's lib/)
  lib,
  # a checkout of github:arnarg/nixidy (the flake.lock revision)
  nixidy,
  # a checkout of github:farcaller/nix-kube-generators
  kubeGenerators,
  root ? ../..,
}:
let
  nixidyLib = import (nixidy + "/make-env.nix") { kubelib.lib = import (kubeGenerators + "/lib"); };
  helpers = import (nixidy + "/modules/applications/lib.nix") lib;
  k8s = import ./. { inherit lib root; };

  envs = k8s.mkEnvs {
    inherit nixidyLib;
    pkgs = { inherit lib; };
    extraModules = [ { platform.helm.render = false; } ];
  };

  render =
    name: env:
    let
      inherit (env) config;
      failed = lib.filter (a: !a.assertion) (
        config.nixidy.assertions ++ lib.concatMap (app: app.assertions) (lib.attrValues config.applications)
      );
      warnings = lib.filter (w: w.when) (
        config.nixidy.warnings ++ lib.concatMap (app: app.warnings) (lib.attrValues config.applications)
      );
      appFiles =
        app:
        let
          grouped = builtins.groupBy helpers.objectBaseName config.build._transformedObjects.${app};
        in
        lib.mapAttrs' (
          base: objs:
          lib.nameValuePair "${config.applications.${app}.output.path}/${base}.yaml" (
            if lib.length objs == 1 then
              lib.head objs
            else
              lib.sort (a: b: (a.metadata.namespace or "") < (b.metadata.namespace or "")) objs
          )
        ) grouped;
      result = {
        inherit (k8s) manifestHeader;
        rootPath = config.nixidy.target.rootPath;
        files = lib.foldl' (acc: app: acc // appFiles app) { } config.nixidy.publicApps;
        helm = lib.mapAttrs (release: r: {
          inherit (r) app chart values;
          namespace = config.applications.${r.app}.namespace;
        }) config.platform.helm.releases;
      };
    in
    if failed != [ ] then
      throw (
        "nix/k8s (${name}): failed assertions:\n"
        + lib.concatMapStringsSep "\n" (a: "- ${a.context}: ${a.message}") failed
      )
    else if warnings != [ ] then
      builtins.trace (lib.concatMapStringsSep "\n" (
        w: "warning (${name}, ${w.context}): ${w.message}"
      ) warnings) result
    else
      result;
in
lib.mapAttrs render envs
