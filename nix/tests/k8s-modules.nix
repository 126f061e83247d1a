# nix/k8s's option and service modules evaluated without nixidy (for
# ./eval.nix and ./k8s.nix): ../k8s/options.nix and ../k8s/service.nix with
# stand-ins for the two nixidy options they set, `nixidy` and
# `applications`, as plain data. What a service's Deployment, HPA and
# NetworkPolicy get can be read off `applications.<service>.resources`;
# nix/k8s/render.sh evaluates the same modules through nixidy itself.
{ lib }:
{
  # { services, edge, declared }: what nix/k8s/default.nix hands the modules
  platformSource,
  # more modules: ../k8s/envs/<env>.nix, settings
  modules ? [ ],
}:
(lib.evalModules {
  modules = [
    { _module.args.platformSource = platformSource; }
    (
      { lib, ... }:
      {
        options = {
          nixidy = lib.mkOption {
            type = lib.types.attrsOf lib.types.anything;
            default = { };
          };
          applications = lib.mkOption {
            type = lib.types.attrsOf lib.types.anything;
            default = { };
          };
        };
      }
    )
    ../k8s/options.nix
    ../k8s/service.nix
  ]
  ++ modules;
}).config
