# Hands `platform.helm.releases` to nixidy's `applications.<app>.helm.releases`
# (chart downloaded and pinned by its hash) unless rendering is turned off:
# then the releases stay as data, which nix/k8s/render.sh writes to
# deploy/k8s/helm/<env>/ for review.
{ lib, config, ... }:
let
  cfg = config.platform.helm;
in
{
  config = lib.mkIf cfg.render {
    applications = lib.mkMerge (
      lib.mapAttrsToList (name: release: {
        ${release.app}.helm.releases.${name} = {
          chart = lib.helm.downloadHelmChart release.chart;
          inherit (release) values;
        };
      }) cfg.releases
    );
  };
}
