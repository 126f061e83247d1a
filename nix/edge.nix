# The platform's edge as the Nix layer reads it. deploy/edge/edge.toml is the
# one description; crates/edge renders Traefik's configuration from it into
# deploy/edge/traefik/{static,dynamic}.yml (pretty-printed JSON, which Traefik
# reads as YAML), and a test in that crate fails when the committed files are
# stale. Nix reads those same bytes with builtins.fromJSON, so the NixOS VM
# tests run exactly the routing that devstack and Kubernetes run (but, like
# Kubernetes, the routes to a web service for now; see below).
#
# A router's upstream is a service of services.toml, which says how to reach
# it (its port; h2c for a `grpc` service, HTTP for a `rest` or `web` one):
# `upstreams`. Routers to a web service are left out (nix/lib.nix
# `deployedEdge`, `deployedDynamic`): the web service is deployed by Nix in
# part 2 (issue 21).
#
# Needs only nixpkgs' `lib` (no packages), so nix/tests/eval.nix can check it.
# Tests may pass other contents than the committed files' (`description`:
# services.toml's tables, `edgeToml`, `dynamicYml`: as read).
{
  lib,
  description ? null,
  edgeToml ? null,
  dynamicYml ? null,
}:
root:
let
  inherit (builtins)
    fromJSON
    fromTOML
    pathExists
    readFile
    ;
  platformLib = import ./lib.nix { inherit lib; };
  platform = platformLib.platform (
    { inherit root; } // lib.optionalAttrs (description != null) { inherit description; }
  );
  inherit (platform) declared;

  dir = root + "/deploy/edge";
  staticFile = dir + "/traefik/static.yml";
  committedDynamicFile = dir + "/traefik/dynamic.yml";
  committedDynamic =
    if dynamicYml != null then dynamicYml else fromJSON (readFile committedDynamicFile);
in
rec {
  inherit staticFile;

  # Whether edge.toml and both rendered files are in this checkout; the VM
  # tests exist only when they are.
  present =
    pathExists (dir + "/edge.toml") && pathExists staticFile && pathExists committedDynamicFile;

  # edge.toml without the routers to a web service.
  source = platformLib.deployedEdge platform (
    if edgeToml != null then edgeToml else fromTOML (readFile (dir + "/edge.toml"))
  );

  # The services the routers name, each with its scheme by its kind:
  # { greeter = { scheme = "h2c"; }; ... }. An [upstreams] table is not read.
  upstreams = platformLib.edgeUpstreams declared source;

  # Traefik's static configuration as committed, minus its file provider:
  # the committed one names the dynamic file relative to the repository root
  # (for `traefik --configFile=deploy/edge/traefik/static.yml` there), and the
  # NixOS module adds a provider for the path it is given instead.
  staticSettings = removeAttrs (fromJSON (readFile staticFile)) [ "providers" ];

  # dynamic.yml without the routers to a web service (and their services).
  dynamic = platformLib.deployedDynamic platform committedDynamic;

  # The file Traefik reads: the committed dynamic.yml itself, or when a
  # router was left out, the rest of it written to the store.
  dynamicFile =
    if dynamic == committedDynamic then
      committedDynamicFile
    else
      builtins.toFile "dynamic.yml" (builtins.toJSON dynamic);

  # edge.toml's [trusted_proxies]: where the edge's requests reach auth from,
  # by where the platform runs (`local`: devstack and the VM tests;
  # `kubernetes`: both Kubernetes environments). auth believes
  # X-Forwarded-For only from these (AUTH_TRUSTED_PROXIES, comma-separated).
  trustedProxies = source.trusted_proxies or { };
  trustedProxiesEnv = where: {
    AUTH_TRUSTED_PROXIES = lib.concatStringsSep "," (
      source.trusted_proxies.${where} or (throw "deploy/edge/edge.toml: no trusted_proxies.${where}")
    );
  };

  webPort = source.entrypoint.port;
  metricsPort = source.entrypoint.metrics_port;

  # services.traefik for one host running the whole platform on loopback at
  # the services' default ports (what dynamic.yml targets).
  #
  # nixos-26.05's module has `static.settings` and `dynamic.file`; earlier
  # releases had `staticConfigOptions` and `dynamicConfigFile`, which later
  # ones keep as renamed options. Whichever this NixOS declares is used, so
  # the test works on both sides of the rename without a rename warning.
  traefikConfig =
    traefikOptions:
    if traefikOptions ? static && traefikOptions ? dynamic then
      {
        enable = true;
        static.settings = staticSettings;
        dynamic.file = dynamicFile;
      }
    else
      {
        enable = true;
        staticConfigOptions = staticSettings;
        dynamicConfigFile = dynamicFile;
      };
}
