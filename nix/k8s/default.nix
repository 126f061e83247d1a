# The platform on Kubernetes, as nixidy environments. One set of modules
# (below) shared by every environment; ./envs/<env>.nix only sets options.
#
#   flake.nix      nixidyEnvs.<system> = (import ./nix/k8s {...}).mkEnvs { nixidyLib = nixidy.lib; inherit pkgs; }
#   render.sh      the same modules, evaluated with a stub `pkgs` and
#                  `platform.helm.render = false` (Nix 2.8 cannot build Helm charts)
#
# What each service gets comes from nix/services.nix through nix/lib.nix's
# `k8sDefaults` (the same description the flake builds packages and images
# from); the edge's routes come from deploy/edge/edge.toml.
{
  lib,
  # the repository (the flake's ./.)
  root,
}:
let
  platformLib = import ../lib.nix { inherit lib; };
  platform = platformLib.platform { inherit root; };

  # Kubernetes defaults of every service whose crate exists, and whether it
  # verifies tokens itself: every service but the issuer (auth) does, with
  # AUTH_JWKS_URL, and so calls auth (nix/services.nix `tokenIssuer`).
  services = lib.mapAttrs (
    _: entry:
    platformLib.k8sDefaults {
      inherit (platform) declared;
      inherit entry;
      version = platformLib.crateVersion root entry.crateDir;
    }
    // {
      verifiesTokens = platformLib.isTokenClient entry;
      inherit (entry) tokenIssuer;
      # Whether it calls a peer through a circuit breaker (an
      # upstream_breaker_state series): any peer but the issuer, whose keys
      # and token endpoint every client reaches through crates/authn, which
      # has none. (gateway's own calls to auth have one; it calls lang too.)
      callsThroughBreakers = lib.any (peer: !platform.declared.${peer}.tokenIssuer) entry.peers;
    }
  ) platform.services;

  edge = builtins.fromTOML (builtins.readFile (root + "/deploy/edge/edge.toml"));

  modules = [
    {
      _module.args.platformSource = {
        inherit services edge;
        inherit (platform) declared;
      };
    }
    ./options.nix
    ./namespaces.nix
    ./helm.nix
    ./service.nix
    ./postgres.nix
    ./edge.nix
    ./observability.nix
  ];

  envs = {
    dev.modules = [ ./envs/dev.nix ];
    prod.modules = [ ./envs/prod.nix ];
  };
in
{
  inherit
    services
    edge
    modules
    envs
    ;
  inherit (platform) declared;

  # nixidy.lib.mkEnvs over the shared modules: { dev = <env>; prod = <env>; }.
  mkEnvs =
    {
      nixidyLib,
      pkgs,
      extraModules ? [ ],
    }:
    nixidyLib.mkEnvs {
      inherit pkgs envs;
      modules = modules ++ extraModules;
    };

  # `nix run .#gen-manifests`: every environment's activation script (what
  # `nixidy switch .#<env>` runs), from the repository root, so each writes
  # deploy/k8s/manifests/<env>/.
  genManifests =
    { pkgs, nixidyEnvs }:
    pkgs.writeShellApplication {
      name = "gen-manifests";
      text = ''
        if [ ! -f flake.nix ] || [ ! -d deploy/k8s ]; then
          echo "gen-manifests: run this from the repository root" >&2
          exit 1
        fi
        ${lib.concatMapStrings (env: ''
          echo "==> ${env}"
          ${nixidyEnvs.${env}.activationPackage}/activate
        '') (lib.attrNames nixidyEnvs)}
      '';
    };
}
