# The Helm charts the environments deploy, pinned by version and by the NAR
# hash of the unpacked chart (what nixidy's `lib.helm.downloadHelmChart`
# checks). Versions and hashes are those published by farcaller/nixhelm at
# commit 9ad01544c5b9dbb19e86238a0c56d2be7560746f (2025-03-22), which computes
# them with the same downloadHelmChart (NATS's aside: see there); they were
# not re-downloaded here (no network). A wrong hash fails
# `nix run .#gen-manifests` with the right one.
{
  traefik = {
    repo = "https://traefik.github.io/charts/";
    chart = "traefik";
    version = "34.4.1"; # Traefik v3.3.4
    chartHash = "sha256-72vmP8igomSy2y7YPQUfUFv9Wo72BIwVQnaqpYzqQ34=";
  };
  # Not in farcaller/nixhelm: version and hash as josh/nurpkgs publishes them
  # (pkgs/nats-io/nats-chart.nix at commit
  # face1d5ef5f56ca36429551712a02f43b496d4dd, 2026-06-11; its fetchhelm runs the
  # same `helm pull --untar` and hashes the directory the same way). The hash
  # was also reproduced here from nats-io/k8s's tag nats-2.14.2 (commit
  # 957650fba03e2e6ad8b5d54d66358f67a431157b), packaged as Helm packages it.
  nats = {
    repo = "https://nats-io.github.io/k8s/helm/charts/";
    chart = "nats";
    version = "2.14.2"; # NATS server 2.14.2
    chartHash = "sha256-X5sLK/cOg77H54rxxXENRa3WEH6uLIEkln91IU3YfuI=";
  };
  prometheus = {
    repo = "https://prometheus-community.github.io/helm-charts/";
    chart = "prometheus";
    version = "27.6.0"; # Prometheus v3.2.1
    chartHash = "sha256-rbk8lI/D9LlcO9YsxHuz6hLXYK+82jj2VCUXk4F/3AQ=";
  };
  grafana = {
    repo = "https://grafana.github.io/helm-charts/";
    chart = "grafana";
    version = "8.10.4"; # Grafana 11.5.2
    chartHash = "sha256-0ggKOW2CfzhkQP+aNuENnMT6re+KvUJsXnL9yTrs080=";
  };
  loki = {
    repo = "https://grafana.github.io/helm-charts/";
    chart = "loki";
    version = "6.28.0"; # Loki 3.4.2
    chartHash = "sha256-L5xzhkHsSS536S/Dn+/k7lSygkAu4/CReNhYWVZKrjk=";
  };
  promtail = {
    repo = "https://grafana.github.io/helm-charts/";
    chart = "promtail";
    version = "6.16.6"; # Promtail 3.0.0
    chartHash = "sha256-ZBhBI5iSpdE+q4fJY2jX2vhjYl9T0dnapNNiVzjJCac=";
  };
  tempo = {
    repo = "https://grafana.github.io/helm-charts/";
    chart = "tempo";
    version = "1.18.3"; # Tempo 2.7.1
    chartHash = "sha256-FzfLXPaKgLqH6Cdr8gF7tRGZo+5dPvQdRSFpMwH2A2U=";
  };
}
